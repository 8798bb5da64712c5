"""Panels: a channel message with one button.

- A redeem panel's "Redeem a code" opens a form (a modal) that claims exactly like /claim. A form
  left open while the bot restarts is not answered; pressing the button again opens a new one.
- A hand-out panel's "Get a code" gives the member one code of the panel's batch, in an answer
  only they see; pressing again shows the same code (one per member, by Discord id).

Each button's custom id is fixed and its view has no timeout; ``CodesBot.setup_hook`` registers
both views at every start, so panels posted before a restart still answer. The batch is read from
the channel's panel row when the button is pressed, so the custom id never has to carry it.
"""

from __future__ import annotations

import discord

from bot import replies
from bot.claiming import claim_for_member
from bot.errors import Refusal, report_error
from bot.formatting import logged_code
from bot.i18n import t
from shared.errors import BatchExhausted
from shared.panels import PanelRecord, hand_out

REDEEM_BUTTON_ID = "codes:panel:redeem"
HAND_OUT_BUTTON_ID = "codes:panel:handout"


class RedeemPanelView(discord.ui.View):
    def __init__(self, locale=None):
        super().__init__(timeout=None)
        self.redeem.label = t(locale, "panel.button")

    @discord.ui.button(label="Redeem a code", style=discord.ButtonStyle.success, custom_id=REDEEM_BUTTON_ID)
    async def redeem(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        # A modal must be the first answer, so nothing is read before it.
        bot = interaction.client
        await interaction.response.send_modal(RedeemModal(interaction.locale, timeout=bot.modal_timeout))

    async def on_error(self, interaction: discord.Interaction, error: Exception, item) -> None:
        await report_error(interaction, error)


class RedeemModal(discord.ui.Modal):
    def __init__(self, locale, *, timeout: float):
        super().__init__(title=t(locale, "modal.title"), timeout=timeout)
        self.code = discord.ui.TextInput(
            custom_id="code", min_length=1, max_length=64, placeholder=t(locale, "modal.code.placeholder")
        )
        self.email = discord.ui.TextInput(
            custom_id="email",
            required=False,
            max_length=320,
            placeholder=t(locale, "modal.email.placeholder"),
        )
        self.add_item(discord.ui.Label(text=t(locale, "modal.code"), component=self.code))
        self.add_item(
            discord.ui.Label(
                text=t(locale, "modal.email"),
                description=t(locale, "modal.email.description"),
                component=self.email,
            )
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        if interaction.guild_id is None:
            raise discord.app_commands.NoPrivateMessage()
        email = self.email.value.strip() or None
        await claim_for_member(interaction.client, interaction, self.code.value, email)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await report_error(interaction, error)


class HandOutPanelView(discord.ui.View):
    def __init__(self, locale=None):
        super().__init__(timeout=None)
        self.get_code.label = t(locale, "handout.button")

    @discord.ui.button(label="Get a code", style=discord.ButtonStyle.success, custom_id=HAND_OUT_BUTTON_ID)
    async def get_code(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        if interaction.guild_id is None:
            raise discord.app_commands.NoPrivateMessage()
        bot = interaction.client
        locale = interaction.locale
        try:
            given = await bot.runner.run(
                hand_out, interaction.guild_id, interaction.channel_id, interaction.user.id
            )
        except BatchExhausted:
            raise Refusal(t(locale, "handout.none_left")) from None
        record = given.result.code
        if not given.result.new:
            await replies.send(interaction, t(locale, "handout.again", code=record.code))
            return
        await replies.send(interaction, t(locale, "handout.given", code=record.code))
        guild_locale = interaction.guild_locale
        line = t(
            guild_locale,
            "log.handed_out",
            user=interaction.user.mention,
            code=logged_code(given.link, record, guild_locale),
            batch=given.batch,
        )
        if given.was_last:
            line += " " + t(guild_locale, "log.batch_empty", batch=given.batch)
        await bot.post_log(given.link.log_channel_id, given.link.guild_id, line, locale=guild_locale)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item) -> None:
        await report_error(interaction, error)


def panel_view(panel: PanelRecord, locale) -> discord.ui.View:
    """The button a panel carries: Get a code for a hand-out panel, else Redeem a code."""
    return HandOutPanelView(locale) if panel.batch is not None else RedeemPanelView(locale)


def panel_embed(panel: PanelRecord) -> discord.Embed:
    return discord.Embed(title=panel.title, description=panel.description, colour=discord.Colour.blurple())
