"""Redeem panels: a Discord message with a "Redeem a code" button, at most one per channel.

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
from shared.errors import Conflict, InvalidInput, NotFound
from shared.models import PANEL_DESCRIPTION_LENGTH, PANEL_TITLE_LENGTH, DiscordPanel
from shared.transactions import begin_read, begin_write

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
) -> tuple[PanelRecord, bool]:
    """The channel's panel with its new texts, and whether it is new (then still to be posted).

    Texts left ``None`` keep the panel's current ones (a new panel takes the defaults).
    Raises PanelBeingPosted while another call is posting this channel's panel.
    """
    begin_write(session)
    now = utcnow()
    panel = session.get(DiscordPanel, channel_id, with_for_update=True)
    if panel is not None and panel.guild_id != guild_id:
        raise PanelNotFound()
    abandoned = panel is not None and panel.message_id is None
    if abandoned and panel.updated_at > now - POSTING_LEASE:
        raise PanelBeingPosted()
    if title is None:
        title = panel.title if panel else default_title
    if description is None:
        description = panel.description if panel else default_description
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
        )
        try:
            with session.begin_nested():
                session.add(panel)
        except IntegrityError:
            raise PanelBeingPosted() from None
        return _record(panel), True
    panel.title, panel.description, panel.updated_at = title, description, now
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


def list_panels(session: Session, guild_id: int) -> list[PanelRecord]:
    begin_read(session)
    panels = session.scalars(
        select(DiscordPanel).where(DiscordPanel.guild_id == guild_id).order_by(DiscordPanel.created_at)
    )
    return [_record(panel) for panel in panels]


__all__ = [
    "PanelBeingPosted",
    "PanelNotFound",
    "PanelRecord",
    "drop_panel",
    "list_panels",
    "reserve_panel",
    "set_panel_message",
]
