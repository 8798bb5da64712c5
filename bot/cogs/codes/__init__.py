"""The managers' /codes group: one cog, assembled from one mixin per feature."""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord import app_commands
from discord.ext import commands

from bot.cogs.codes.browse import BrowseCommands
from bot.cogs.codes.claims import ClaimsCommands
from bot.cogs.codes.delete import DeleteCommands
from bot.cogs.codes.generate import GenerateCommands
from bot.cogs.codes.panel import PanelCommands
from bot.cogs.codes.send import SendCommands
from bot.cogs.codes.setup import SetupCommands
from bot.i18n import cmd

if TYPE_CHECKING:
    from bot.client import CodesBot


@app_commands.guild_only()
# Who sees /codes: Manage Server by default. Server admins can show it to the manager role
# (Server Settings → Integrations; /codes config manager_role says how); every command also
# checks at run time, since admins can show it to anyone.
@app_commands.default_permissions(manage_guild=True)
class CodesCog(
    SetupCommands,
    GenerateCommands,
    SendCommands,
    DeleteCommands,
    BrowseCommands,
    ClaimsCommands,
    PanelCommands,
    commands.GroupCog,
    group_name=cmd("codes.name"),
    group_description=cmd("codes.description"),
):
    def __init__(self, bot: CodesBot):
        self.bot = bot
        super().__init__()
