"""/codes panel: post, edit or remove the redeem panel of a channel (one per channel)."""

from __future__ import annotations

import discord
from discord import app_commands

from bot import replies
from bot.cogs.codes.base import ManagerCommands
from bot.errors import Refusal
from bot.i18n import cmd, t
from bot.options import TextChannelOption
from bot.panel import RedeemPanelView, panel_embed
from shared.panels import drop_panel, reserve_panel, set_panel_message


class PanelCommands(ManagerCommands):
    @app_commands.command(name=cmd("panel.name"), description=cmd("panel.description"))
    @app_commands.rename(
        channel=cmd("panel.option.channel"),
        title=cmd("panel.option.title"),
        description=cmd("panel.option.description"),
        remove=cmd("panel.option.remove"),
    )
    @app_commands.describe(
        channel=cmd("panel.option.channel.description"),
        title=cmd("panel.option.title.description"),
        description=cmd("panel.option.description.description"),
        remove=cmd("panel.option.remove.description"),
    )
    async def panel(
        self,
        interaction: discord.Interaction,
        channel: app_commands.Transform[discord.app_commands.AppCommandChannel, TextChannelOption]
        | None = None,
        title: app_commands.Range[str, 1, 256] | None = None,
        description: app_commands.Range[str, 1, 2000] | None = None,
        remove: bool = False,
    ) -> None:
        link = await self.manager_link(interaction)
        locale = interaction.locale
        channel_id = channel.id if channel is not None else interaction.channel_id
        where = f"<#{channel_id}>"
        messageable = self.bot.get_partial_messageable(channel_id, guild_id=link.guild_id)
        if remove:
            panel = await self.bot.runner.run(drop_panel, link.guild_id, channel_id)
            if panel.message_id is not None:
                try:
                    await messageable.get_partial_message(panel.message_id).delete()
                except discord.NotFound:
                    pass  # Deleted by hand already.
                except discord.HTTPException:
                    await replies.send(interaction, t(locale, "panel.removed_message_left", channel=where))
                    return
            await replies.send(interaction, t(locale, "panel.removed", channel=where))
            await self.log_event(interaction, link, "log.panel_removed", channel=where)
            return

        # Members read the panel: it speaks the server's language.
        server_locale = interaction.guild_locale
        panel, new = await self.bot.runner.run(
            reserve_panel,
            link.guild_id,
            channel_id,
            title=title,
            description=description,
            default_title=t(server_locale, "panel.default_title"),
            default_description=t(server_locale, "panel.default_description"),
            created_by=interaction.user.id,
        )
        view = RedeemPanelView(server_locale)
        if not new:
            try:
                await messageable.get_partial_message(panel.message_id).edit(
                    embed=panel_embed(panel), view=view
                )
            except discord.NotFound:
                pass  # Someone deleted the message: post it again below.
            except discord.HTTPException:
                raise Refusal(t(locale, "panel.cannot_post", channel=where)) from None
            else:
                await replies.send(interaction, t(locale, "panel.updated", channel=where))
                await self.log_event(interaction, link, "log.panel_updated", channel=where)
                return
        try:
            message = await replies.post(messageable, server_locale, embed=panel_embed(panel), view=view)
        except discord.HTTPException:
            if new:
                await self.bot.runner.run(drop_panel, link.guild_id, channel_id)
            raise Refusal(t(locale, "panel.cannot_post", channel=where)) from None
        await self.bot.runner.run(set_panel_message, channel_id, message.id)
        await replies.send(interaction, t(locale, "panel.posted", channel=where))
        await self.log_event(interaction, link, "log.panel_posted", channel=where)
