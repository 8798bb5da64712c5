"""The services as the containers run them: gunicorn with gunicorn.conf.py, the image's healthcheck,
and the email worker, each writing JSON log lines with request ids and masked emails."""

from __future__ import annotations

import json
import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import flask_migrate
import pytest
import requests

from api import create_app
from shared.codes import generate_codes, send_code
from shared.db import make_engine, make_sessionmaker
from shared.projects import create_project
from tests.support import ROOT, Gunicorn, free_port, subprocess_env

pytestmark = pytest.mark.slow  # real processes: gunicorn, the worker, kill -9

CONF = ROOT / "gunicorn.conf.py"
SECRET_LOOKALIKE = "sk_" + "5e" * 24


def _json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON log line: {line!r}")
    return events


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory) -> tuple[str, Path]:
    """A SQLite database built by the migrations, and an instance directory for the processes."""
    instance = tmp_path_factory.mktemp("instance")
    url = f"sqlite:///{instance / 'codes.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        flask_migrate.upgrade()
        from api.extensions import db

        db.engine.dispose()
    return url, instance


def _service_env(url: str, instance: Path, **extra: str) -> dict[str, str]:
    env = subprocess_env(DATABASE_URL=url, INSTANCE_DIR=str(instance), LOG_LEVEL="INFO", **extra)
    for name in ("SMTP_HOST", "WEB_CONCURRENCY", "PORT", "GUNICORN_CMD_ARGS"):
        env.pop(name, None)
    env.update(extra)
    return env


# --- gunicorn.conf.py -------------------------------------------------------------------------


def _load_conf(monkeypatch, **env: str) -> dict:
    for name in ("PORT", "WEB_CONCURRENCY", "WEB_THREADS", "WEB_TIMEOUT", "LOG_LEVEL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("RATELIMIT_ENABLED", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_the_config_follows_the_settings(monkeypatch):
    conf = _load_conf(
        monkeypatch,
        PORT="9100",
        WEB_CONCURRENCY="3",
        WEB_THREADS="8",
        WEB_TIMEOUT="45",
        LOG_LEVEL="warning",
        REDIS_URL="redis://redis:6379/0",
    )
    assert conf["bind"] == ["0.0.0.0:9100"]
    assert (conf["workers"], conf["threads"], conf["timeout"]) == (3, 8, 45)
    assert conf["worker_class"] == "gthread"
    assert 0 < conf["graceful_timeout"] < 30
    assert conf["loglevel"] == "warning"
    assert conf["logconfig_dict"]["formatters"]["json"]["service"] == "api"


def test_without_redis_one_process_serves_so_the_limits_count_exactly(monkeypatch):
    # The rate limits count in each process's memory: one process, however many were asked for.
    assert _load_conf(monkeypatch)["workers"] == 1
    assert _load_conf(monkeypatch, WEB_CONCURRENCY="3")["workers"] == 1
    # With the limits off there is nothing to count.
    assert _load_conf(monkeypatch, WEB_CONCURRENCY="3", RATELIMIT_ENABLED="false")["workers"] == 3
    # Nor is that process recycled: a recycle would start every counter again at zero.
    assert _load_conf(monkeypatch)["max_requests"] == 0
    assert _load_conf(monkeypatch, REDIS_URL="redis://redis:6379/0")["max_requests"] > 0
    # --workers on the command line too (the nworkers_changed hook): tests/api/test_limit_bursts.py
    # runs make run's command with GUNICORN_CMD_ARGS="--workers 3" and finds one worker; below,
    # a reload and SIGTTIN keep it at one.


def test_workers_default_to_the_cpus_available(monkeypatch, tmp_path):
    conf = _load_conf(monkeypatch, REDIS_URL="redis://redis:6379/0")
    available = conf["available_cpus"]
    assert conf["workers"] == 2 * available() + 1
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("50000 100000\n")  # docker run --cpus=0.5
    assert available(cpu_max) == 1
    cpu_max.write_text("max 100000\n")  # no quota
    assert available(cpu_max) == len(os.sched_getaffinity(0))
    assert available(tmp_path / "missing") == len(os.sched_getaffinity(0))


def test_gunicorn_accepts_the_config_and_loads_the_app(migrated_sqlite):
    url, instance = migrated_sqlite
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "--config", str(CONF), "wsgi:app"],
        cwd=ROOT,
        env=_service_env(url, instance),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]


