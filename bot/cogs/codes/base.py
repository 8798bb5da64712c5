"""What every /codes command shares: the manager check, code autocomplete, the log channel."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from sqlalchemy.orm import Session

from bot.errors import NotManager
from bot.i18n import t
from shared.clock import utcnow
from shared.codes import list_codes
from shared.guilds import GuildLink, GuildNotLinked, get_guild_link

if TYPE_CHECKING:
    from bot.client import CodesBot

log = logging.getLogger("bot")

AUTOCOMPLETE_LIMIT = 25


def holds_role(member: discord.Member, role_id: int) -> bool:
    """Whether the member has the role, by the role ids their interaction payload carries.

    ``Member.get_role`` looks the role up in the guild cache, which is empty while the server
    loads (or after it was evicted), and would refuse a manager then. discord.py keeps the payload's
    ids in ``Member._roles`` and has no public accessor for them (pinned: discord.py 2.7.1).
    """
    return member.get_role(role_id) is not None or member._roles.has(role_id)


def is_manager(interaction: discord.Interaction, link: GuildLink) -> bool:
    """Manage Server, or the manager role set with /codes config.

    ``default_permissions`` only hides the group; server admins can show it to anyone, so this
    runs on every command.
    """
    if interaction.permissions.manage_guild:
        return True
    member = interaction.user
    return (
        link.manager_role_id is not None
        and isinstance(member, discord.Member)
        and holds_role(member, link.manager_role_id)
    )


class ManagerCommands:
    """Base of the /codes feature mixins; the cog that combines them sets ``bot``."""

    bot: CodesBot

    async def manager_link(self, interaction: discord.Interaction) -> GuildLink:
        """Defer (privately), then the server's link, if the member may manage codes."""
        if not interaction.response.is_done():
            await interaction.response.defer(ephemeral=True, thinking=True)
        # Discord keeps the group out of DMs (guild_only); this holds should that ever change.
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        link = await self.bot.runner.read(get_guild_link, interaction.guild_id)
        if not is_manager(interaction, link):
            raise NotManager(link.manager_role_id)
        return link

    async def log_event(self, interaction: discord.Interaction, link: GuildLink, key: str, **params) -> bool:
        """One line in the log channel, in the server's language, naming who did it."""
        locale = interaction.guild_locale
        content = t(locale, key, user=interaction.user.mention, **params)
        return await self.bot.post_log(link.log_channel_id, link.guild_id, content, locale=locale)


def _codes_for_autocomplete(session: Session, guild_id: int, prefix: str):
    link = get_guild_link(session, guild_id)
    page = list_codes(session, link.project_id, limit=AUTOCOMPLETE_LIMIT, prefix=prefix or None)
    return link, page.items


async def code_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The project's codes that start with what the manager typed, newest first; none for others.

    Discord drops suggestions that arrive after 3 seconds; past ``bot.autocomplete_timeout`` the
    answer is an empty list, in time, rather than a full one too late.
    """
    bot: CodesBot = interaction.client  # type: ignore[assignment]
    if interaction.guild_id is None:
        return []
    try:
        link, codes = await asyncio.wait_for(
            bot.runner.read(_codes_for_autocomplete, interaction.guild_id, current[:64]),
            timeout=bot.autocomplete_timeout,
        )
    except GuildNotLinked:
        return []
    except TimeoutError:
        log.warning("Code suggestions took over %s s; answered none", bot.autocomplete_timeout)
        return []
    if not is_manager(interaction, link):
        return []
    now = utcnow()
    locale = interaction.locale
    return [app_commands.Choice(name=_suggestion(code, now, locale)[:100], value=code.code) for code in codes]


def _suggestion(code, now, locale) -> str:
    status = t(locale, f"status.{code.status(now)}")
    return f"{code.code} · {status} · {code.claims}/{code.allowed_claims}"
