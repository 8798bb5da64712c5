"""Long jobs (taking roles back from every holder, granting owed roles): progress while they run,
and a result that arrives even when the job outlives its interaction.

An interaction's token answers for 15 minutes after the interaction was created; after that every
edit and followup fails. A job shows its progress on the interaction's original message (at most
every ``interval`` seconds) while the token has more than ``TOKEN_MARGIN`` left; its result goes
there too, or, once the token is (nearly) spent or an edit fails, to the channel the command was
run in, mentioning the person who ran it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import discord

from bot import replies
from shared.clock import to_naive_utc, utcnow

log = logging.getLogger("bot")

TOKEN_LIFETIME = dt.timedelta(minutes=15)
TOKEN_MARGIN = dt.timedelta(minutes=1)


def token_usable(interaction: discord.Interaction) -> bool:
    """Whether the interaction's token still has a safe margin to answer with."""
    expires = to_naive_utc(interaction.created_at) + TOKEN_LIFETIME
    return utcnow() < expires - TOKEN_MARGIN


class Progress:
    def __init__(self, interaction: discord.Interaction, *, interval: float = 2.0):
        self.interaction = interaction
        self.interval = interval
        self._last = time.monotonic()
        self._editable = True

    async def update(self, text: str, *, view: discord.ui.View | None = discord.utils.MISSING) -> None:
        """Show ``text`` if the last update is ``interval`` seconds old and the token is good."""
        if not self._editable or time.monotonic() - self._last < self.interval:
            return
        self._last = time.monotonic()
        if not token_usable(self.interaction):
            self._editable = False
            return
        self._editable = await replies.edit(self.interaction, text, view=view)

    async def finish(self, text: str, *, view: discord.ui.View | None = discord.utils.MISSING) -> None:
        """Show the result on the original message, or else in the channel."""
        if (
            self._editable
            and token_usable(self.interaction)
            and await replies.edit(self.interaction, text, view=view)
        ):
            return
        await self._post_in_channel(text)

    async def _post_in_channel(self, text: str) -> None:
        interaction = self.interaction
        if interaction.channel_id is None:
            return
        user = interaction.user
        channel = interaction.client.get_partial_messageable(
            interaction.channel_id, guild_id=interaction.guild_id
        )
        try:
            await replies.post(
                channel,
                interaction.locale,
                f"{user.mention} {text}",
                allowed_mentions=discord.AllowedMentions(users=[user]),
            )
        except discord.HTTPException as exc:
            log.warning(
                "Could not post the result of interaction %s in channel %s: %s",
                interaction.id,
                interaction.channel_id,
                exc,
            )
