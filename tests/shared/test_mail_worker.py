"""The worker against a real SMTP server on loopback, on SQLite and PostgreSQL.

Time moves with the ``clock`` fixture (frozen at T0), never with sleeps: backoff and leases are
checked by advancing it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
import time
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from shared.codes import claim_code, delete_code, send_code
from shared.config import Settings
from shared.mail.outbox import LEASE_EXPIRED
from shared.mail.services import set_claim_url
from shared.mail.transports import SmtpTransport
from shared.mail.worker import Worker
from shared.models import Code, Delivery
from tests.mailserver import SilentServer, SmtpServer
from tests.shared.conftest import T0
from tests.support import free_port


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def queue(session_factory, project, make_code):
    """Queue deliveries of a new code to ``emails``; returns the code."""

    def make(*emails: str, **code_options):
        code = make_code(**code_options)
        with session_factory() as session:
            send_code(session, project.id, code.code, list(emails))
            session.commit()
        return code

    return make


@pytest.fixture
def rows(session_factory):
    """The deliveries as committed, by email."""

    def read() -> dict[str, Delivery]:
        with session_factory() as session:
            return {d.email: d for d in session.scalars(select(Delivery).order_by(Delivery.id))}

    return read


def test_sends_each_delivery_with_both_parts_over_one_connection(clock, smtp, queue, rows, session_factory):
    with session_factory() as session:
        set_claim_url(session, "acme", "https://acme.test/claim?code={code}&src=mail")
        session.commit()
    code = queue(
        "o'brien&co@example.com",
        reserved_for="o'brien&co@example.com",
        valid_until=T0 + dt.timedelta(days=30),
    )
    other = queue("a@example.com", "b@example.com")

    result = Worker(session_factory, smtp.settings()).run_once()

    assert (result.taken, result.sent) == (3, 3)
    assert smtp.ehlos == 1, "one SMTP connection for the batch"
    assert smtp.recipients() == ["a@example.com", "b@example.com", "o'brien&co@example.com"]
    [received] = [m for m in smtp.messages if m.recipient == "o'brien&co@example.com"]
    assert received.mail_from == "codes@acme.test"
    message = received.message
    assert message["Subject"] == f"Your code for acme: {code.code}"
    assert message["To"] == "o'brien&co@example.com"
    assert str(message["From"]) == "Acme Codes <codes@acme.test>"
    assert message.get_content_type() == "multipart/alternative"
    # Lines are wrapped: compare with whitespace collapsed.
    text = " ".join(message.get_body(("plain",)).get_content().split())
    html = " ".join(message.get_body(("html",)).get_content().split())
    assert code.code in text and code.code in html
    assert f"https://acme.test/claim?code={code.code}&src=mail" in text
    assert f'href="https://acme.test/claim?code={code.code}&amp;src=mail"' in html
    assert "reserved for o'brien&co@example.com" in text
    assert "reserved for o&#x27;brien&amp;co@example.com" in html
    assert "2030-01-31 12:00 UTC" in text
    assert other.code in smtp.messages[1].message["Subject"]

    for delivery in rows().values():
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 1, None)
        assert delivery.sent_at == T0
        assert delivery.lease_expires_at is None


def test_temporary_failure_is_retried_with_backoff_then_sent(clock, smtp, queue, rows, session_factory):
    queue("a@example.com")
    smtp.refuse("a@example.com", "451 4.7.1 Greylisted, try again later")
    worker = Worker(session_factory, smtp.settings(mail_retry_base_seconds=60))

    assert worker.run_once().retried == 1
    delivery = rows()["a@example.com"]
    assert (delivery.status, delivery.attempts) == ("queued", 1)
    assert delivery.last_error == "451 4.7.1 Greylisted, try again later"
    assert T0 + dt.timedelta(seconds=30) <= delivery.next_attempt_at <= T0 + dt.timedelta(seconds=60)
    assert smtp.messages == []

    assert worker.run_once().taken == 0, "not due before its backoff"
    clock.advance(seconds=60)
    assert worker.run_once().sent == 1
    delivery = rows()["a@example.com"]
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 2, None)
    assert delivery.sent_at == T0 + dt.timedelta(seconds=60)
    assert smtp.recipients() == ["a@example.com"]


def test_permanent_failure_fails_at_once_with_the_reply_and_the_batch_goes_on(
    clock, smtp, queue, rows, session_factory
):
    queue("gone@example.com", "a@example.com")
    smtp.refuse("gone@example.com", "550 5.1.1 <gone@example.com>: Recipient address rejected", times=None)

    result = Worker(session_factory, smtp.settings()).run_once()

    assert (result.failed, result.sent) == (1, 1)
    gone = rows()["gone@example.com"]
    assert (gone.status, gone.attempts) == ("failed", 1)
    assert gone.last_error == "550 5.1.1 <gone@example.com>: Recipient address rejected"
    assert smtp.recipients() == ["a@example.com"]
    assert smtp.ehlos == 1, "the connection survives a refused recipient"


def test_unreachable_server_is_retried_with_growing_delays_then_failed(clock, queue, rows, session_factory):
    queue("a@example.com", "b@example.com")
    port = free_port()  # nothing listens there
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        mail_from="codes@acme.test",
        mail_max_attempts=3,
        mail_retry_base_seconds=60,
    )
    worker = Worker(session_factory, settings)

    delays = []
    for _attempt in range(3):
        result = worker.run_once()
        assert result.taken == 2
        current = rows()
        delays.append(current["a@example.com"].next_attempt_at - clock.now.replace(tzinfo=None))
        clock.advance(seconds=300)
    for delivery in rows().values():
        assert (delivery.status, delivery.attempts) == ("failed", 3)
        assert (
            delivery.last_error == f"127.0.0.1:{port}: ConnectionRefusedError: [Errno 111] Connection refused"
        )
    assert dt.timedelta(seconds=30) <= delays[0] <= dt.timedelta(seconds=60)
    assert dt.timedelta(seconds=60) <= delays[1] <= dt.timedelta(seconds=120)
    assert worker.run_once().taken == 0


def test_a_server_that_never_answers_times_out_once_for_the_whole_batch(clock, queue, rows, session_factory):
    queue("a@example.com", "b@example.com", "c@example.com")
    with SilentServer() as silent:
        settings = Settings(
            smtp_host="127.0.0.1",
            smtp_port=silent.port,
            smtp_security="none",
            smtp_timeout=0.2,
            mail_from="codes@acme.test",
        )
        started = time.monotonic()
        result = Worker(session_factory, settings).run_once()
        elapsed = time.monotonic() - started
    assert result.retried == 3
    assert elapsed < 0.8, "one timeout for the batch, not one per message"
    for delivery in rows().values():
        assert delivery.status == "queued" and delivery.attempts == 1
        assert "timed out" in delivery.last_error


def test_deliveries_of_a_dead_worker_are_sent_once_its_lease_runs_out(
    clock, smtp, queue, rows, session_factory
):
    queue("a@example.com", "b@example.com")
    settings = smtp.settings(worker_lease_seconds=300)
    Worker(session_factory, settings).take()  # ...and the worker dies holding them
    assert {d.status for d in rows().values()} == {"sending"}

    assert Worker(session_factory, settings).run_once().taken == 0, "the lease still holds"
    clock.advance(seconds=301)
    result = Worker(session_factory, settings).run_once()

    assert result.sent == 2
    assert smtp.recipients() == ["a@example.com", "b@example.com"]
    for delivery in rows().values():
        assert (delivery.status, delivery.attempts) == ("sent", 2)


def test_a_delivery_that_used_up_its_attempts_in_dead_workers_fails(
    clock, smtp, queue, rows, session_factory
):
    queue("a@example.com")
    settings = smtp.settings(worker_lease_seconds=60, mail_max_attempts=2)
    for _ in range(2):
        Worker(session_factory, settings).take()
        clock.advance(seconds=61)
    assert Worker(session_factory, settings).run_once().taken == 0
    delivery = rows()["a@example.com"]
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 2, LEASE_EXPIRED)
    assert smtp.messages == []


def test_a_worker_whose_lease_ran_out_cannot_send_what_another_took(clock, smtp, queue, session_factory):
    queue("a@example.com")
    settings = smtp.settings(worker_lease_seconds=60)
    slow = Worker(session_factory, settings)
    jobs = slow.take()
    clock.advance(seconds=61)
    other = Worker(session_factory, settings)
    taken_again = other.take()  # "sending" again, by the other worker this time

    late = slow.send(jobs)

    assert (late.sent, late.skipped) == (0, 1)
    assert smtp.messages == []
    assert other.send(taken_again).sent == 1
    assert smtp.recipients() == ["a@example.com"]


def test_deliveries_of_a_deleted_code_are_never_sent(clock, smtp, queue, rows, session_factory, project):
    before = queue("a@example.com")
    meanwhile = queue("b@example.com", "c@example.com")
    with session_factory() as session:
        delete_code(session, project.id, before.code)
        session.commit()
    worker = Worker(session_factory, smtp.settings())
    jobs = worker.take()
    assert [job.content.email for job in jobs] == ["b@example.com", "c@example.com"]
    with session_factory() as session:  # deleted after the worker took its batch
        delete_code(session, project.id, meanwhile.code)
        session.commit()

    result = worker.send(jobs)

    assert (result.sent, result.skipped) == (0, 2)
    assert smtp.messages == []
    assert rows() == {}


class _DeleteWhileSending:
    """Wraps a transport: while a message is in hand, another session deletes its code."""

    def __init__(self, inner, delete):
        self.inner, self.delete = inner, delete
        self.thread: threading.Thread | None = None
        self.waited = False

    def __enter__(self):
        self.inner.__enter__()
        return self

    def __exit__(self, *exc_info):
        self.inner.__exit__(*exc_info)

    def send(self, message):
        self.thread = threading.Thread(target=self.delete)
        self.thread.start()
        self.thread.join(0.3)
        self.waited = self.thread.is_alive()
        return self.inner.send(message)


def test_deleting_a_code_waits_for_the_message_in_hand_and_keeps_it_as_sent(
    clock, smtp, queue, rows, session_factory, project
):
    code = queue("a@example.com")
    settings = smtp.settings()

    def delete():
        with session_factory() as session:
            delete_code(session, project.id, code.code)
            session.commit()

    transport = _DeleteWhileSending(SmtpTransport(settings), delete)
    result = Worker(session_factory, settings, transport_factory=lambda: transport).run_once()
    transport.thread.join(10)

    assert transport.waited, "the delete waited for the message in hand"
    assert result.sent == 1
    assert smtp.recipients() == ["a@example.com"]
    delivery = rows()["a@example.com"]
    assert (delivery.status, delivery.code_id) == ("sent", None)
    with session_factory() as session:
        assert session.scalar(select(Code).where(Code.code == code.code)) is None


def test_a_code_that_can_no_longer_be_claimed_is_cancelled_not_sent(
    clock, smtp, queue, rows, session_factory, project
):
    queue("expired@example.com", valid_until=T0 + dt.timedelta(hours=1))
    used = queue("late@example.com", "winner@example.com")
    has_it = queue("has-it@example.com", allowed_claims=2)
    with session_factory() as session:
        claim_code(session, project.id, used.code, email="winner@example.com")
        claim_code(session, project.id, has_it.code, email="has-it@example.com")
        session.commit()
    clock.advance(hours=2)

    result = Worker(session_factory, smtp.settings()).run_once()

    assert (result.cancelled, result.sent) == (4, 0)
    assert smtp.messages == []
    current = rows()
    assert current["expired@example.com"].last_error == "The code expired before it could be sent."
    assert current["late@example.com"].last_error == "The code had no claims left when it was due to be sent."
    assert current["has-it@example.com"].last_error == "The recipient had already claimed the code."
    for delivery in current.values():
        assert (delivery.status, delivery.attempts) == ("cancelled", 0)


def test_stop_finishes_the_message_in_hand_and_gives_the_rest_back(clock, smtp, queue, rows, session_factory):
    queue("a@example.com", "b@example.com", "c@example.com")
    smtp.hold("b@example.com")
    worker = Worker(session_factory, smtp.settings())
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert smtp.holding.wait(10)

    worker.stop()  # what SIGTERM and SIGINT do
    smtp.release(accept=True)
    thread.join(10)

    assert not thread.is_alive()
    current = rows()
    assert current["a@example.com"].status == "sent"
    assert current["b@example.com"].status == "sent"
    assert (current["c@example.com"].status, current["c@example.com"].attempts) == ("queued", 0)
    assert current["c@example.com"].lease_expires_at is None
    assert smtp.recipients() == ["a@example.com", "b@example.com"]


def test_without_smtp_host_each_message_is_an_eml_file(clock, queue, rows, session_factory, tmp_path, caplog):
    code = queue("a@example.com")
    mail_dir = tmp_path / "mail"
    caplog.set_level(logging.INFO, logger="codes.mail")

    result = Worker(session_factory, Settings(mail_dir=str(mail_dir))).run_once()

    assert result.sent == 1
    [path] = mail_dir.glob("*.eml")
    delivery = rows()["a@example.com"]
    assert path.name == f"20300101T120000Z-delivery-{delivery.id}.eml"
    assert str(path) in caplog.text
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "a@example.com"
    assert message["Subject"] == f"Your code for acme: {code.code}"
    assert code.code in message.get_body(("plain",)).get_content()
    assert code.code in message.get_body(("html",)).get_content()
    assert delivery.status == "sent"
    assert list(mail_dir.glob("*.part")) == []


def test_two_workers_on_postgresql_send_every_delivery_exactly_once(
    database, clock, smtp, queue, rows, session_factory
):
    if database.backend != "postgresql":
        pytest.skip("several workers are the PostgreSQL setup: on SQLite one starves the other")
    emails = [f"lead{i:02d}@example.com" for i in range(60)]
    queue(*emails)
    smtp.delay = 0.005
    settings = smtp.settings(worker_batch_size=5)
    workers = [Worker(session_factory, settings) for _ in range(2)]
    start = threading.Barrier(2)
    results = {}

    def run(index):
        start.wait()
        results[index] = workers[index].run_once()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert smtp.recipients() == emails, "every delivery sent, none twice"
    assert results[0].sent + results[1].sent == 60
    assert results[0].sent > 0 and results[1].sent > 0, "both workers took batches"
    assert {(d.status, d.attempts) for d in rows().values()} == {("sent", 1)}


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_and_sigint_ask_the_worker_to_stop(signal_number, tmp_path):
    worker = Worker(None, Settings(mail_dir=str(tmp_path)))
    previous = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        worker.handle_signals()
        os.kill(os.getpid(), signal_number)
        deadline = time.monotonic() + 5
        while not worker.stopping and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    assert worker.stopping
