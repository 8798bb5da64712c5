"""What every /codes command shares: the manager check, code autocomplete, the log channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from sqlalchemy.orm import Session

from bot.errors import NotManager
from shared.clock import utcnow
from shared.codes import list_codes
from shared.guilds import GuildLink, GuildNotLinked, get_guild_link

if TYPE_CHECKING:
    from bot.client import CodesBot

AUTOCOMPLETE_LIMIT = 25


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
        and member.get_role(link.manager_role_id) is not None
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

    async def log_event(self, link: GuildLink, content: str) -> None:
        await self.bot.post_log(link.log_channel_id, link.guild_id, content)


def _codes_for_autocomplete(session: Session, guild_id: int, prefix: str):
    link = get_guild_link(session, guild_id)
    page = list_codes(session, link.project_id, limit=AUTOCOMPLETE_LIMIT, prefix=prefix or None)
    return link, page.items


async def code_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The project's codes that start with what the manager typed, newest first; none for others."""
    bot: CodesBot = interaction.client  # type: ignore[assignment]
    if interaction.guild_id is None:
        return []
    try:
        link, codes = await bot.runner.read(_codes_for_autocomplete, interaction.guild_id, current[:64])
    except GuildNotLinked:
        return []
    if not is_manager(interaction, link):
        return []
    now = utcnow()
    return [
        app_commands.Choice(
            name=f"{code.code} · {code.status(now).replace('_', ' ')} · {code.claims}/{code.allowed_claims}"[
                :100
            ],
            value=code.code,
        )
        for code in codes
    ]
