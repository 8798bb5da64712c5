"""The worker: takes due deliveries in batches and sends them, until told to stop. The same
process delivers webhooks in a second loop (``shared.webhooks.worker``).

``Worker.run_once()`` sends everything that is due and returns; ``Worker.run()`` keeps going
until :meth:`Worker.stop` (SIGTERM or SIGINT once :meth:`Worker.handle_signals` is installed),
finishing the message in hand first. Both are what ``flask --app wsgi worker [--once]`` runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from shared.backoff import Backoff
from shared.clock import utcnow
from shared.config import Settings
from shared.logging import bound_request_id, configure_logging
from shared.mail import outbox
from shared.mail.message import compose, message_id
from shared.mail.transports import PermanentFailure, TemporaryFailure, Transport, make_transport
from shared.webhooks.worker import WebhookWorker

log = logging.getLogger("codes.mail")


@dataclass
class BatchResult:
    taken: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: int = 0
    released: int = 0

    def add(self, other: BatchResult) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class RetryPolicy(Backoff):
    """The backoff of email deliveries, and how many attempts a message gets before "failed"."""

    base_seconds: float = 60.0
    max_seconds: float = 3600.0
    max_attempts: int = 8

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            base_seconds=settings.mail_retry_base_seconds,
            max_seconds=settings.mail_retry_max_seconds,
            max_attempts=settings.mail_max_attempts,
        )


class Worker:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: Settings,
        *,
        transport_factory: Callable[[], Transport] | None = None,
        retry: RetryPolicy | None = None,
    ):
        self.session_factory = session_factory
        self.settings = settings
        if transport_factory is None:
            make_transport(settings)  # a wrong SMTP_SECURITY or MAIL_FROM fails now, not mid-batch
            transport_factory = lambda: make_transport(settings)  # noqa: E731
        self.transport_factory = transport_factory
        self.retry = retry or RetryPolicy.from_settings(settings)
        self.batch_size = settings.worker_batch_size
        self.lease = dt.timedelta(seconds=settings.worker_lease_seconds)
        self._stop = threading.Event()

    # --- stopping ---------------------------------------------------------------------------

    def stop(self, *_signal_args) -> None:
        """Finish the message in hand, give the rest of the batch back, then return."""
        if not self._stop.is_set():
            log.info("Stopping after the message in hand")
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def handle_signals(self) -> None:
        """Stop on SIGTERM and SIGINT (main thread only)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    # --- running ----------------------------------------------------------------------------

    def run_once(self) -> BatchResult:
        """Send every delivery that is due now, then return what happened."""
        total = BatchResult()
        while not self.stopping:
            result = self.run_batch()
            total.add(result)
            if result.taken == 0:
                break
        return total

    def run(self) -> None:
        """Send due deliveries until stopped; wait WORKER_POLL_SECONDS whenever none are due."""
        log.info("Worker started (batches of %s, lease %ss)", self.batch_size, self.lease.total_seconds())
        while not self.stopping:
            try:
                taken = self.run_batch().taken
            except DBAPIError as exc:
                # The database is down or restarting: keep trying, the queue is safe in it.
                log.error("Database error, retrying in %ss: %s", self.settings.worker_poll_seconds, exc)
                taken = 0
            if taken == 0:
                self._stop.wait(self.settings.worker_poll_seconds)
        log.info("Worker stopped")

    def run_batch(self) -> BatchResult:
        """Take one batch of due deliveries and send it; its log lines share one request id."""
        with bound_request_id():
            jobs = self.take()
            if not jobs:
                return BatchResult()
            return self.send(jobs)

    def take(self) -> list[outbox.Job]:
        """Queue again what dead workers left behind, then take a batch, in one transaction."""
        with self.session_factory() as session, session.begin():
            now = utcnow()
            requeued = outbox.requeue_expired(session, now=now, max_attempts=self.retry.max_attempts)
            jobs = outbox.take_batch(
                session, now=now, limit=self.batch_size, lease=self.lease, public_url=self.settings.public_url
            )
        if requeued:
            log.warning("%s deliveries of a stopped worker went back to the queue", requeued)
        return jobs

    def send(self, jobs: list[outbox.Job]) -> BatchResult:
        """Send taken deliveries over one transport connection, settling each."""
        result = BatchResult(taken=len(jobs))
        with self.transport_factory() as transport:
            for index, job in enumerate(jobs):
                if self.stopping:
                    result.released += self._release(jobs[index:])
                    break
                failure = self._send_one(transport, job, result)
                if isinstance(failure, TemporaryFailure) and failure.connection:
                    # The server cannot be reached: the rest of the batch would fail the same way.
                    for rest in jobs[index + 1 :]:
                        self._settle_failure(rest, failure, result)
                    break
        return result

    # --- one message ------------------------------------------------------------------------

    def _send_one(self, transport: Transport, job: outbox.Job, result: BatchResult):
        with self.session_factory() as session, session.begin():
            # The row lock is held until the outcome is written (see shared.mail.outbox).
            if not outbox.lock_for_sending(session, job):
                log.info(
                    "Delivery %s is no longer ours to send (code deleted or taken again)", job.delivery_id
                )
                result.skipped += 1
                return None
            now = utcnow()
            reason = outbox.reason_to_cancel(session, job, now)
            if reason is not None:
                outbox.mark_cancelled(session, job, reason, now)
                log.info("Delivery %s cancelled: %s", job.delivery_id, reason)
                result.cancelled += 1
                return None
            try:
                message = compose(
                    job.content,
                    mail_from=self.settings.mail_from,
                    date=now,
                    message_id=message_id(job.delivery_id, job.created_at, self.settings.mail_from),
                )
                transport.send(message)
            except (TemporaryFailure, PermanentFailure) as failure:
                self._record_failure(session, job, failure, result)
                return failure
            except Exception as exc:
                # A bug or a broken message: counted as a temporary failure, so it ends "failed"
                # after the last attempt instead of stopping the worker for every other message.
                log.exception("Delivery %s: unexpected error", job.delivery_id)
                failure = TemporaryFailure(f"Internal error: {exc.__class__.__name__}: {exc}")
                self._record_failure(session, job, failure, result)
                return failure
            outbox.mark_sent(session, job, utcnow())
            result.sent += 1
            return None

    def _settle_failure(self, job: outbox.Job, failure: TemporaryFailure, result: BatchResult) -> None:
        with self.session_factory() as session, session.begin():
            if outbox.lock_for_sending(session, job):
                self._record_failure(session, job, failure, result)

    def _record_failure(self, session: Session, job: outbox.Job, failure, result: BatchResult) -> None:
        now = utcnow()
        if isinstance(failure, PermanentFailure) or job.attempts >= self.retry.max_attempts:
            outbox.mark_failed(session, job, failure.reason, now)
            log.warning(
                "Delivery %s to %s failed after %s attempt(s): %s",
                job.delivery_id,
                job.content.email,
                job.attempts,
                failure.reason,
            )
            result.failed += 1
            return
        retry_at = now + self.retry.delay(job.attempts)
        outbox.mark_retry(session, job, failure.reason, now, retry_at)
        log.warning(
            "Delivery %s to %s: %s; retrying at %s",
            job.delivery_id,
            job.content.email,
            failure.reason,
            retry_at.isoformat(timespec="seconds"),
        )
        result.retried += 1

    def _release(self, jobs: list[outbox.Job]) -> int:
        with self.session_factory() as session, session.begin():
            return outbox.release(session, jobs, utcnow())


