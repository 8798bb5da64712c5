"""Discord servers (guilds) linked to projects, and what the bot keeps per guild and per member.

A guild is linked to one project, by its secret key (``/codes link``) or by an operator (``flask
guilds link``). The key is only verified here, through its digest: it is never stored or returned.

The failed-claim limit lives in the database (``discord_claim_failures``), so every shard and every
bot process counts the same attempts.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.codes import get_code, refuse_unsendable
from shared.errors import (
    CodeAlreadyClaimed,
    CodeReserved,
    DomainError,
    NotFound,
)
from shared.models import Claim, Code, DiscordClaimFailure, Guild, Project
from shared.projects import authenticate, get_project_by_name
from shared.records import CodeRecord
from shared.transactions import begin_read, begin_write

CLAIM_FAILURE_WINDOW = dt.timedelta(minutes=1)
# What an operator reads when a server id is mistyped, or a placeholder like GUILD_ID is pasted.
GUILD_ID_RULE = (
    "must be a number (the server's id: in Discord, turn on Developer Mode under Settings > "
    "Advanced, then right-click the server and choose Copy Server ID)"
)
_GUILD_ID = re.compile(r"[1-9][0-9]{0,18}")
_IN_CHUNK = 500


def parse_guild_id(text: str) -> int | None:
    """The Discord server id ``text`` spells (a positive 64-bit number), else None."""
    text = text.strip()
    if _GUILD_ID.fullmatch(text) and int(text) < 2**63:
        return int(text)
    return None


class GuildNotLinked(NotFound):
    code = "guild_not_linked"
    default_message = "This Discord server is not linked to a project."


class TooManyFailedClaims(DomainError):
    code = "too_many_failed_claims"
    default_message = "Too many failed claims."

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"Too many failed claims; try again in {retry_after} seconds.")


@dataclass(frozen=True, slots=True)
class GuildLink:
    guild_id: int
    project_id: int
    project_name: str
    manager_role_id: int | None
    log_channel_id: int | None
    linked_at: dt.datetime
    # Log channel lines show codes in full (else masked): off unless the server turns it on.
    log_code_values: bool = False


class _Unchanged:
    """The default of optional settings: leave the stored value as it is (``None`` clears it)."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = _Unchanged()

_select_link = select(
    Guild.guild_id,
    Guild.project_id,
    Project.name.label("project_name"),
    Guild.manager_role_id,
    Guild.log_channel_id,
    Guild.linked_at,
    Guild.log_code_values,
).join(Project, Project.id == Guild.project_id)


def _link_from_row(row) -> GuildLink:
    return GuildLink(**row._mapping)


# --- linking ----------------------------------------------------------------------------------


def link_guild(session: Session, guild_id: int, secret_key: str) -> GuildLink:
    """Link ``guild_id`` to the project whose secret key this is; re-linking moves it."""
    api_key = authenticate(session, secret_key.strip(), secret_required=True)
    return _link(session, guild_id, api_key.project_id)


def link_guild_to_project(session: Session, guild_id: int, project_name: str) -> GuildLink:
    """The operator's way in (the CLI): link by project name."""
    return _link(session, guild_id, get_project_by_name(session, project_name).id)


def _link(session: Session, guild_id: int, project_id: int) -> GuildLink:
    begin_write(session)
    guild = session.get(Guild, guild_id, with_for_update=True)
    if guild is None:
        try:
            # Two links of a new guild at once: the primary key keeps one, the other updates it.
            with session.begin_nested():
                session.add(Guild(guild_id=guild_id, project_id=project_id, linked_at=utcnow()))
        except IntegrityError:
            guild = session.get(Guild, guild_id, with_for_update=True, populate_existing=True)
    if guild is not None and guild.project_id != project_id:
        guild.project_id = project_id
        guild.linked_at = utcnow()
    session.flush()
    return get_guild_link(session, guild_id)


def unlink_guild(session: Session, guild_id: int) -> None:
    begin_write(session)
    if session.execute(delete(Guild).where(Guild.guild_id == guild_id)).rowcount == 0:
        raise GuildNotLinked()


def get_guild_link(session: Session, guild_id: int) -> GuildLink:
    row = session.execute(_select_link.where(Guild.guild_id == guild_id)).first()
    if row is None:
        raise GuildNotLinked()
    return _link_from_row(row)


def list_guild_links(session: Session) -> list[GuildLink]:
    begin_read(session)
    rows = session.execute(_select_link.order_by(Guild.linked_at, Guild.guild_id)).all()
    return [_link_from_row(row) for row in rows]


