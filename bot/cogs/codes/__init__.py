"""The managers' /codes group: one cog, assembled from one mixin per feature."""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord import app_commands
from discord.ext import commands

from bot.cogs.codes.browse import BrowseCommands
from bot.cogs.codes.delete import DeleteCommands
from bot.cogs.codes.generate import GenerateCommands
from bot.cogs.codes.send import SendCommands
from bot.cogs.codes.setup import SetupCommands

if TYPE_CHECKING:
    from bot.client import CodesBot


@app_commands.guild_only()
# A hint for server admins, who can override it; every command also checks at run time.
@app_commands.default_permissions(manage_guild=True)
class CodesCog(
    SetupCommands,
    GenerateCommands,
    SendCommands,
    DeleteCommands,
    BrowseCommands,
    commands.GroupCog,
    group_name="codes",
    group_description="Manage this server's codes (managers only).",
):
    def __init__(self, bot: CodesBot):
        self.bot = bot
        super().__init__()
