"""The worker as a real process (``python -m shared.mail.worker``): killed with SIGKILL in the
middle of a batch and restarted, nothing is lost or sent twice; SIGTERM finishes the message in
hand, then exits (SIGINT takes the same handler, see test_mail_worker). These use the real
clock: the processes cannot share a frozen one."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shared.codes import send_code
from shared.models import Delivery
from shared.transactions import begin_read
from tests.mailserver import SmtpServer

pytestmark = pytest.mark.slow  # real processes: gunicorn, the worker, kill -9

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 1.0


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def start_worker(database, smtp, tmp_path):
    """Start ``python -m shared.mail.worker`` on the test database, sending through ``smtp``."""
    processes: list[subprocess.Popen] = []
    log_path = tmp_path / "worker.log"

    def start(*args: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database.url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp.port),
            "SMTP_SECURITY": "none",
            "MAIL_FROM": "codes@acme.test",
            "WORKER_POLL_SECONDS": "0.05",
            "WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
            "LOG_LEVEL": "INFO",
        }
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "shared.mail.worker", *args], cwd=ROOT, env=env, stdout=log, stderr=log
            )
        processes.append(process)
        return process

    start.log = lambda: log_path.read_text() if log_path.exists() else ""
    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def queue(session_factory, project, make_code):
    def make(*emails: str) -> None:
        code = make_code()
        with session_factory() as session:
            send_code(session, project.id, code.code, list(emails))
            session.commit()

    return make


def statuses(session_factory) -> dict[str, tuple[str, int]]:
    # A read: on SQLite it must not wait for the write lock the worker holds while sending.
    with session_factory() as session:
        begin_read(session)
        return {d.email: (d.status, d.attempts) for d in session.scalars(select(Delivery))}


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing_once_restarted(
    smtp, start_worker, queue, session_factory
):
    emails = [f"lead{i}@example.com" for i in range(6)]
    queue(*emails)
    smtp.hold("lead2@example.com")

    first = start_worker()
    assert smtp.holding.wait(30), start_worker.log()
    # Two accepted, one in hand, three more taken in the same batch.
    assert sorted(statuses(session_factory).values()) == [("sending", 1)] * 4 + [("sent", 1)] * 2
    first.send_signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    smtp.release(accept=False)  # the server never accepted the message the worker died in
    assert smtp.recipients() == emails[:2]

    # The dead worker's lease has to run out before a new worker may take its deliveries.
    with session_factory() as session:
        begin_read(session)
        lease_end = session.scalar(select(func.max(Delivery.lease_expires_at)))
    wait = (lease_end - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds()
    time.sleep(max(wait, 0) + 0.05)
    second = start_worker("--once")
    assert second.wait(30) == 0, start_worker.log()

    assert smtp.recipients() == emails, "every message accepted exactly once"
    final = statuses(session_factory)
    assert {email: final[email] for email in emails[:2]} == {e: ("sent", 1) for e in emails[:2]}
    assert {email: final[email] for email in emails[2:]} == {e: ("sent", 2) for e in emails[2:]}
    assert "went back to the queue" in start_worker.log()


def test_sigterm_finishes_the_message_in_hand_then_exits(smtp, start_worker, queue, session_factory):
    emails = [f"lead{i}@example.com" for i in range(4)]
    queue(*emails)
    smtp.hold("lead1@example.com")
    process = start_worker()
    assert smtp.holding.wait(30), start_worker.log()

    process.send_signal(signal.SIGTERM)
    time.sleep(0.2)  # let the handler run while the message is still in hand
    smtp.release(accept=True)

    assert process.wait(10) == 0, start_worker.log()
    assert smtp.recipients() == emails[:2]
    assert statuses(session_factory) == {
        "lead0@example.com": ("sent", 1),
        "lead1@example.com": ("sent", 1),
        "lead2@example.com": ("queued", 0),
        "lead3@example.com": ("queued", 0),
    }
    assert "Stopping after the message in hand" in start_worker.log()
