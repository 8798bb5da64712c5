"""Cost as the data grows: one project's codes grow from 10,000 to 1,000,000, timed request by request.

The codes are seeded straight into PostgreSQL by one ``INSERT ... SELECT`` over ``generate_series``
(seconds for a million rows; through the API it would take minutes). Code number ``i`` is
``seeded_code(i)``, six hex digits, which are valid alphanumeric codes, so the harness knows every
code without reading them back, and generate's free-space check counts them.

At each size one client sends requests one after the other (latency, not throughput): in each
round, a claim of an unclaimed code, a lookup of a random code, the first page of the listing and
a page half-way down it (a real cursor), taken in turns so that drift in the machine's load falls
on every operation alike; after the rounds, generate 1,000 codes a few times, each batch deleted
again so the project keeps its size.

The sizes are measured a minute apart, and on a shared machine the load can change more than the
data does in that minute. So at the larger size a second project, holding the smaller number of
codes, is measured in the same rounds, request for request: its ratio is free of that drift.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg

from bench.floor import libpq_url
from bench.report import Latencies
from shared.records import encode_cursor

# i -> i * MULTIPLIER mod 16**6 is one-to-one (the multiplier is odd): distinct codes that look random.
MULTIPLIER = 2654435761
SPACE = 16**6
PAGE = 100
GENERATE_AMOUNT = 1_000
OPERATIONS = ("claim", "lookup", "list_first_page", "list_deep_page", "generate_1k")

SEED = (
    "INSERT INTO codes (project_id, code, type, allowed_claims, claims, created_at, updated_at)"
    f" SELECT %(project_id)s, lpad(to_hex(mod(i * {MULTIPLIER}, {SPACE})), 6, '0'),"
    " 'alphanumeric', 1, 0, %(now)s, %(now)s"
    " FROM generate_series(%(start)s::bigint, %(stop)s::bigint - 1) AS i"
)

# (method, path, body, key) -> (status, body): a gunicorn server's or a test client's.
Request = Callable[[str, str, dict | None, str], tuple[int, bytes]]


def seeded_code(number: int) -> str:
    """The code that ``seed_codes`` stores as number ``number`` (what the SQL above computes)."""
    return f"{number * MULTIPLIER % SPACE:06x}"


def seed_codes(conninfo: str, project_id: int, start: int, stop: int, *, parts: int = 2) -> None:
    """Store codes number ``start`` to ``stop - 1`` in the project, then vacuum, analyze and checkpoint.

    ``parts`` connections insert a share each, side by side: most of the work is the indexes', and
    a second core halves it. What follows the insert gives the table what autovacuum and the
    checkpointer would within a few minutes: the visibility map, statistics (so the plans measured
    are the ones a table of this size keeps), and its pages written out. A checkpoint running
    during the measurement makes commits wait on the disk: claims at 1M had a p99 of 90 ms without it.
    """
    if stop > SPACE:
        raise ValueError(f"at most {SPACE:,} seeded codes")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def insert(bounds: tuple[int, int]) -> None:
        with psycopg.connect(conninfo) as conn, conn.transaction():
            # The project row exists: checking the foreign key for each of a million rows would
            # take more time than storing them.
            _if_permitted(conn, "SET LOCAL session_replication_role = replica")
            conn.execute(SEED, {"project_id": project_id, "now": now, "start": bounds[0], "stop": bounds[1]})

    edges = [start + (stop - start) * part // parts for part in range(parts + 1)]
    with ThreadPoolExecutor(parts) as pool:
        list(pool.map(insert, itertools.pairwise(edges)))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) codes")
        _if_permitted(conn, "CHECKPOINT")


def _if_permitted(conn: psycopg.Connection, statement: str) -> None:
    """Run a statement for superusers (or roles granted it); without the right, go on without."""
    try:
        with conn.transaction():
            conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        pass


class Project:
    """A project of seeded codes and the requests that time its operations, in milliseconds."""

    def __init__(
        self, database_url: str, project_id: int, *, public_key: str, secret_key: str, request: Request
    ):
        self.conninfo = libpq_url(database_url)
        self.conn = psycopg.connect(self.conninfo, autocommit=True)
        self.project_id = project_id
        self.public_key = public_key
        self.secret_key = secret_key
        self.request = request
        self.size = 0
        self.rng = random.Random(project_id)
        self.claimed: set[int] = set()
        self.emails = itertools.count()

    def grow_to(self, size: int) -> float:
        """Seed the codes up to ``size``; the seconds it took."""
        began = time.perf_counter()
        seed_codes(self.conninfo, self.project_id, self.size, size)
        self.size = size
        return time.perf_counter() - began

    def close(self) -> None:
        self.conn.close()

    def operations(self) -> dict[str, Callable[[], float]]:
        """Every operation but generate, each a call that times one request."""
        low, high = self.conn.execute(
            "SELECT min(id), max(id) FROM codes WHERE project_id = %s", (self.project_id,)
        ).fetchone()
        deep_cursor = encode_cursor((low + high) // 2)
        return {
            "claim": self.claim,
            "lookup": self.lookup,
            "list_first_page": lambda: self.list_page(None),
            "list_deep_page": lambda: self.list_page(deep_cursor),
        }

    def timed(self, method: str, path: str, body: dict | None, key: str) -> tuple[float, dict]:
        began = time.perf_counter()
        status, payload = self.request(method, path, body, key)
        elapsed_ms = (time.perf_counter() - began) * 1000
        if status != 200:
            raise RuntimeError(f"{method} {path} answered {status}: {payload[:300]!r}")
        return elapsed_ms, json.loads(payload)

    def claim(self) -> float:
        number = self.rng.randrange(self.size)
        while number in self.claimed:
            number = self.rng.randrange(self.size)
        self.claimed.add(number)
        body = {"code": seeded_code(number), "email": f"scale-{next(self.emails)}@bench.example"}
        return self.timed("POST", "/codes/claim", body, self.public_key)[0]

    def lookup(self) -> float:
        code = seeded_code(self.rng.randrange(self.size))
        return self.timed("GET", f"/codes/{code}", None, self.secret_key)[0]

    def list_page(self, cursor: str | None) -> float:
        path = f"/codes?limit={PAGE}" + (f"&cursor={cursor}" if cursor else "")
        elapsed_ms, body = self.timed("GET", path, None, self.secret_key)
        if len(body["data"]["items"]) != PAGE:
            raise RuntimeError(f"GET {path} gave {len(body['data']['items'])} codes, not {PAGE}")
        return elapsed_ms

    def generate(self) -> float:
        """Generate 1,000 codes, then delete them again (untimed): the project keeps its size."""
        last_seeded = self.conn.execute(
            "SELECT max(id) FROM codes WHERE project_id = %s", (self.project_id,)
        ).fetchone()[0]
        body = {"amount": GENERATE_AMOUNT, "type": "alphanumeric"}
        elapsed_ms, answer = self.timed("POST", "/codes/generate", body, self.secret_key)
        if len(answer["data"]) != GENERATE_AMOUNT:
            raise RuntimeError(f"generate gave {len(answer['data'])} codes, not {GENERATE_AMOUNT}")
        self.conn.execute(
            "DELETE FROM codes WHERE project_id = %s AND id > %s", (self.project_id, last_seeded)
        )
        return elapsed_ms


def measure(
    projects: dict[str, Project], *, rounds: int, requests_per_round: int, generates: int
) -> dict[str, dict[str, Latencies]]:
    """Warm up, then time every operation of every project, request for request in turns."""
    operations = {name: project.operations() for name, project in projects.items()}
    for calls in operations.values():
        for call in calls.values():
            for _ in range(5):
                call()
    latencies = {name: {operation: Latencies() for operation in OPERATIONS} for name in projects}
    for _ in range(rounds):
        samples = {name: {operation: [] for operation in calls} for name, calls in operations.items()}
        for _ in range(requests_per_round):
            for name, calls in operations.items():
                for operation, call in calls.items():
                    samples[name][operation].append(call())
        for name, by_operation in samples.items():
            for operation, values in by_operation.items():
                latencies[name][operation].rounds.append(values)
    # Generate last, its batches deleted, so no other operation sees them or their dead rows; each
    # request a round of its own, so the range by round is the range of requests.
    for project in projects.values():
        project.generate()
    for _ in range(generates):
        for name, project in projects.items():
            latencies[name]["generate_1k"].rounds.append([project.generate()])
    return latencies
