"""The Discord role a claim grants, remembered until it is granted.

When a member claims a code that grants a role in the server they claim in, the claim and a
pending grant are written in one transaction. The bot then asks Discord for the role and marks the
grant done; if Discord refuses (the bot lost Manage Roles, the role moved above the bot's), the grant
stays pending, and the member running ``/claim`` again or a manager running ``/codes regrant``
finishes it. Claims made through the API (by email only) have no member to grant a role to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import DateTime, Integer, func, insert, literal, select, update
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.codes import get_code
from shared.errors import InvalidInput
from shared.models import Claim, Code, DiscordRoleGrant
from shared.records import CODE_COLUMNS, CodeRecord
from shared.transactions import begin_read, begin_write
from shared.validation import normalize_code

_IN_CHUNK = 500
_code_columns = [getattr(Code, name) for name in CODE_COLUMNS]


@dataclass(frozen=True, slots=True)
class GrantState:
    """Where a member's role grant for one code stands."""

    granted_at: dt.datetime | None
    attempts: int
    last_error: str | None

    @property
    def pending(self) -> bool:
        return self.granted_at is None


def _claim_of(code_id: int, discord_user_id: int):
    return select(Claim.id).where(Claim.code_id == code_id, Claim.discord_user_id == discord_user_id)


def open_role_grant(session: Session, code_id: int, discord_user_id: int) -> None:
    """Remember that this member's claim of this code owes them the code's role (pending).

    Call it in the claim's own transaction (``begin_write`` before the claim), so the two commit
    together.
    """
    begin_write(session)
    now = utcnow()
    session.execute(
        insert(DiscordRoleGrant).from_select(
            ["claim_id", "attempts", "created_at"],
            select(Claim.id, literal(0, Integer), literal(now, DateTime)).where(
                Claim.code_id == code_id, Claim.discord_user_id == discord_user_id
            ),
        )
    )


def pending_role_grant(
    session: Session, project_id: int, code: str, discord_user_id: int, guild_id: int
) -> CodeRecord | None:
    """The code, if this member claimed it here and is still owed its role; else ``None``."""
    begin_read(session)
    try:
        value = normalize_code(code)
    except InvalidInput:
        return None
    row = session.execute(
        select(*_code_columns)
        .join(Claim, Claim.code_id == Code.id)
        .join(DiscordRoleGrant, DiscordRoleGrant.claim_id == Claim.id)
        .where(
            Code.project_id == project_id,
            Code.code == value,
            Code.discord_guild_id == guild_id,
            Code.discord_role_id.is_not(None),
            Claim.discord_user_id == discord_user_id,
            DiscordRoleGrant.granted_at.is_(None),
        )
    ).first()
    return CodeRecord.from_row(row) if row is not None else None


def finish_role_grant(session: Session, code_id: int, discord_user_id: int) -> bool:
    """Mark the grant done; ``False`` if it was not pending (done already, or the claim is gone)."""
    begin_write(session)
    now = utcnow()
    done = session.execute(
        update(DiscordRoleGrant)
        .where(
            DiscordRoleGrant.claim_id.in_(_claim_of(code_id, discord_user_id)),
            DiscordRoleGrant.granted_at.is_(None),
        )
        .values(granted_at=now, attempts=DiscordRoleGrant.attempts + 1, last_error=None)
    )
    return done.rowcount > 0


def fail_role_grant(session: Session, code_id: int, discord_user_id: int, error: str) -> None:
    """Count a refused attempt; the grant stays pending."""
    begin_write(session)
    session.execute(
        update(DiscordRoleGrant)
        .where(
            DiscordRoleGrant.claim_id.in_(_claim_of(code_id, discord_user_id)),
            DiscordRoleGrant.granted_at.is_(None),
        )
        .values(attempts=DiscordRoleGrant.attempts + 1, last_error=error[:200])
    )


def pending_role_grants(session: Session, project_id: int, code: str) -> tuple[CodeRecord, list[int]]:
    """The code and the members still owed its role, oldest claim first."""
    begin_read(session)
    record = get_code(session, project_id, code)
    members = list(
        session.scalars(
            select(Claim.discord_user_id)
            .join(DiscordRoleGrant, DiscordRoleGrant.claim_id == Claim.id)
            .where(Claim.code_id == record.id, DiscordRoleGrant.granted_at.is_(None))
            .order_by(Claim.id)
        )
    )
    return record, members


def role_grant_states(session: Session, code_id: int, discord_user_ids: list[int]) -> dict[int, GrantState]:
    """The grant of each of these members' claims of a code; members without one are left out
    (their claim grants no role here, or was made before grants were recorded)."""
    begin_read(session)
    states: dict[int, GrantState] = {}
    for start in range(0, len(discord_user_ids), _IN_CHUNK):
        chunk = discord_user_ids[start : start + _IN_CHUNK]
        rows = session.execute(
            select(
                Claim.discord_user_id,
                DiscordRoleGrant.granted_at,
                DiscordRoleGrant.attempts,
                DiscordRoleGrant.last_error,
            )
            .join(DiscordRoleGrant, DiscordRoleGrant.claim_id == Claim.id)
            .where(Claim.code_id == code_id, Claim.discord_user_id.in_(chunk))
        )
        states.update(
            {row.discord_user_id: GrantState(row.granted_at, row.attempts, row.last_error) for row in rows}
        )
    return states


def count_pending_role_grants(session: Session, code_id: int) -> int:
    begin_read(session)
    return session.execute(
        select(func.count())
        .select_from(DiscordRoleGrant)
        .join(Claim, Claim.id == DiscordRoleGrant.claim_id)
        .where(Claim.code_id == code_id, DiscordRoleGrant.granted_at.is_(None))
    ).scalar_one()


__all__ = [
    "GrantState",
    "count_pending_role_grants",
    "fail_role_grant",
    "finish_role_grant",
    "open_role_grant",
    "pending_role_grant",
    "pending_role_grants",
    "role_grant_states",
]
