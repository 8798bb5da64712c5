"""The hand-out row: ``POST /codes/assign`` from one batch, 32 clients, ours against the floor.

Every run gets a batch of its own, larger than the run can hand out, made through the domain;
every request asks a code for a new email. After each run the batch is checked in one snapshot:
no email holds two codes (what the unique index promises) and no answered code is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psycopg

from bench import wrk
from bench.floor import libpq_url
from bench.report import Measurement

if TYPE_CHECKING:
    from bench.harness import Bench

# Codes per second of run a batch holds: several times what either contender reaches here.
CODES_PER_SECOND = 3000
SEED_CHUNK = 10_000


@dataclass
class HandOutChecks:
    """After each hand-out run: codes handed out, distinct emails holding them, 200 answers."""

    checks: list[dict] = field(default_factory=list)

    def add(self, label: str, assigned: int, emails: int, answered: int) -> None:
        self.checks.append(
            {
                "run": label,
                "assigned": assigned,
                "emails": emails,
                "answered": answered,
                "double_assignments": assigned - emails,
                # A 200 whose code is not recorded (wrk may not count answers still in flight at
                # the end, so more recorded than answered is no fault).
                "lost": max(answered - assigned, 0),
            }
        )

    @property
    def double_assignments(self) -> int:
        return sum(check["double_assignments"] for check in self.checks)

    @property
    def lost(self) -> int:
        return sum(check["lost"] for check in self.checks)


def check_batch(database_url: str, project_id: int, batch: str) -> tuple[int, int]:
    """(codes handed out, distinct emails holding them) in the batch, in one snapshot."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        assigned, emails = conn.execute(
            "SELECT count(*), count(DISTINCT assigned_email) FROM codes"
            " WHERE project_id = %s AND batch = %s AND assigned_at IS NOT NULL",
            (project_id, batch),
        ).fetchone()
    return int(assigned), int(emails)


def seed_batch(bench: Bench, project_id: int, batch: str, amount: int) -> None:
    from shared.codes import generate_codes

    made = 0
    while made < amount:
        with bench.seed.sessions() as session:
            size = min(SEED_CHUNK, amount - made)
            generate_codes(session, project_id, amount=size, code_type="alphanumeric", batch=batch)
            session.commit()
        made += size
    with bench.seed.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE codes")
        connection.commit()


def hand_out(bench: Bench, log: Callable[[str], None]) -> tuple[Measurement, HandOutChecks]:
    """Assigns per second from one batch, ours and the floor in turns, each run checked after."""
    s = bench.settings
    measurement, checks = Measurement(), HandOutChecks()
    size = max(SEED_CHUNK, int(s.seconds * CODES_PER_SECOND))

    def run(app: str, rep: int) -> Callable[[], None]:
        def go() -> None:
            label = f"handout-{app}-{rep}"
            batch = bench.prefix(label)
            seed_batch(bench, bench.project_id, batch, size)
            result = wrk.run(
                bench.servers[app].url,
                mode="assign",
                codes_file=bench.codes_file(label, [batch]),
                email_prefix=batch,
                key="" if app == "floor" else bench.keys.secret_key,
                connections=s.connections,
                threads=s.wrk_threads,
                seconds=s.seconds,
            )
            if result.failed:
                log_path = bench.servers[app].log_path
                raise RuntimeError(
                    f"{label}: {result.failed} failed requests: {result.errors}; see {log_path}"
                )
            assigned, emails = check_batch(bench.database_url, bench.project_id, batch)
            checks.add(label, assigned, emails, result.ok_requests)
            if assigned >= size:
                raise RuntimeError(f"{label}: the batch of {size:,} ran out; raise CODES_PER_SECOND")
            getattr(measurement, app).add(result.rps, result.p50_ms, result.p99_ms)
            log(
                f"{label}: {result.rps:,.0f}/s p50 {result.p50_ms:.1f} ms p99 {result.p99_ms:.1f} ms, "
                f"{assigned:,} codes to {emails:,} emails"
            )

        return go

    for rep in range(s.reps):
        bench.alternate(rep, {"ours": run("ours", rep), "floor": run("floor", rep)})
    return measurement, checks
