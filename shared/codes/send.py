"""Sending a code: one queued delivery per recipient who could claim it (the mail worker sends)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.codes.lookup import lock_code
from shared.errors import CodeExpired, CodeFullyClaimed, InvalidInput
from shared.models import Claim, Delivery
from shared.records import CodeRecord, SendResult, SkippedRecipient
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
    ids: list[int] = []
    if queued:
        ids = list(
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
                    for address in queued
                ],
            )
        )
    return SendResult(received=len(recipients), notified=len(queued), skipped=skipped, delivery_ids=ids)