# --- a real server ----------------------------------------------------------------------------


def _healthcheck(port: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "docker/healthcheck.py"],
        cwd=ROOT,
        env={**os.environ, "PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _workers(master: int) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def _settles_at_one_worker(master: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_workers(master)) == 1:
            time.sleep(1)  # and stays there: no second process comes up a moment later
            if len(_workers(master)) == 1:
                return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_without_redis_a_reload_or_sigttin_never_serves_a_second_process(migrated_sqlite, tmp_path):
    url, instance = migrated_sqlite
    port = free_port()
    env = _service_env(url, instance, PORT=str(port), GUNICORN_CMD_ARGS="--workers 3")
    server = Gunicorn(env=env, log_path=tmp_path / "gunicorn.log", args=("--config", str(CONF)), port=port)
    with server:
        master = server.process.pid
        assert _settles_at_one_worker(master)
        first = _workers(master)
        server.process.send_signal(signal.SIGHUP)  # a reload reads --workers 3 again
        assert _settles_at_one_worker(master) and _workers(master) != first
        server.process.send_signal(signal.SIGTTIN)  # one more worker, please
        time.sleep(1)
        assert _settles_at_one_worker(master)
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200


def test_gunicorn_serves_probes_writes_json_logs_and_stops_gracefully(migrated_sqlite, tmp_path):
    url, instance = migrated_sqlite
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    env = _service_env(url, instance, PORT=str(port), WEB_CONCURRENCY="1", WEB_THREADS="2")
    server = Gunicorn(env=env, log_path=log_path, args=("--config", str(CONF)), port=port, start_timeout=90)
    base = server.url
    try:
        server.start()
        ready = requests.get(base + "/readyz", headers={"X-Request-ID": "probe-1"}, timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["data"]["status"] == "ready"
        assert ready.headers["X-Request-ID"] == "probe-1"
        refused = requests.get(
            base + "/codes",
            params={"reservedFor": "alice@example.com"},
            headers={"Authorization": f"Bearer {SECRET_LOOKALIKE}", "X-Request-ID": "refused-1"},
            timeout=10,
        )
        assert refused.status_code == 401
        assert refused.headers["X-Request-ID"] == "refused-1"

        assert _healthcheck(port).returncode == 0
    finally:
        try:
            code = server.stop()
        except subprocess.TimeoutExpired:
            pytest.fail("gunicorn did not stop within 30 seconds of SIGTERM")
    assert code == 0
    stopped = _healthcheck(port)
    assert stopped.returncode == 1 and "/healthz" in stopped.stderr

    output = log_path.read_text()
    events = _json_lines(output)
    access = {e.get("request_id"): e for e in events if e["logger"] == "gunicorn.access"}
    assert access["probe-1"]["http"]["path"] == "/readyz"
    assert access["probe-1"]["http"]["status"] == 200
    assert access["refused-1"]["http"]["status"] == 401
    assert access["refused-1"]["http"]["query"] == "reservedFor=a***%40example.com"
    assert all(e["service"] == "api" for e in events)
    # Probes are quiet: only their access lines.
    assert [e["message"] for e in events if e["logger"].startswith("alembic")] == []
    assert any(e["logger"] == "gunicorn.error" and "Booting worker" in e["message"] for e in events)
    assert "alice@example.com" not in output and "alice%40example.com" not in output
    assert SECRET_LOOKALIKE not in output


# --- the worker -------------------------------------------------------------------------------


def test_the_worker_writes_json_lines_with_a_batch_id_and_masked_emails(migrated_sqlite, tmp_path):
    url, instance = migrated_sqlite
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        project, _keys = create_project(session, "worker-logs")
        [code] = generate_codes(session, project.id, amount=1)
        send_code(session, project.id, code.code, ["alice@example.com"])
        session.commit()
    engine.dispose()
    mail_dir = tmp_path / "mail"
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--once"],
        cwd=ROOT,
        env=_service_env(url, instance, MAIL_DIR=str(mail_dir)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(list(mail_dir.glob("*.eml"))) == 1
    events = _json_lines(result.stderr)
    assert all(e["service"] == "worker" for e in events)
    [wrote] = [e for e in events if e["message"].startswith("Wrote the message to")]
    assert "a***@example.com" in wrote["message"]
    assert len(wrote["request_id"]) == 32
    assert "alice@example.com" not in result.stderr
