"""The bot: an AutoShardedBot with the codes cogs, a runner for domain calls and a DM throttle."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import replies
from bot.errors import CodesTree
from bot.i18n import CatalogTranslator
from bot.runner import Runner
from bot.throttle import DMThrottle
from shared.config import Settings

log = logging.getLogger("bot")


def bot_intents() -> discord.Intents:
    """Guilds only: roles and the bot's own member come with it; nothing privileged."""
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


class CodesBot(commands.AutoShardedBot):
    # Seconds before a confirmation and a list's buttons give up.
    confirm_timeout = 60.0
    list_timeout = 300.0
    # Seconds a modal opened from a redeem panel waits for its answer.
    modal_timeout = 600.0
    # Seconds code suggestions may take; Discord drops them after 3.
    autocomplete_timeout = 2.0
    # Seconds between progress updates of long jobs (roles taken back or granted).
    progress_interval = 2.0

    def __init__(
        self, settings: Settings, session_factory: sessionmaker[Session], *, engine: Engine | None = None
    ):
        shard_ids = list(settings.discord_shard_ids) if settings.discord_shard_ids else None
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=bot_intents(),
            tree_cls=CodesTree,
            shard_count=settings.discord_shard_count,
            shard_ids=shard_ids,
            proxy=settings.discord_proxy,
            chunk_guilds_at_startup=False,
            # Nothing the bot writes pings anyone unless a message says so itself.
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.settings = settings
        self.runner = Runner(session_factory)
        self.dm_throttle = DMThrottle(per_guild=settings.bot_dms_per_minute)
        self._engine = engine

    async def setup_hook(self) -> None:
        """Load the cogs, the translator and the panels' buttons.

        No network here: commands are synced only by ``python -m bot sync``. The panel's button
        has a fixed custom id and no timeout, so panels posted before a restart keep working.
        """
        from bot.cogs.claim import ClaimCog
        from bot.cogs.codes import CodesCog
        from bot.panel import HandOutPanelView, RedeemPanelView

        await self.tree.set_translator(CatalogTranslator())
        await self.add_cog(CodesCog(self))
        await self.add_cog(ClaimCog(self))
        self.add_view(RedeemPanelView())
        self.add_view(HandOutPanelView())

    async def post_log(self, channel_id: int | None, guild_id: int, content: str, *, locale=None) -> bool:
        """Write one line to the server's log channel; whether it was written. A missing or closed
        channel is not an error."""
        if channel_id is None:
            return False
        channel = self.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            await replies.post(channel, locale, content)
        except discord.HTTPException as exc:
            log.warning("Could not write to log channel %s of guild %s: %s", channel_id, guild_id, exc)
            return False
        return True

    async def close(self) -> None:
        await super().close()
        if self._engine is not None:
            self._engine.dispose()
