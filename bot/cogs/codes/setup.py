"""/codes link and /codes config: which project this server uses, who manages it, where it logs."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.cogs.codes.base import ManagerCommands
from bot.errors import Refusal
from shared.guilds import UNCHANGED, link_guild, set_guild_config

CLEARABLE = [
    app_commands.Choice(name="manager role", value="manager_role"),
    app_commands.Choice(name="log channel", value="log_channel"),
]


def _require_manage_guild(interaction: discord.Interaction, action: str) -> None:
    if not interaction.permissions.manage_guild:
        raise Refusal(f"Only members with **Manage Server** can {action}.")


class SetupCommands(ManagerCommands):
    @app_commands.command(
        name="link", description="Link this server to a codes project, with its secret key."
    )
    @app_commands.describe(secret_key="The project's secret key (sk_...). Checked, never shown or stored.")
    async def link(
        self, interaction: discord.Interaction, secret_key: app_commands.Range[str, 1, 100]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        _require_manage_guild(interaction, "link this server")
        link = await self.bot.runner.run(link_guild, interaction.guild_id, secret_key)
        await interaction.followup.send(
            f"Linked this server to the project **{link.project_name}**. Managers can use `/codes` "
            "now, and members can claim codes with `/claim`.",
            ephemeral=True,
        )
        await self.log_event(
            link, f"{interaction.user.mention} linked this server to the project **{link.project_name}**."
        )

    @app_commands.command(name="config", description="Choose a manager role and a log channel, or show them.")
    @app_commands.describe(
        manager_role="Members with this role may manage codes (besides Manage Server).",
        log_channel="Where I log generate, send, delete and claim events.",
        clear="Remove one setting.",
    )
    @app_commands.choices(clear=CLEARABLE)
    async def config(
        self,
        interaction: discord.Interaction,
        manager_role: discord.Role | None = None,
        log_channel: discord.TextChannel | None = None,
        clear: app_commands.Choice[str] | None = None,
    ) -> None:
        link = await self.manager_link(interaction)
        changes = {}
        if manager_role is not None or log_channel is not None or clear is not None:
            _require_manage_guild(interaction, "change these settings")
        if clear is not None:
            changes[f"{clear.value}_id"] = None
        if manager_role is not None:
            if manager_role.is_default():
                raise Refusal("@everyone can't be the manager role: everyone would manage codes.")
            changes["manager_role_id"] = manager_role.id
        if log_channel is not None:
            changes["log_channel_id"] = log_channel.id
        if changes:
            link = await self.bot.runner.run(
                set_guild_config,
                link.guild_id,
                manager_role_id=changes.get("manager_role_id", UNCHANGED),
                log_channel_id=changes.get("log_channel_id", UNCHANGED),
            )
        lines = [
            f"Project: **{link.project_name}**",
            "Managers: members with **Manage Server**"
            + (f" or <@&{link.manager_role_id}>" if link.manager_role_id else ""),
            f"Log channel: {f'<#{link.log_channel_id}>' if link.log_channel_id else 'none'}",
        ]
        if log_channel is not None:
            try:
                await log_channel.send(
                    "I'll log codes events in this channel.", allowed_mentions=discord.AllowedMentions.none()
                )
            except discord.HTTPException:
                lines.append(f"⚠️ I can't post in {log_channel.mention}: give me **Send Messages** there.")
        prefix = "Saved.\n" if changes else ""
        await interaction.followup.send(prefix + "\n".join(lines), ephemeral=True)
        if changes:
            await self.log_event(link, f"{interaction.user.mention} changed the codes settings.")
