"""The database's own limit: the floor's claim transaction from Python threads, no HTTP at all."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass

import psycopg

from bench.floor import claim_transaction, libpq_url
from bench.stats import percentile


@dataclass(frozen=True)
class RawRun:
    transactions: int
    refused: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def tps(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0


def claim_loop(
    database_url: str, project_id: int, codes: list[str], *, clients: int, seconds: float, email_prefix: str
) -> RawRun:
    """``clients`` threads, one connection each, claiming ``codes`` round-robin for ``seconds``.

    Every claim has a unique email. Returns committed transactions per second and their latency.
    """
    conninfo = libpq_url(database_url)
    connections = [psycopg.connect(conninfo) for _ in range(clients)]
    start_line = threading.Barrier(clients + 1)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    refused = [0] * clients
    errors: list[BaseException] = []
    deadline = [0.0]

    def worker(index: int) -> None:
        conn = connections[index]
        mine = latencies[index]
        code_at = itertools.cycle(codes[index % len(codes) :] + codes[: index % len(codes)])
        try:
            start_line.wait()
            for n in itertools.count():
                began = time.perf_counter()
                if began >= deadline[0]:
                    break
                result = claim_transaction(
                    conn, project_id, next(code_at), f"{email_prefix}-{index}-{n}@bench.example"
                )
                if result is None:
                    refused[index] += 1
                else:
                    mine.append(time.perf_counter() - began)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start_line.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    for conn in connections:
        conn.close()
    if errors:
        raise RuntimeError(f"raw claim loop failed: {errors[0]!r}") from errors[0]
    every = sorted(itertools.chain.from_iterable(latencies))
    return RawRun(
        transactions=len(every),
        refused=sum(refused),
        seconds=elapsed,
        p50_ms=percentile(every, 50) * 1000,
        p99_ms=percentile(every, 99) * 1000,
    )
