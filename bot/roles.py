"""Roles that codes grant: whether the bot can grant one, and granting or taking it back."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.i18n import t
from shared.records import CodeRecord

if TYPE_CHECKING:
    from bot.client import CodesBot

log = logging.getLogger("bot")


def grants_role_in(code: CodeRecord, guild_id: int | None) -> bool:
    """A code grants its role only in the server it was made in."""
    return code.discord_role_id is not None and guild_id is not None and code.discord_guild_id == guild_id


def bot_role_problem(guild: discord.Guild | None, role: discord.Role, locale) -> str | None:
    """Why the bot could not grant ``role``, or ``None`` if it can."""
    if role.is_default():
        return t(locale, "role.everyone")
    if role.managed:
        return t(locale, "role.managed", role=role.mention)
    # Roles and the bot's own member come with the server (the guilds intent) once it has loaded.
    me = guild.me if guild is not None else None
    if me is None or guild.get_role(guild.id) is None:
        return t(locale, "role.loading")
    if not me.guild_permissions.manage_roles:
        return t(locale, "role.no_manage_roles")
    if not role.is_assignable():
        return t(locale, "role.above_bot", role=role.mention)
    return None


def role_problem(interaction: discord.Interaction, role: discord.Role) -> str | None:
    """Why codes made by this member could not grant ``role``, or ``None``: the bot must be able
    to grant it, and codes must not hand out more than their creator could."""
    locale = interaction.locale
    guild = interaction.guild
    if problem := bot_role_problem(guild, role, locale):
        return problem
    member = interaction.user
    if isinstance(member, discord.Member) and member.id != guild.owner_id:
        if not interaction.permissions.manage_roles:
            return t(locale, "role.manager_needs_manage_roles")
        if role >= member.top_role:
            return t(locale, "role.above_manager", role=role.mention)
    return None


def cached_role(guild: discord.Guild | None, role_id: int | None) -> discord.Role | None:
    if guild is None or role_id is None:
        return None
    return guild.get_role(role_id)


def http_error_text(exc: discord.HTTPException) -> str:
    """What Discord said, short enough to store: ``Missing Permissions (50013)``."""
    return f"{exc.text or exc.status} ({exc.code})"[:200]


async def grant_role(bot: CodesBot, guild_id: int, user_id: int, role_id: int, reason: str) -> str | None:
    """Give the member the role; what went wrong, or ``None`` when they have it."""
    try:
        await bot.http.add_role(guild_id, user_id, role_id, reason=reason)
    except discord.HTTPException as exc:
        log.warning("Could not grant role %s to %s in guild %s: %s", role_id, user_id, guild_id, exc)
        return http_error_text(exc)
    return None


async def remove_role(bot: CodesBot, guild_id: int, user_id: int, role_id: int, reason: str) -> bool:
    try:
        await bot.http.remove_role(guild_id, user_id, role_id, reason=reason)
    except discord.HTTPException as exc:
        log.info("Could not remove role %s from %s in guild %s: %s", role_id, user_id, guild_id, exc)
        return False
    return True
