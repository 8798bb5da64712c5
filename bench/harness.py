"""``python -m bench``: the API against its floor, side by side, on a fresh PostgreSQL database.

One run creates a database (``codes_bench_<random>``) next to ``BENCH_DATABASE_URL``, migrates it,
starts three gunicorn servers on loopback with the same configuration (the API, ``wsgi:app``, the
floor, ``bench.floor``, and the API again with its rate limits on, counted in Redis:
``bench.production``), and then, repeating each measurement and alternating the contenders:

1. hot claims: one code with an enormous allowedClaims, 32 clients, unique emails;
2. spread claims over 10,000 codes;
3. lookups, ``GET /codes/<code>``;
4. generating 10,000 codes in one request, against ``bench.generate_floor``;
5. after each claim run, claim rows == counter <= allowedClaims for every code it touched, and a
   run against a code with 50 claims where the cap must hold exactly;
6. cost as the data grows: one project of 10,000 then 1,000,000 codes seeded in SQL, the latency
   of claim, lookup, listing and generate at each size (``bench.scale``);
7. hand-out: ``POST /codes/assign`` from one batch, a new email each time, and after each run no
   email holding two codes (``bench.handout``).

The claim runs also measure the raw database: the floor's transaction from Python threads. It
prints the tables, writes bench/results/latest.json, stops the servers and drops the database.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench import raw_db, wrk
from bench.floor import libpq_url
from bench.generate_floor import timed_generate
from bench.handout import hand_out
from bench.production import DEFAULT_REDIS_URL, Counters, RedisUnreachable, limited_app, limited_env
from bench.report import Correctness, Measurement, Results, Scale, write_json
from bench.scale import Project, measure

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
HOT_ALLOWED = 2_000_000_000
SPREAD_ALLOWED = 1_000_000
CAP_ALLOWED = 50
CAP_MAX_SECONDS = 15
GUNICORN_CONFIG = Path(__file__).resolve().parent / "gunicorn_conf.py"


@dataclass(frozen=True)
class Settings:
    seconds: float
    reps: int
    warmup: float
    connections: int
    wrk_threads: int
    workers: int
    worker_class: str
    threads: int
    spread_codes: int
    generate_amount: int
    database_url: str
    redis_url: str
    # Cost as the data grows: the project's sizes; at each, scale_rounds rounds of scale_requests
    # sequential requests per operation (taken in turns), then generate 1,000 scale_generates times.
    scale_sizes: tuple[int, ...]
    scale_rounds: int
    scale_requests: int
    scale_generates: int
    output: Path
    label: str
    # The bench project has a webhook endpoint, so every claim also writes its event.
    webhook: bool = False

    def gunicorn_args(self) -> list[str]:
        return [
            "--workers",
            str(self.workers),
            "--worker-class",
            self.worker_class,
            "--threads",
            str(self.threads),
        ]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the database ------------------------------------------------------------------------------


@contextlib.contextmanager
def bench_database(base_url: str) -> Iterator[str]:
    """A fresh database beside ``base_url``, migrated with the project's own migrations; dropped after."""
    base = make_url(base_url)
    if base.get_backend_name() != "postgresql":
        raise SystemExit("the benchmark needs PostgreSQL: set BENCH_DATABASE_URL=postgresql+psycopg://...")
    admin = libpq_url(base.set(drivername="postgresql").render_as_string(hide_password=False))
    name = f"codes_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    try:
        migrated = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=_app_env(url),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if migrated.returncode != 0:
            raise RuntimeError(f"migrating the bench database failed:\n{migrated.stderr[-3000:]}")
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _app_env(database_url: str, instance: str | None = None) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "RATELIMIT_ENABLED": "false", "PYTHONPATH": str(ROOT)}
    env["INSTANCE_DIR"] = instance or tempfile.gettempdir()
    return env


