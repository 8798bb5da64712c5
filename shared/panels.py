"""Panels: a Discord message with a button, at most one per channel. A redeem panel's button
opens a form to claim a code; a hand-out panel's gives each member one code of its batch
(``hand_out``), recorded by their Discord id, so a member gets one code per batch.

The row is taken before the message is posted (``message_id`` null), so two managers setting up a
panel in one channel at once get one panel: the primary key on the channel decides. A row left
without a message for longer than ``POSTING_LEASE`` (the bot stopped while posting) is taken over.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.codes.assign import assign_code, has_free_codes
from shared.errors import Conflict, InvalidInput, NotFound
from shared.guilds import GuildLink, get_guild_link
from shared.models import PANEL_DESCRIPTION_LENGTH, PANEL_TITLE_LENGTH, DiscordPanel
from shared.records import AssignResult
from shared.transactions import begin_read, begin_write
from shared.validation import normalize_batch

POSTING_LEASE = dt.timedelta(minutes=1)


class PanelNotFound(NotFound):
    code = "panel_not_found"
    default_message = "There is no redeem panel in this channel."


class PanelBeingPosted(Conflict):
    code = "panel_being_posted"
    default_message = "A redeem panel is being set up in this channel right now."


@dataclass(frozen=True, slots=True)
class PanelRecord:
    guild_id: int
    channel_id: int
    message_id: int | None
    title: str
    description: str
    created_by: int
    created_at: dt.datetime
    updated_at: dt.datetime
    # A hand-out panel's batch; None for a redeem panel.
    batch: str | None = None


def _record(panel: DiscordPanel) -> PanelRecord:
    return PanelRecord(
        guild_id=panel.guild_id,
        channel_id=panel.channel_id,
        message_id=panel.message_id,
        title=panel.title,
        description=panel.description,
        created_by=panel.created_by,
        created_at=panel.created_at,
        updated_at=panel.updated_at,
        batch=panel.batch,
    )


def _check_text(title: str, description: str) -> None:
    errors: dict[str, list[str]] = {}
    if not title.strip() or len(title) > PANEL_TITLE_LENGTH:
        errors["title"] = [f"Must be 1 to {PANEL_TITLE_LENGTH} characters."]
    if not description.strip() or len(description) > PANEL_DESCRIPTION_LENGTH:
        errors["description"] = [f"Must be 1 to {PANEL_DESCRIPTION_LENGTH} characters."]
    if errors:
        raise InvalidInput(errors)


def reserve_panel(
    session: Session,
    guild_id: int,
    channel_id: int,
    *,
    title: str | None,
    description: str | None,
    default_title: str,
    default_description: str,
    created_by: int,
    batch: str | None = None,
) -> tuple[PanelRecord, bool]:
    """The channel's panel with its new texts, and whether it is new (then still to be posted).

    Texts left ``None`` keep the panel's current ones; a new panel, or a redeem panel that becomes
    a hand-out panel, takes the defaults. ``batch`` makes it a hand-out panel for that batch
    (``None`` keeps the panel's kind). Raises PanelBeingPosted while another call is posting this
    channel's panel.
    """
    if batch is not None:
        batch = normalize_batch(batch)
    begin_write(session)
    now = utcnow()
    panel = session.get(DiscordPanel, channel_id, with_for_update=True)
    if panel is not None and panel.guild_id != guild_id:
        raise PanelNotFound()
    abandoned = panel is not None and panel.message_id is None
    if abandoned and panel.updated_at > now - POSTING_LEASE:
        raise PanelBeingPosted()
    # Texts written for a redeem panel do not describe a hand-out.
    kept = panel if panel is not None and (batch is None or panel.batch is not None) else None
    if title is None:
        title = kept.title if kept else default_title
    if description is None:
        description = kept.description if kept else default_description
    _check_text(title, description)
    if panel is None:
        panel = DiscordPanel(
            guild_id=guild_id,
            channel_id=channel_id,
            message_id=None,
            title=title,
            description=description,
            created_by=created_by,
            created_at=now,
            updated_at=now,
            batch=batch,
        )
        try:
            with session.begin_nested():
                session.add(panel)
        except IntegrityError:
            raise PanelBeingPosted() from None
        return _record(panel), True
    panel.title, panel.description, panel.updated_at = title, description, now
    if batch is not None:
        panel.batch = batch
    if abandoned:
        panel.created_by = created_by
    session.flush()
    return _record(panel), abandoned


def set_panel_message(session: Session, channel_id: int, message_id: int) -> None:
    """The panel's message, once posted (or posted again after someone deleted it)."""
    begin_write(session)
    panel = session.get(DiscordPanel, channel_id, with_for_update=True)
    if panel is None:
        raise PanelNotFound()
    panel.message_id = message_id
    panel.updated_at = utcnow()
    session.flush()


def drop_panel(session: Session, guild_id: int, channel_id: int) -> PanelRecord:
    """Forget the channel's panel; the caller deletes its message."""
    begin_write(session)
    panel = session.get(DiscordPanel, channel_id, with_for_update=True)
    if panel is None or panel.guild_id != guild_id:
        raise PanelNotFound()
    record = _record(panel)
    session.execute(delete(DiscordPanel).where(DiscordPanel.channel_id == channel_id))
    return record


@dataclass(frozen=True, slots=True)
class HandOut:
    link: GuildLink
    batch: str
    result: AssignResult
    # This member took the batch's last free code.
    was_last: bool


def hand_out(session: Session, guild_id: int, channel_id: int, discord_user_id: int) -> HandOut:
    """The code of the channel's hand-out panel's batch for this member: theirs already, or a new
    one (``assign_code``). PanelNotFound when the channel has no hand-out panel any more."""
    begin_read(session)  # then the hand-out's own atomic statement
    link = get_guild_link(session, guild_id)
    panel = session.get(DiscordPanel, channel_id)
    if panel is None or panel.guild_id != guild_id or panel.batch is None:
        raise PanelNotFound("This hand-out panel was taken down.")
    result = assign_code(session, link.project_id, panel.batch, discord_user_id=discord_user_id)
    last = result.new and not has_free_codes(session, link.project_id, panel.batch)
    return HandOut(link, panel.batch, result, last)


def list_panels(session: Session, guild_id: int) -> list[PanelRecord]:
    begin_read(session)
    panels = session.scalars(
        select(DiscordPanel).where(DiscordPanel.guild_id == guild_id).order_by(DiscordPanel.created_at)
    )
    return [_record(panel) for panel in panels]


__all__ = [
    "HandOut",
    "PanelBeingPosted",
    "PanelNotFound",
    "PanelRecord",
    "drop_panel",
    "hand_out",
    "list_panels",
    "reserve_panel",
    "set_panel_message",
]
