"""CPU per request, ours against the floor, with no HTTP server and no load generator.

Both WSGI apps are called in this process with prepared requests, in alternating batches, and the
process's CPU time per request is taken for each batch; the medians are printed. It leaves out
what both pay alike (gunicorn, the network, wrk) and the database's own time, so it isolates what
our layers cost, and it holds still far better than a load test on a shared machine:

    python -m bench.cpu [--batch 300] [--rounds 15] [--limits]

``--limits`` compares ours with rate limits on (counted in Redis, every limit raised, as the
production row of ``make bench``) against ours with them off, instead of ours against the floor.

Needs PostgreSQL as ``make bench`` does (``BENCH_DATABASE_URL``), and Redis for ``--limits``
(``BENCH_REDIS_URL``); a fresh database is made and dropped.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable

from bench.harness import DEFAULT_DATABASE, Seed, bench_database
from bench.production import DEFAULT_REDIS_URL, LIMIT_SETTINGS, RAISED_LIMIT, Counters


def environ(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> dict:
    """A WSGI environ as gunicorn would build it."""
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
        env["CONTENT_TYPE"] = "application/json"
    for name, value in (headers or {}).items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def call(app, env: dict) -> tuple[str, bytes]:
    statuses: list[str] = []
    body = b"".join(app(env, lambda status, headers, exc_info=None: statuses.append(status)))
    return statuses[0], body


def median_cpu_us(
    apps: dict[str, Callable], make: Callable[[str], dict], *, batch: int, rounds: int
) -> dict[str, float]:
    """Median CPU microseconds per request of each app, batches alternating in order."""
    samples: dict[str, list[float]] = {name: [] for name in apps}
    names = list(apps)
    for name in names:  # warm up: prepared statements, caches, lazy imports
        for _ in range(50):
            call(apps[name], make(name))
    for round_ in range(rounds):
        for name in names if round_ % 2 else reversed(names):
            started = time.process_time()
            for _ in range(batch):
                status, body = call(apps[name], make(name))
                if not status.startswith("200"):
                    raise RuntimeError(f"{name}: {status} {body[:300]!r}")
            samples[name].append((time.process_time() - started) / batch * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def run(
    database_url: str, *, batch: int, rounds: int, limits_redis_url: str | None = None
) -> dict[str, dict[str, float]]:
    """Medians per operation and app: ours and the floor, or with ``limits_redis_url`` ours with
    rate limits off and on."""
    with bench_database(database_url) as url:
        seed = Seed(url)
        project_id, keys = seed.project("cpu")
        hot = seed.codes(project_id, 1, 2_000_000_000)[0]
        spread = seed.codes(project_id, 2_000, 1_000)
        seed.close()
        os.environ.update(DATABASE_URL=url, RATELIMIT_ENABLED="false")
        from api import create_app
        from bench.floor import create_app as create_floor

        counters = None
        if limits_redis_url:
            prefix = f"codes-bench-cpu-{uuid.uuid4().hex[:8]}"
            counters = Counters(limits_redis_url, prefix)
            counters.check_reachable()
            limited = {
                "RATELIMIT_ENABLED": True,
                "REDIS_URL": limits_redis_url,
                "RATELIMIT_KEY_PREFIX": prefix,
                **dict.fromkeys(LIMIT_SETTINGS, RAISED_LIMIT),
            }
            apps = {"limits on": create_app(limited), "limits off": create_app()}
        else:
            apps = {"ours": create_app(), "floor": create_floor(url, project_id, 2)}
        counter = itertools.count()

        def claim(name: str) -> dict:
            body = json.dumps({"code": hot, "email": f"cpu-{next(counter)}@bench.example"}).encode()
            headers = {"Authorization": f"Bearer {keys.public_key}"} if name != "floor" else {}
            return environ("POST", "/codes/claim", body, headers)

        def lookup(name: str) -> dict:
            headers = {"Authorization": f"Bearer {keys.secret_key}"} if name != "floor" else {}
            return environ("GET", f"/codes/{spread[next(counter) % len(spread)]}", headers=headers)

        try:
            return {
                "claim": median_cpu_us(apps, claim, batch=batch, rounds=rounds),
                "lookup": median_cpu_us(apps, lookup, batch=batch, rounds=rounds),
            }
        finally:
            if "floor" in apps:
                apps["floor"].extensions["floor_pool"].close()
            if counters is not None:
                counters.delete()
                counters.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=300, help="requests per batch (300)")
    parser.add_argument("--rounds", type=int, default=15, help="batches per app (15)")
    parser.add_argument("--limits", action="store_true", help="ours with rate limits on (Redis) against off")
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE
    redis_url = (os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL) if args.limits else None
    results = run(url, batch=args.batch, rounds=args.rounds, limits_redis_url=redis_url)
    print("CPU per request, in process (median of batches)")
    for operation, medians in results.items():
        (first, base), (second, other) = medians.items()
        print(
            f"  {operation:<7} {first} {base:6.0f} us   {second} {other:6.0f} us   "
            f"{first}/{second} {base / other:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