class Seed:
    """Projects and codes made through the domain's own services."""

    def __init__(self, database_url: str):
        from shared.db import make_engine, make_sessionmaker

        self.engine = make_engine(database_url)
        self.sessions = make_sessionmaker(self.engine)

    def project(self, name: str):
        from shared.projects import create_project

        with self.sessions() as session:
            project, keys = create_project(session, name)
            session.commit()
            return project.id, keys

    def codes(self, project_id: int, amount: int, allowed_claims: int) -> list[str]:
        from shared.codes import generate_codes

        with self.sessions() as session:
            records = generate_codes(
                session, project_id, amount=amount, code_type="alphanumeric", allowed_claims=allowed_claims
            )
            session.commit()
        if amount > 1:
            # Fresh statistics, as autovacuum would give a table this size within a minute: plans
            # cached while the table was small (a sequential scan) would otherwise skew the runs.
            with self.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE codes")
                connection.commit()
        return [record.code for record in records]

    def webhook(self, project_id: int) -> None:
        """An endpoint nobody listens at: no worker runs here, the events only accumulate."""
        from shared.webhooks.endpoints import add_endpoint

        with self.sessions() as session:
            add_endpoint(session, project_id, "http://127.0.0.1:9/bench", allow_private=True)
            session.commit()

    def close(self) -> None:
        self.engine.dispose()


