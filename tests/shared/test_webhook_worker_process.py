"""The worker process delivers webhooks beside email: killed with SIGKILL in the middle of a POST
and restarted, the event still arrives (at least once, same event id); SIGTERM stops both loops."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from shared.codes import claim_code
from shared.webhooks.deliveries import list_deliveries
from tests.support import ROOT, subprocess_env
from tests.webhook_receiver import Receiver, register

pytestmark = pytest.mark.slow


@pytest.fixture
def start_worker(database, tmp_path):
    processes: list[subprocess.Popen] = []
    log_path = tmp_path / "worker.log"

    def start() -> subprocess.Popen:
        env = subprocess_env(
            DATABASE_URL=database.url,
            MAIL_DIR=str(tmp_path / "mail"),
            SMTP_HOST="",
            WEBHOOKS_ALLOW_PRIVATE="true",
            WORKER_POLL_SECONDS="0.05",
            WORKER_LEASE_SECONDS="1",
            WEBHOOK_RETRY_BASE_SECONDS="0.1",
        )
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "shared.mail.worker"], cwd=ROOT, env=env, stdout=log, stderr=log
            )
        processes.append(process)
        return process

    start.log = lambda: log_path.read_text() if log_path.exists() else ""
    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def settled_delivery(session_factory, project_id, endpoint_id, timeout=10.0):
    """The receiver answers before the worker records the answer: wait until it has."""
    deadline = time.monotonic() + timeout
    while True:
        with session_factory() as session:
            [delivery] = list_deliveries(session, project_id, endpoint_id).items
        if delivery.status != "sending" or time.monotonic() > deadline:
            return delivery
        time.sleep(0.05)


def test_a_worker_killed_mid_delivery_loses_no_event(session_factory, project, make_code, start_worker):
    code = make_code()
    with Receiver() as receiver:
        hook = register(session_factory, project.id, receiver.url, ["code.claimed"])
        with session_factory() as session:
            claim_code(session, project.id, code.code, email="ada@example.com")
            session.commit()
        receiver.respond("hang")
        first = start_worker()
        assert receiver.hanging.wait(20), start_worker.log()
        first.kill()
        first.wait()
        receiver.release()

        start_worker()
        hung, delivered = receiver.wait_for(2, timeout=30)
    assert hung.webhook_id == delivered.webhook_id
    assert delivered.verified(hook.secret)["data"]["email"] == "ada@example.com"
    delivery = settled_delivery(session_factory, project.id, hook.endpoint.id)
    assert delivery.status == "succeeded"
    assert [(a.attempt, a.status_code, a.error is not None) for a in delivery.log] == [
        (1, None, True),
        (2, 200, False),
    ]
    assert "lease ran out" in delivery.log[0].error


def test_sigterm_stops_the_mail_and_webhook_loops(start_worker):
    worker = start_worker()
    deadline = time.monotonic() + 20
    while "Webhook delivery started" not in start_worker.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0
    log = start_worker.log()
    assert "Webhook delivery started" in log and "Webhook delivery stopped" in log and "Worker stopped" in log
