"""Deleting a code, with its claims and unsent deliveries; sent deliveries stay as a record.
Its ``code.deleted`` webhook event is written in the same transaction."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from shared.codes.lookup import lock_code
from shared.models import Claim, Code, Delivery
from shared.records import DeleteResult
from shared.webhooks.events import CODE_DELETED, code_snapshot, record_event


def delete_code(session: Session, project_id: int, code: str) -> DeleteResult:
    """Delete a code with its claims and unsent deliveries; sent deliveries stay as a record."""
    record = lock_code(session, project_id, code)
    holders: list[int] = []
    if record.discord_role_id is not None:
        holders = list(
            session.scalars(
                select(Claim.discord_user_id).where(
                    Claim.code_id == record.id, Claim.discord_user_id.is_not(None)
                )
            )
        )
    claims_deleted = session.execute(delete(Claim).where(Claim.code_id == record.id)).rowcount
    deliveries_removed = session.execute(
        delete(Delivery).where(Delivery.code_id == record.id, Delivery.status != "sent")
    ).rowcount
    session.execute(update(Delivery).where(Delivery.code_id == record.id).values(code_id=None))
    session.execute(delete(Code).where(Code.id == record.id))
    record_event(
        session, project_id, CODE_DELETED, {"code": code_snapshot(record), "claims_deleted": claims_deleted}
    )
    return DeleteResult(
        code=record,
        claims_deleted=claims_deleted,
        deliveries_removed=deliveries_removed,
        role_holders=holders,
    )