def check_claims(database_url: str, project_id: int, codes: list[str]) -> dict:
    """Claim rows against the counter and allowedClaims, counted in one snapshot."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        row = conn.execute(
            "SELECT count(*),"
            " coalesce(sum(c.claims), 0),"
            " coalesce(sum(coalesce(k.n, 0)), 0),"
            " coalesce(sum(greatest(coalesce(k.n, 0) - least(c.claims, c.allowed_claims), 0)), 0),"
            " count(*) FILTER (WHERE c.claims <> coalesce(k.n, 0) OR c.claims > c.allowed_claims)"
            " FROM codes c LEFT JOIN ("
            "   SELECT code_id, count(*) AS n FROM claims GROUP BY code_id"
            " ) k ON k.code_id = c.id"
            " WHERE c.project_id = %s AND c.code = ANY(%s)",
            (project_id, codes),
        ).fetchone()
    found, counter, rows, over, mismatched = (int(value) for value in row)
    if found != len(set(codes)):
        raise RuntimeError(f"expected {len(set(codes))} codes, found {found}")
    return {"codes": found, "counter": counter, "rows": rows, "over_claims": over, "mismatched": mismatched}


# --- the servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn on a free loopback port, started at once (``wait_ready`` waits for it), stopped on exit."""

    def __init__(
        self, name: str, target: str, env: dict[str, str], settings: Settings, log_dir: Path, ready_path: str
    ):
        self.name = name
        self.ready_path = ready_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(GUNICORN_CONFIG),
            "--bind",
            f"127.0.0.1:{self.port}",
            *settings.gunicorn_args(),
            "--backlog",
            "2048",
            "--graceful-timeout",
            "5",
            target,
        ]
        with self.log_path.open("wb") as log_file:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _ = self.request("GET", self.ready_path)
                if status == 200:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not start:\n{self.log_path.read_text()[-3000:]}")

    def request(
        self, method: str, path: str, body: dict | None = None, key: str = "", timeout: float = 60
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"}
            if key:
                headers["Authorization"] = f"Bearer {key}"
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def stop(self) -> None:
        self.terminate()
        self.wait_stopped()

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()

    def wait_stopped(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- the run -----------------------------------------------------------------------------------


class Bench:
    def __init__(self, settings: Settings, database_url: str, workdir: Path):
        self.settings = settings
        self.database_url = database_url
        self.workdir = workdir
        self.seed = Seed(database_url)
        self.project_id, self.keys = self.seed.project("bench-claims")
        if settings.webhook:
            self.seed.webhook(self.project_id)
        self.correctness = Correctness()
        self.servers: dict[str, Server] = {}
        self.run_id = uuid.uuid4().hex[:8]
        self.limits_prefix = f"codes-bench-{self.run_id}"  # the rate limit counters' keys in Redis
        self.counters = Counters(settings.redis_url, self.limits_prefix)
        self._spread_codes: list[str] | None = None

    def start_servers(self) -> None:
        s = self.settings
        ours_env = _app_env(self.database_url, str(self.workdir))
        floor_env = {
            **ours_env,
            "FLOOR_DATABASE_URL": self.database_url,
            "FLOOR_PROJECT_ID": str(self.project_id),
            "FLOOR_POOL_SIZE": str(max(1, s.threads)),
        }
        self.servers["ours"] = Server("ours", "wsgi:app", ours_env, s, self.workdir, "/openapi.json")
        self.servers["floor"] = Server(
            "floor", "bench.floor:create_app()", floor_env, s, self.workdir, "/health"
        )
        self.counters.check_reachable()
        limited_target = limited_app(self.limits_prefix)
        limited_vars = limited_env(ours_env, s.redis_url)
        self.servers["limited"] = Server(
            "limited", limited_target, limited_vars, s, self.workdir, "/openapi.json"
        )
        # They boot side by side: imports are most of a server's start.
        for server in self.servers.values():
            server.wait_ready()

    def stop_servers(self) -> None:
        for server in self.servers.values():
            server.terminate()
        for server in self.servers.values():
            server.wait_stopped()

    def codes_file(self, name: str, codes: list[str]) -> Path:
        path = self.workdir / f"{name}.txt"
        path.write_text("\n".join(codes) + "\n")
        return path

    def prefix(self, label: str) -> str:
        return f"{label}-{self.run_id}"

    # Each contender runs in a different order in each repetition, so drift in the machine's
    # load does not always favour the same one.
    def alternate(self, rep: int, contenders: dict[str, Callable[[], None]]) -> None:
        names = list(contenders)
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            contenders[name]()

    # "ours" and "limited" are the API (limits off and on); the floor takes no key.
    def wrk_claims(self, app: str, codes_path: Path, label: str, seconds: float) -> wrk.WrkRun:
        key = "" if app == "floor" else self.keys.public_key
        return wrk.run(
            self.servers[app].url,
            mode="claim",
            codes_file=codes_path,
            email_prefix=self.prefix(label),
            key=key,
            connections=self.settings.connections,
            threads=self.settings.wrk_threads,
            seconds=seconds,
        )

    def record_check(self, label: str, codes: list[str]) -> None:
        check = check_claims(self.database_url, self.project_id, codes)
        self.correctness.add(
            label, check["codes"], check["rows"], check["counter"], check["over_claims"], check["mismatched"]
        )
        if check["over_claims"] or check["mismatched"]:
            log(f"CORRECTNESS FAILURE after {label}: {check}")

    def warm_up(self) -> None:
        s = self.settings
        codes = self.seed.codes(self.project_id, 100, SPREAD_ALLOWED)
        path = self.codes_file("warmup", codes)
        for app in ("ours", "floor", "limited"):
            self.wrk_claims(app, path, f"warm-{app}", s.warmup)
            wrk.run(
                self.servers[app].url,
                mode="lookup",
                codes_file=path,
                key="" if app == "floor" else self.keys.secret_key,
                connections=s.connections,
                threads=s.wrk_threads,
                seconds=s.warmup,
            )
        self.record_check("warm-up", codes)

    def claims(self, name: str, code_sets: Callable[[str], list[str]]) -> Measurement:
        s = self.settings
        measurement = Measurement()

        def app_run(app: str, rep: int) -> Callable[[], None]:
            def go() -> None:
                codes = code_sets(app)
                label = f"{name}-{app}-{rep}"
                result = self.wrk_claims(app, self.codes_file(label, codes), label, s.seconds)
                if result.failed:
                    raise RuntimeError(
                        f"{label}: {result.failed} failed requests: {result.errors}; "
                        f"see {self.servers[app].log_path}"
                    )
                getattr(measurement, app).add(result.rps, result.p50_ms, result.p99_ms)
                self.record_check(label, codes)
                log(f"{label}: {result.rps:,.0f}/s p50 {result.p50_ms:.1f} ms p99 {result.p99_ms:.1f} ms")

            return go

        def raw_run(rep: int) -> Callable[[], None]:
            def go() -> None:
                codes = code_sets("raw")
                label = f"{name}-raw-{rep}"
                result = raw_db.claim_loop(
                    self.database_url,
                    self.project_id,
                    codes,
                    clients=s.connections,
                    seconds=s.seconds,
                    email_prefix=self.prefix(label),
                )
                measurement.raw.add(result.tps, result.p50_ms, result.p99_ms)
                self.record_check(label, codes)
                log(f"{label}: {result.tps:,.0f}/s p50 {result.p50_ms:.1f} ms p99 {result.p99_ms:.1f} ms")

            return go

        for rep in range(s.reps):
            self.alternate(
                rep,
                {
                    "ours": app_run("ours", rep),
                    "floor": app_run("floor", rep),
                    "raw": raw_run(rep),
                    "limited": app_run("limited", rep),
                },
            )
        return measurement

    def claim_hot(self) -> Measurement:
        # A fresh code for every run, so no run inherits another's dead row versions.
        return self.claims("hot", lambda app: self.seed.codes(self.project_id, 1, HOT_ALLOWED))

    def spread_codes(self) -> list[str]:
        """The 10,000 codes that spread claims and lookups use, made once (every email is unique)."""
        if self._spread_codes is None:
            self._spread_codes = self.seed.codes(self.project_id, self.settings.spread_codes, SPREAD_ALLOWED)
        return self._spread_codes

    def claim_spread(self) -> Measurement:
        codes = self.spread_codes()
        return self.claims("spread", lambda app: codes)

    def lookup(self) -> Measurement:
        s = self.settings
        path = self.codes_file("lookup", self.spread_codes())
        measurement = Measurement()

        def run(app: str, rep: int) -> Callable[[], None]:
            def go() -> None:
                key = "" if app == "floor" else self.keys.secret_key
                result = wrk.run(
                    self.servers[app].url,
                    mode="lookup",
                    codes_file=path,
                    key=key,
                    connections=s.connections,
                    threads=s.wrk_threads,
                    seconds=s.seconds,
                )
                if result.failed:
                    raise RuntimeError(f"lookup {app}: {result.failed} failed requests: {result.errors}")
                getattr(measurement, app).add(result.rps, result.p50_ms, result.p99_ms)
                log(
                    f"lookup-{app}-{rep}: {result.rps:,.0f}/s p50 {result.p50_ms:.1f} ms "
                    f"p99 {result.p99_ms:.1f} ms"
                )

            return go

        for rep in range(s.reps):
            self.alternate(
                rep, {"ours": run("ours", rep), "floor": run("floor", rep), "limited": run("limited", rep)}
            )
        return measurement

    def check_counted(self) -> None:
        """The API with limits on counted in Redis (not in memory, its fallback when Redis fails)."""
        if not self.counters.keys():
            raise RuntimeError(
                f"the API with rate limits on left no counters in {self.settings.redis_url}: "
                f"see {self.servers['limited'].log_path}"
            )

    def generate(self) -> Measurement:
        s = self.settings
        ours_project, ours_keys = self.seed.project("bench-generate-ours")
        floor_project, _ = self.seed.project("bench-generate-floor")
        measurement = Measurement()
        conn = psycopg.connect(libpq_url(self.database_url))

        def ours(amount: int) -> float:
            began = time.perf_counter()
            status, body = self.servers["ours"].request(
                "POST",
                "/codes/generate",
                {"amount": amount, "type": "alphanumeric"},
                key=ours_keys.secret_key,
            )
            elapsed = time.perf_counter() - began
            if status != 200 or len(json.loads(body)["data"]) != amount:
                raise RuntimeError(f"generate answered {status}: {body[:500]!r}")
            return elapsed

        def floor(amount: int) -> float:
            return timed_generate(conn, floor_project, amount)

        try:
            # Warm: imports, prepared statements, the first connection of each worker.
            for _ in range(s.workers):
                ours(100)
            floor(100)

            def run(contender: str, rep: int) -> Callable[[], None]:
                def go() -> None:
                    seconds = (ours if contender == "ours" else floor)(s.generate_amount)
                    getattr(measurement, contender).add(seconds)
                    log(f"generate-{contender}-{rep}: {seconds:.3f} s")

                return go

            for rep in range(s.reps):
                self.alternate(rep, {"ours": run("ours", rep), "floor": run("floor", rep)})
        finally:
            conn.close()
        return measurement

    def cap(self) -> None:
        """More claimers than claims: the cap must hold exactly, through each contender."""
        s = self.settings
        for contender in ("ours", "floor", "raw"):
            codes = self.seed.codes(self.project_id, 1, CAP_ALLOWED)
            label = f"cap-{contender}"
            deadline = time.monotonic() + CAP_MAX_SECONDS
            # Claim until the code is full (32 clients keep racing for the last claims).
            for round_number in itertools.count():
                if contender == "raw":
                    raw_db.claim_loop(
                        self.database_url,
                        self.project_id,
                        codes,
                        clients=s.connections,
                        seconds=1,
                        email_prefix=self.prefix(f"{label}-{round_number}"),
                    )
                else:
                    self.wrk_claims(contender, self.codes_file(label, codes), f"{label}-{round_number}", 1)
                check = check_claims(self.database_url, self.project_id, codes)
                if check["counter"] >= CAP_ALLOWED or time.monotonic() > deadline:
                    break
            if check["counter"] < CAP_ALLOWED:
                log(f"{label}: only {check['counter']} of {CAP_ALLOWED} claims taken in {CAP_MAX_SECONDS} s")
            self.record_check(label, codes)

    def scale(self) -> Scale:
        """Cost as the data grows: one project at each size, through the API with limits off.

        At every size after the first, a project of the first size is measured in the same rounds.
        """
        s = self.settings

        def project(name: str) -> Project:
            project_id, keys = self.seed.project(name)
            return Project(
                self.database_url,
                project_id,
                public_key=keys.public_key,
                secret_key=keys.secret_key,
                request=self.servers["ours"].request,
            )

        sizes = sorted(s.scale_sizes)
        growing, reference = project("bench-scale"), project("bench-scale-reference")
        result = Scale()
        try:
            for size in sizes:
                result.seed_seconds[size] = growing.grow_to(size)
                log(f"scale: {size:,} codes seeded in {result.seed_seconds[size]:.1f} s")
                projects = {"growing": growing}
                if size > sizes[0]:
                    if reference.size == 0:
                        reference.grow_to(sizes[0])
                    projects["reference"] = reference
                measured = measure(
                    projects,
                    rounds=s.scale_rounds,
                    requests_per_round=s.scale_requests,
                    generates=s.scale_generates,
                )
                result.sizes[size] = measured["growing"]
                if "reference" in measured:
                    result.beside[size] = measured["reference"]
                log(
                    f"scale {size:,}: p50 "
                    + ", ".join(
                        f"{name} {latencies.percentile(50):.1f} ms"
                        for name, latencies in measured["growing"].items()
                    )
                )
        finally:
            growing.close()
            reference.close()
        return result

    def close(self) -> None:
        self.stop_servers()
        self.seed.close()
        try:
            self.counters.delete()
        finally:
            self.counters.close()


def machine_description(database_url: str, settings: Settings) -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    with psycopg.connect(libpq_url(database_url)) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, {os.cpu_count()} cores ({cpu})"
        f"{memory}, PostgreSQL {server.split()[0]} on loopback, Python {platform.python_version()}, "
        f"gunicorn {settings.worker_class} -w {settings.workers}"
        f"{f' --threads {settings.threads}' if settings.threads > 1 else ''}, "
        f"wrk -c {settings.connections}{load} at start"
    )


def run(settings: Settings) -> Results:
    wrk.wrk_path()
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="codes-bench-") as tmp,
        bench_database(settings.database_url) as url,
    ):
        log(f"database ready ({time.monotonic() - started:.1f} s)")
        machine = machine_description(url, settings)
        bench = Bench(settings, url, Path(tmp))
        try:
            bench.start_servers()
            log(f"servers up: ours {bench.servers['ours'].url}, floor {bench.servers['floor'].url}")
            bench.warm_up()
            hot = bench.claim_hot()
            spread = bench.claim_spread()
            lookups = bench.lookup()
            bench.check_counted()
            generated = bench.generate()
            bench.cap()
            handed, handed_checks = hand_out(bench, log)
            scale = bench.scale()
        finally:
            bench.close()
    log(f"done in {time.monotonic() - started:.0f} s")
    return Results(
        claim_hot=hot,
        claim_spread=spread,
        lookup=lookups,
        generate_10k=generated,
        correctness=bench.correctness,
        scale=scale,
        hand_out=handed,
        hand_out_checks=handed_checks,
        machine=machine,
        when=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        settings={
            **asdict(settings),
            "output": str(settings.output),
            "database_url": make_url(settings.database_url).render_as_string(hide_password=True),
        },
    )


