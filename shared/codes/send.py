"""Sending codes by email: one queued delivery per recipient (the mail worker sends them).

Either one code to every recipient who could claim it, or one code of a batch to each recipient,
handed out to them (``shared.codes.assign``) as they are queued.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.codes.assign import assign_code
from shared.codes.lookup import lock_code
from shared.errors import BatchExhausted, CodeExpired, CodeFullyClaimed, InvalidInput
from shared.models import Claim, Delivery
from shared.records import CodeRecord, SendResult, SkippedRecipient
from shared.transactions import begin_write
from shared.validation import MAX_SEND, clean_each, normalize_email


def refuse_unsendable(record: CodeRecord, now: dt.datetime) -> None:
    """The rule for handing a code to anyone, by email or in Discord.

    A code not yet valid may be sent (it becomes claimable later); an expired or fully claimed one
    may not: nobody could claim it.
    """
    if record.valid_until is not None and record.valid_until <= now:
        raise CodeExpired()
    if record.claims >= record.allowed_claims:
        raise CodeFullyClaimed()


def send_code(session: Session, project_id: int, code: str, emails: list[str]) -> SendResult:
    """Queue a delivery of ``code`` to every recipient who could claim it; skip the others."""
    if not 1 <= len(emails) <= MAX_SEND:
        raise InvalidInput({"emails": [f"Must hold between 1 and {MAX_SEND} addresses."]})
    recipients = clean_each(emails, normalize_email, "emails")

    record = lock_code(session, project_id, code)
    now = utcnow()
    refuse_unsendable(record, now)

    claimed = set(
        session.scalars(select(Claim.email).where(Claim.code_id == record.id, Claim.email.in_(recipients)))
    )
    skipped: list[SkippedRecipient] = []
    queued: list[str] = []
    for address in recipients:
        if record.reserved_for is not None and address != record.reserved_for:
            skipped.append(SkippedRecipient(address, "code_reserved"))
        elif address in claimed:
            skipped.append(SkippedRecipient(address, "code_already_claimed"))
        else:
            queued.append(address)
    ids = _queue(session, project_id, [(record, address) for address in queued], now)
    return SendResult(received=len(recipients), notified=len(queued), skipped=skipped, delivery_ids=ids)


# A delivery of a batch's code that is on its way or went out already: no second email.
_DELIVERED = ("queued", "sending", "sent")


def send_from_batch(session: Session, project_id: int, batch: str, emails: list[str]) -> SendResult:
    """Hand each recipient one code of ``batch`` (the one they were given before, if any) and
    queue it to them. Skipped: recipients whose code is queued or sent to them already
    (``already_sent``), and, once the batch runs out, the rest (``batch_exhausted``).

    One transaction: the codes handed out and their deliveries commit together. BatchNotFound
    when no code has this batch.
    """
    if not 1 <= len(emails) <= MAX_SEND:
        raise InvalidInput({"emails": [f"Must hold between 1 and {MAX_SEND} addresses."]})
    recipients = clean_each(emails, normalize_email, "emails")
    begin_write(session)
    now = utcnow()
    skipped: list[SkippedRecipient] = []
    to_queue: list[tuple[CodeRecord, str]] = []
    for position, address in enumerate(recipients):
        try:
            record = assign_code(session, project_id, batch, email=address).code
        except BatchExhausted:
            skipped += [SkippedRecipient(rest, "batch_exhausted") for rest in recipients[position:]]
            break
        delivered = session.scalars(
            select(Delivery.id)
            .where(Delivery.code_id == record.id, Delivery.email == address, Delivery.status.in_(_DELIVERED))
            .limit(1)
        ).first()
        if delivered is not None:
            skipped.append(SkippedRecipient(address, "already_sent"))
        else:
            to_queue.append((record, address))
    ids = _queue(session, project_id, to_queue, now)
    return SendResult(received=len(recipients), notified=len(to_queue), skipped=skipped, delivery_ids=ids)


def _queue(
    session: Session, project_id: int, items: list[tuple[CodeRecord, str]], now: dt.datetime
) -> list[int]:
    """One queued delivery per (code, address), in one INSERT; their ids, in order."""
    if not items:
        return []
    return list(
        session.scalars(
            insert(Delivery).returning(Delivery.id, sort_by_parameter_order=True),
            [
                {
                    "project_id": project_id,
                    "code_id": record.id,
                    "code": record.code,
                    "email": address,
                    "status": "queued",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for record, address in items
            ],
        )
    )
