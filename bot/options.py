"""Option types of the bot's own."""

from __future__ import annotations

import discord
from discord import app_commands

TEXT_CHANNELS = (discord.ChannelType.text, discord.ChannelType.news)


class TextChannelOption(app_commands.Transformer):
    """A text or announcement channel, as the interaction's payload describes it.

    ``discord.TextChannel`` would look the channel up in the guild cache and refuse it while the
    server is still loading; the bot needs only its id (and the cache, when there, for more).
    """

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return list(TEXT_CHANNELS)

    async def transform(self, interaction: discord.Interaction, value, /) -> app_commands.AppCommandChannel:
        if not isinstance(value, app_commands.AppCommandChannel) or value.type not in TEXT_CHANNELS:
            raise app_commands.TransformerError(value, self.type, self)
        return value
