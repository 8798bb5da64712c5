"""/claim: a member claims a code, by their Discord identity or by email, and gets its role."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands
from sqlalchemy.orm import Session

from shared.codes import claim_code
from shared.errors import CodeReserved, DomainError
from shared.guilds import (
    GuildLink,
    GuildNotLinked,
    TooManyFailedClaims,
    check_claim_allowed,
    get_guild_link,
    record_claim_failure,
)
from shared.records import ClaimResult

if TYPE_CHECKING:
    from bot.client import CodesBot

log = logging.getLogger("bot")


def _claim(
    session: Session, guild_id: int, user_id: int, code: str, email: str | None, failure_limit: int
) -> tuple[GuildLink, ClaimResult]:
    link = get_guild_link(session, guild_id)
    check_claim_allowed(session, user_id, limit=failure_limit)
    # The member is always recorded: once per member per code, with or without an email.
    return link, claim_code(session, link.project_id, code, email=email, discord_user_id=user_id)


class ClaimCog(commands.Cog):
    def __init__(self, bot: CodesBot):
        self.bot = bot

    @app_commands.command(name="claim", description="Claim a code you were given.")
    @app_commands.guild_only()
    @app_commands.describe(
        code="The code, as you received it.",
        email="Your email address, if the code was sent to or reserved for it.",
    )
    async def claim(
        self,
        interaction: discord.Interaction,
        code: app_commands.Range[str, 1, 64],
        email: app_commands.Range[str, 3, 320] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        member = interaction.user
        try:
            link, result = await self.bot.runner.run(
                _claim,
                interaction.guild_id,
                member.id,
                code,
                email,
                self.bot.settings.bot_claim_failures_per_minute,
            )
        except (GuildNotLinked, TooManyFailedClaims):
            raise
        except DomainError as exc:
            # Counted in the database, so guesses spread over shards and processes add up.
            await self.bot.runner.run(record_claim_failure, member.id, interaction.guild_id)
            if isinstance(exc, CodeReserved) and email is None:
                raise CodeReserved(
                    "This code is reserved for an email address. If it was sent to you, claim it with "
                    "`/claim` and fill in `email` with that address."
                ) from None
            raise

        record = result.code
        message = f"🎉 You claimed `{record.code}`."
        role_note = ""
        if record.discord_role_id is not None and record.discord_guild_id == interaction.guild_id:
            role = f"<@&{record.discord_role_id}>"
            try:
                await self.bot.http.add_role(
                    interaction.guild_id,
                    member.id,
                    record.discord_role_id,
                    reason="Claimed a code with /claim",
                )
                message += f" You now have the {role} role."
            except discord.HTTPException as exc:
                log.warning(
                    "Could not grant role %s to %s in guild %s: %s",
                    record.discord_role_id,
                    member.id,
                    interaction.guild_id,
                    exc,
                )
                message += f" I couldn't give you the {role} role, though; the server staff have been told."
                role_note = f" ⚠️ I couldn't grant {role}: check my Manage Roles permission and role position."
        await interaction.followup.send(message, ephemeral=True)
        # A reserved code is meant for one person: its value stays out of the log.
        shown = "a reserved code" if record.reserved_for else f"`{record.code}`"
        await self.bot.post_log(
            link.log_channel_id,
            link.guild_id,
            f"{member.mention} claimed {shown} ({record.claims}/{record.allowed_claims}).{role_note}",
        )
