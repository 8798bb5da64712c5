"""The redeem panel: a channel message with a "Redeem a code" button that opens a form.

The button's custom id is fixed and its view has no timeout; ``CodesBot.setup_hook`` registers
the view at every start, so a panel posted before a restart still answers. The form (a modal)
claims exactly like /claim. A form left open while the bot restarts is not answered; pressing the
button again opens a new one.
"""

from __future__ import annotations

import discord

from bot.claiming import claim_for_member
from bot.errors import report_error
from bot.i18n import t
from shared.panels import PanelRecord

REDEEM_BUTTON_ID = "codes:panel:redeem"


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


def panel_embed(panel: PanelRecord) -> discord.Embed:
    return discord.Embed(title=panel.title, description=panel.description, colour=discord.Colour.blurple())