def set_guild_config(
    session: Session,
    guild_id: int,
    *,
    manager_role_id: int | None | _Unchanged = UNCHANGED,
    log_channel_id: int | None | _Unchanged = UNCHANGED,
    log_code_values: bool | _Unchanged = UNCHANGED,
) -> GuildLink:
    """Set (or, with ``None``, clear) the manager role and the log channel of a linked guild,
    and whether its log lines show codes in full."""
    begin_write(session)
    guild = session.get(Guild, guild_id, with_for_update=True)
    if guild is None:
        raise GuildNotLinked()
    if not isinstance(manager_role_id, _Unchanged):
        guild.manager_role_id = manager_role_id
    if not isinstance(log_channel_id, _Unchanged):
        guild.log_channel_id = log_channel_id
    if not isinstance(log_code_values, _Unchanged):
        guild.log_code_values = log_code_values
    session.flush()
    return get_guild_link(session, guild_id)


# --- failed claims ----------------------------------------------------------------------------


def failed_claims_retry_after(
    session: Session, discord_user_id: int, *, limit: int, window: dt.timedelta = CLAIM_FAILURE_WINDOW
) -> int | None:
    """Seconds until this member may try again, or ``None`` while under ``limit`` failures a window."""
    now = utcnow()
    count, oldest = session.execute(
        select(func.count(), func.min(DiscordClaimFailure.failed_at)).where(
            DiscordClaimFailure.discord_user_id == discord_user_id,
            DiscordClaimFailure.failed_at > now - window,
        )
    ).one()
    if count < limit:
        return None
    # The oldest failure in the window is the first to leave it.
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def check_claim_allowed(
    session: Session, discord_user_id: int, *, limit: int, window: dt.timedelta = CLAIM_FAILURE_WINDOW
) -> None:
    retry_after = failed_claims_retry_after(session, discord_user_id, limit=limit, window=window)
    if retry_after is not None:
        raise TooManyFailedClaims(retry_after)


def record_claim_failure(
    session: Session,
    discord_user_id: int,
    guild_id: int | None,
    *,
    window: dt.timedelta = CLAIM_FAILURE_WINDOW,
) -> None:
    """Count one refused claim; this member's failures older than the window go at the same time."""
    begin_write(session)
    now = utcnow()
    session.execute(
        delete(DiscordClaimFailure).where(
            DiscordClaimFailure.discord_user_id == discord_user_id,
            DiscordClaimFailure.failed_at <= now - window,
        )
    )
    session.add(DiscordClaimFailure(discord_user_id=discord_user_id, guild_id=guild_id, failed_at=now))
    session.flush()


# --- codes as Discord sees them ---------------------------------------------------------------


def code_for_member(session: Session, project_id: int, code: str, discord_user_id: int) -> CodeRecord:
    """A code that may be handed to a Discord member (by DM): the rules of ``send_code``.

    On top of the rule for any recipient (``refuse_unsendable``): a code reserved for an email
    address goes by email, and a member who already claimed it gets nothing new.
    """
    record = get_code(session, project_id, code)
    refuse_unsendable(record, utcnow())
    if record.reserved_for is not None:
        raise CodeReserved("This code is reserved for an email address; send it by email instead.")
    claimed = session.execute(
        select(Claim.id).where(Claim.code_id == record.id, Claim.discord_user_id == discord_user_id).limit(1)
    ).first()
    if claimed is not None:
        raise CodeAlreadyClaimed("This member has already claimed this code.")
    return record


def members_keeping_role(
    session: Session, project_id: int, guild_id: int, role_id: int, discord_user_ids: list[int]
) -> set[int]:
    """Which of these members still hold a claim on a code that grants this role in this guild."""
    keeping: set[int] = set()
    for start in range(0, len(discord_user_ids), _IN_CHUNK):
        chunk = discord_user_ids[start : start + _IN_CHUNK]
        keeping.update(
            session.scalars(
                select(Claim.discord_user_id)
                .distinct()
                .join(Code, Code.id == Claim.code_id)
                .where(
                    Code.project_id == project_id,
                    Code.discord_guild_id == guild_id,
                    Code.discord_role_id == role_id,
                    Claim.discord_user_id.in_(chunk),
                )
            )
        )
    return keeping


__all__ = [
    "CLAIM_FAILURE_WINDOW",
    "UNCHANGED",
    "GuildLink",
    "GuildNotLinked",
    "TooManyFailedClaims",
    "check_claim_allowed",
    "code_for_member",
    "failed_claims_retry_after",
    "get_guild_link",
    "link_guild",
    "link_guild_to_project",
    "list_guild_links",
    "members_keeping_role",
    "record_claim_failure",
    "set_guild_config",
    "unlink_guild",
]
