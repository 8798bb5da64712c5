"""/codes link and /codes config: which project this server uses, who manages it, where it logs."""

from __future__ import annotations

import discord
from discord import app_commands

from bot import replies
from bot.cogs.codes.base import ManagerCommands
from bot.errors import Refusal
from bot.formatting import ago
from bot.i18n import cmd, t
from bot.options import TextChannelOption
from bot.replies import clip
from shared.guilds import UNCHANGED, link_guild, set_guild_config
from shared.webhooks.endpoints import EndpointRecord, list_endpoints

# Long URLs are cut in the listing: sixteen endpoints must still fit one message.
WEBHOOK_URL_SHOWN = 80

CLEARABLE = [
    app_commands.Choice(name=cmd("choice.clear.manager_role"), value="manager_role"),
    app_commands.Choice(name=cmd("choice.clear.log_channel"), value="log_channel"),
]


def _require_manage_guild(interaction: discord.Interaction, action_key: str) -> None:
    if not interaction.permissions.manage_guild:
        locale = interaction.locale
        raise Refusal(t(locale, "setup.needs_manage_server", action=t(locale, action_key)))


def webhook_lines(endpoints: list[EndpointRecord], locale) -> list[str]:
    """The project's webhook endpoints and their health (registered through the API or CLI)."""
    if not endpoints:
        return [t(locale, "config.webhooks_none")]
    lines = [t(locale, "config.webhooks")]
    for endpoint in endpoints:
        if endpoint.disabled_at is not None:
            state = t(locale, "config.webhook_disabled", since=ago(endpoint.disabled_at), id=endpoint.id)
        elif endpoint.failing_since is not None:
            state = t(locale, "config.webhook_failing", since=ago(endpoint.failing_since))
        else:
            state = t(locale, "config.webhook_healthy")
        url = clip(endpoint.url, WEBHOOK_URL_SHOWN)
        lines.append(
            t(locale, "config.webhook_line", url=url, events=", ".join(endpoint.events), state=state)
        )
    return lines


def everyone_can_read(interaction: discord.Interaction, channel_id: int) -> bool | None:
    """Whether @everyone may view the channel; ``None`` while the server isn't loaded."""
    guild = interaction.guild
    channel = guild.get_channel(channel_id) if guild is not None else None
    if channel is None or guild.default_role is None:
        return None
    return channel.permissions_for(guild.default_role).view_channel


class SetupCommands(ManagerCommands):
    @app_commands.command(name=cmd("link.name"), description=cmd("link.description"))
    @app_commands.rename(secret_key=cmd("link.option.secret_key"))
    @app_commands.describe(secret_key=cmd("link.option.secret_key.description"))
    async def link(
        self, interaction: discord.Interaction, secret_key: app_commands.Range[str, 1, 100]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        _require_manage_guild(interaction, "setup.action.link")
        link = await self.bot.runner.run(link_guild, interaction.guild_id, secret_key)
        await replies.send(interaction, t(interaction.locale, "link.done", project=link.project_name))
        await self.log_event(interaction, link, "log.linked", project=link.project_name)

    @app_commands.command(name=cmd("config.name"), description=cmd("config.description"))
    @app_commands.rename(
        manager_role=cmd("config.option.manager_role"),
        log_channel=cmd("config.option.log_channel"),
        log_full_codes=cmd("config.option.log_full_codes"),
        clear=cmd("config.option.clear"),
    )
    @app_commands.describe(
        manager_role=cmd("config.option.manager_role.description"),
        log_channel=cmd("config.option.log_channel.description"),
        log_full_codes=cmd("config.option.log_full_codes.description"),
        clear=cmd("config.option.clear.description"),
    )
    @app_commands.choices(clear=CLEARABLE)
    async def config(
        self,
        interaction: discord.Interaction,
        manager_role: discord.Role | None = None,
        log_channel: app_commands.Transform[app_commands.AppCommandChannel, TextChannelOption] | None = None,
        log_full_codes: bool | None = None,
        clear: app_commands.Choice[str] | None = None,
    ) -> None:
        link = await self.manager_link(interaction)
        locale = interaction.locale
        changes = {}
        if any(option is not None for option in (manager_role, log_channel, log_full_codes, clear)):
            _require_manage_guild(interaction, "setup.action.config")
        if clear is not None:
            changes[f"{clear.value}_id"] = None
        if manager_role is not None:
            if manager_role.is_default():
                raise Refusal(t(locale, "config.everyone_manager"))
            changes["manager_role_id"] = manager_role.id
        if log_channel is not None:
            changes["log_channel_id"] = log_channel.id
        if log_full_codes is not None:
            changes["log_code_values"] = log_full_codes
        if changes:
            link = await self.bot.runner.run(
                set_guild_config,
                link.guild_id,
                manager_role_id=changes.get("manager_role_id", UNCHANGED),
                log_channel_id=changes.get("log_channel_id", UNCHANGED),
                log_code_values=changes.get("log_code_values", UNCHANGED),
            )
        managers = t(locale, "config.managers")
        if link.manager_role_id:
            managers += " " + t(locale, "config.managers_role", role=f"<@&{link.manager_role_id}>")
        lines = [
            t(locale, "config.project", project=link.project_name),
            managers,
            t(
                locale,
                "config.log_channel",
                channel=f"<#{link.log_channel_id}>" if link.log_channel_id else t(locale, "config.none"),
            ),
            t(locale, "config.log_codes_full" if link.log_code_values else "config.log_codes_masked"),
            *webhook_lines(await self.bot.runner.read(list_endpoints, link.project_id), locale),
        ]
        if log_channel is not None:
            lines += await self._check_log_channel(interaction, log_channel.id)
        if manager_role is not None:
            lines += ["", t(locale, "config.show_codes_steps", role=manager_role.mention)]
        prefix = t(locale, "config.saved") + "\n" if changes else ""
        await replies.send(interaction, prefix + "\n".join(lines))
        if changes:
            await self.log_event(interaction, link, "log.config_changed")

    async def _check_log_channel(self, interaction: discord.Interaction, channel_id: int) -> list[str]:
        """Warnings about the new log channel: the bot can't post there, or everyone can read it."""
        locale = interaction.locale
        where = f"<#{channel_id}>"
        warnings = []
        channel = self.bot.get_partial_messageable(channel_id, guild_id=interaction.guild_id)
        try:
            await replies.post(
                channel, interaction.guild_locale, t(interaction.guild_locale, "config.log_hello")
            )
        except discord.HTTPException:
            warnings.append(t(locale, "config.log_cannot_post", channel=where))
        readable = everyone_can_read(interaction, channel_id)
        if readable is None:
            warnings.append(t(locale, "config.log_unchecked", channel=where))
        elif readable:
            warnings.append(t(locale, "config.log_public", channel=where))
        return warnings
