"""/claim: a member claims a code, by their Discord identity or by email, and gets its role."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.claiming import claim_for_member
from bot.i18n import cmd

if TYPE_CHECKING:
    from bot.client import CodesBot


class ClaimCog(commands.Cog):
    def __init__(self, bot: CodesBot):
        self.bot = bot

    @app_commands.command(name=cmd("claim.name"), description=cmd("claim.description"))
    @app_commands.guild_only()
    @app_commands.rename(code=cmd("claim.option.code"), email=cmd("claim.option.email"))
    @app_commands.describe(
        code=cmd("claim.option.code.description"), email=cmd("claim.option.email.description")
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
        await claim_for_member(self.bot, interaction, code, email)