def parse_args(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, under 3 minutes in all")
    parser.add_argument("--seconds", type=float, help="length of each load run (default 8, quick 2)")
    parser.add_argument("--reps", type=int, help="repetitions, at least 3 (default 5, quick 3)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent clients")
    parser.add_argument("--wrk-threads", type=int, default=2)
    # Issue 7's reference configuration; the API serves as fast with gthread -w 2 --threads 4
    # (docs/performance.md compares the two). Both servers always get the same.
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, for both servers")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class, for both servers")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    parser.add_argument(
        "--webhook",
        action="store_true",
        help="give the bench project a webhook endpoint (claims write events)",
    )
    args = parser.parse_args(argv)
    reps = args.reps or (3 if args.quick else 5)
    if reps < 3:
        parser.error("--reps must be at least 3: a median of fewer says little")
    seconds = args.seconds or (2.0 if args.quick else 8.0)
    return Settings(
        seconds=seconds,
        reps=reps,
        warmup=1.0 if args.quick else 3.0,
        connections=args.connections,
        wrk_threads=args.wrk_threads,
        workers=args.workers,
        worker_class=args.worker_class,
        threads=args.threads,
        spread_codes=10_000,
        generate_amount=10_000,
        database_url=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE,
        redis_url=os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL,
        scale_sizes=(10_000, 1_000_000),
        scale_rounds=reps,
        scale_requests=15 if args.quick else 100,
        scale_generates=3 if args.quick else 10,
        output=args.output,
        label=("quick" if args.quick else "full") + (" +webhook" if args.webhook else ""),
        webhook=args.webhook,
    )


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    try:
        results = run(settings)
    except (wrk.WrkMissing, RedisUnreachable) as exc:
        print(exc, file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:
        print(
            f"PostgreSQL is unreachable at {make_url(settings.database_url)!r} "
            f"(set BENCH_DATABASE_URL): {exc}",
            file=sys.stderr,
        )
        return 2
    print(results.table())
    write_json(settings.output, results.latest())
    write_json(settings.output.with_name(settings.output.stem + "-full.json"), results.full())
    print(f"\nwrote {settings.output} (and {settings.output.stem}-full.json beside it)")
    if results.correctness.over_claims or results.correctness.mismatched:
        print("CORRECTNESS FAILURE: see the over-claims row", file=sys.stderr)
        return 1
    if results.hand_out_checks.double_assignments or results.hand_out_checks.lost:
        print("CORRECTNESS FAILURE: see the double assignments row", file=sys.stderr)
        return 1
    return 0
