"""The webhook loop of the worker process: fans events out, POSTs due deliveries, retries.

It runs beside the mail loop in ``flask --app wsgi worker`` (a thread of its own, so a slow
receiver never holds up email). Each round dispatches new events, gives back what dead workers
left, takes a batch in one short transaction, POSTs the batch a few at a time and settles each
POST in a transaction of its own. No transaction is open while a POST waits on the network.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from shared.backoff import Backoff
from shared.clock import UTC, utcnow
from shared.config import Settings
from shared.logging import bound_request_id
from shared.webhooks import outbox, payloads, sender
from shared.webhooks.signing import signature_header
from shared.webhooks.urls import Resolver

log = logging.getLogger("codes.webhooks")

DISPATCH_BATCH = 100
PURGE_EVERY = dt.timedelta(minutes=10)


@dataclass
class RoundResult:
    dispatched: int = 0
    taken: int = 0
    succeeded: int = 0
    retried: int = 0
    failed: int = 0
    stale: int = 0
    released: int = 0


def headers(job: outbox.Job, body: bytes, now: dt.datetime) -> dict[str, str]:
    """Standard Webhooks headers, plus the mirrored product's ``lancero-signature`` if on."""
    timestamp = int(now.replace(tzinfo=UTC).timestamp())
    values = {
        "webhook-id": job.event.public_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(job.secrets, job.event.public_id, timestamp, body),
    }
    if job.lancero_signature:
        values["lancero-signature"] = job.secrets[0]
    return values


class WebhookWorker:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: Settings,
        *,
        backoff: Backoff | None = None,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ):
        self.session_factory = session_factory
        self.settings = settings
        self.backoff = backoff or Backoff(
            settings.webhook_retry_base_seconds, settings.webhook_retry_max_seconds
        )
        self.retry_window = dt.timedelta(seconds=settings.webhook_retry_window_seconds)
        self.retention = dt.timedelta(days=settings.webhook_retention_days)
        self.lease = dt.timedelta(seconds=settings.worker_lease_seconds)
        self.batch_size = settings.worker_batch_size
        self.resolver = resolver
        self.ssl_context = ssl_context
        self._stop = threading.Event()
        self._purged_at: dt.datetime | None = None

    def stop(self, *_signal_args) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run_once(self) -> RoundResult:
        """Deliver everything that is due now (each delivery once), then return."""
        total = RoundResult()
        while not self.stopping:
            result = self.run_round()
            for name in total.__dataclass_fields__:
                setattr(total, name, getattr(total, name) + getattr(result, name))
            if result.taken == 0 and result.dispatched == 0:
                break
        return total

    def run(self) -> None:
        """Deliver until stopped; wait WORKER_POLL_SECONDS whenever nothing is due."""
        log.info("Webhook delivery started (batches of %s)", self.batch_size)
        while not self.stopping:
            try:
                result = self.run_round()
                busy = result.taken or result.dispatched
            except DBAPIError as exc:
                log.error("Database error, retrying in %ss: %s", self.settings.worker_poll_seconds, exc)
                busy = 0
            except Exception:
                # A bug must not stop webhooks for good while email goes on in the other loop.
                log.exception("Webhook round failed; retrying in %ss", self.settings.worker_poll_seconds)
                busy = 0
            if not busy:
                self._stop.wait(self.settings.worker_poll_seconds)
        log.info("Webhook delivery stopped")

    def run_round(self) -> RoundResult:
        with bound_request_id():
            result = RoundResult()
            jobs = self.take(result)
            if jobs:
                self.send(jobs, result)
            return result

    def take(self, result: RoundResult) -> list[outbox.Job]:
        """Dispatch new events, requeue what dead workers held, take a batch: one transaction."""
        with self.session_factory() as session, session.begin():
            now = utcnow()
            self._purge(session, now)
            result.dispatched = outbox.dispatch(
                session, now=now, limit=DISPATCH_BATCH, retry_window=self.retry_window
            )
            requeued = outbox.requeue_expired(session, now=now)
            jobs = outbox.take(session, now=now, limit=self.batch_size, lease=self.lease)
        if requeued:
            log.warning("%s webhook deliveries of a stopped worker went back to the queue", requeued)
        result.taken = len(jobs)
        return jobs

    def _purge(self, session: Session, now: dt.datetime) -> None:
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY:
            return
        self._purged_at = now
        purged = outbox.purge(session, before=now - self.retention)
        if purged:
            log.info("Purged %s webhook events older than %s days", purged, self.retention.days)

    def send(self, jobs: list[outbox.Job], result: RoundResult) -> None:
        """POST the batch, a few at a time; on stop, give back what was not started."""
        with ThreadPoolExecutor(max_workers=max(1, self.settings.webhook_concurrency)) as pool:
            outcomes = list(pool.map(self._deliver, jobs))
        untried = [job for job, status in zip(jobs, outcomes, strict=True) if status == "untried"]
        if untried:
            with self.session_factory() as session, session.begin():
                result.released = outbox.release(session, untried, utcnow())
        for status in outcomes:
            if status == "succeeded":
                result.succeeded += 1
            elif status == "pending":
                result.retried += 1
            elif status == "failed":
                result.failed += 1
            elif status is None:
                result.stale += 1

    def _deliver(self, job: outbox.Job) -> str | None:
        if self.stopping:
            return "untried"
        try:
            body = payloads.body(job.event)
        except Exception as exc:
            # A bug or a broken event: a failed attempt (retried, then given up), not a dead loop.
            log.exception("Webhook %s: the body could not be made", job.event.public_id)
            outcome = outbox.Outcome(None, f"Internal error: {exc.__class__.__name__}", 0, utcnow())
        else:
            outcome = sender.post(
                job.url,
                body,
                headers(job, body, utcnow()),
                allow_private=self.settings.webhooks_allow_private,
                connect_timeout=self.settings.webhook_connect_timeout,
                read_timeout=self.settings.webhook_read_timeout,
                resolver=self.resolver,
                ssl_context=self.ssl_context,
            )
        now = utcnow()
        with self.session_factory() as session, session.begin():
            status = outbox.settle(
                session,
                job,
                outcome,
                now=now,
                retry_at=now + self.backoff.delay(job.attempts),
                retry_window=self.retry_window,
            )
        if status == "succeeded":
            log.info(
                "Webhook %s to endpoint %s: HTTP %s",
                job.event.public_id,
                job.endpoint_id,
                outcome.status_code,
            )
        elif status is not None:
            log.warning(
                "Webhook %s to endpoint %s, attempt %s: %s (%s)",
                job.event.public_id,
                job.endpoint_id,
                job.attempts,
                outcome.reason,
                "gave up" if status == "failed" else "will retry",
            )
        return status