def serve(worker: Worker, *, once: bool = False, webhooks: WebhookWorker | None = None) -> BatchResult | None:
    """Run ``worker`` as a process does, with the webhook loop beside it when given: both stop
    cleanly on SIGTERM/SIGINT."""
    worker.handle_signals()
    if webhooks is not None:

        def stop_both(*signal_args) -> None:
            worker.stop(*signal_args)
            webhooks.stop()

        signal.signal(signal.SIGTERM, stop_both)
        signal.signal(signal.SIGINT, stop_both)
    if once:
        result = worker.run_once()
        log.info(
            "Done: %s sent, %s to retry, %s failed, %s cancelled",
            result.sent,
            result.retried,
            result.failed,
            result.cancelled,
        )
        if webhooks is not None:
            hooks = webhooks.run_once()
            log.info(
                "Webhooks done: %s delivered, %s to retry, %s failed",
                hooks.succeeded,
                hooks.retried,
                hooks.failed,
            )
        return result
    if webhooks is None:
        worker.run()
        return None
    # Two loops, one thread each: a slow webhook receiver never holds up email, nor the reverse.
    thread = threading.Thread(target=webhooks.run, name="webhooks", daemon=True)
    thread.start()
    try:
        worker.run()
    finally:
        webhooks.stop()
        thread.join()
    return None


def main(argv: list[str] | None = None) -> int:
    """``python -m shared.mail.worker [--once]``: the worker without Flask, configured like it."""
    import argparse

    from shared.db import make_engine, make_sessionmaker

    parser = argparse.ArgumentParser(prog="python -m shared.mail.worker", description=__doc__)
    parser.add_argument(
        "--once", action="store_true", help="send what is due now (mail, webhooks), then exit"
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    configure_logging("worker", settings.log_level)
    # One connection for each loop, and one for each POST the webhook loop makes at a time.
    engine = make_engine(
        settings.database_url,
        busy_timeout=settings.sqlite_busy_timeout,
        pool_size=2 + settings.webhook_concurrency,
        max_overflow=0,
    )
    try:
        sessions = make_sessionmaker(engine)
        serve(Worker(sessions, settings), once=args.once, webhooks=WebhookWorker(sessions, settings))
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
