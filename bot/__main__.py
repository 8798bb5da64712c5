"""``python -m bot``: run the bot. ``python -m bot sync [--guild ID] [--clear]``: register its commands.

Commands are synced only here, on purpose: syncing in ``on_ready`` would run again on every
reconnect and use up Discord's daily limit on command changes.

A start that cannot succeed (a setting that makes no sense, a token Discord refuses, Discord out of
reach) ends with one line on stderr and exit status 1, not a traceback: the line is what an
operator reads in ``docker compose logs`` or systemd's journal.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import aiohttp
import discord

from bot import create_bot
from shared.config import Settings
from shared.guilds import GUILD_ID_RULE, parse_guild_id
from shared.logging import configure_logging

log = logging.getLogger("bot")

# discord.py warns at every start that voice needs PyNaCl and davey; this bot never joins voice.
VOICE_WARNINGS = ("PyNaCl is not installed", "davey is not installed")


class VoiceWarningFilter(logging.Filter):
    """Drops discord.py's voice warnings (a logging filter on its ``discord.client`` logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(VOICE_WARNINGS)


def quiet_voice_warnings() -> None:
    logger = logging.getLogger("discord.client")
    if not any(isinstance(existing, VoiceWarningFilter) for existing in logger.filters):
        logger.addFilter(VoiceWarningFilter())


def settings_problem(settings: Settings) -> str | None:
    """What makes ``settings`` unable to run the bot, in one sentence; None when nothing does."""
    if not settings.discord_token:
        return "DISCORD_TOKEN is not set. See docs/bot.md: Creating the application."
    if settings.discord_shard_ids and not settings.discord_shard_count:
        return "DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the total number of shards over every process)."
    if settings.discord_shard_ids and settings.discord_shard_count:
        outside = [i for i in settings.discord_shard_ids if not 0 <= i < settings.discord_shard_count]
        if outside:
            return (
                f"DISCORD_SHARD_IDS {outside} are not shards of DISCORD_SHARD_COUNT="
                f"{settings.discord_shard_count} (ids run from 0 to {settings.discord_shard_count - 1})."
            )
    return None


def start_failure(exc: BaseException) -> str | None:
    """One line for an error that stops the bot from starting; None for anything else (a bug)."""
    if isinstance(exc, discord.LoginFailure):
        return "Discord refused DISCORD_TOKEN: reset the token in the Developer Portal (docs/bot.md)."
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return "Discord refused a privileged intent this bot asked for: see docs/bot.md."
    if isinstance(exc, aiohttp.ClientConnectionError | OSError | asyncio.TimeoutError):
        return f"Cannot reach Discord ({exc.__class__.__name__}: {exc}). Check the network or DISCORD_PROXY."
    if isinstance(exc, discord.DiscordServerError):
        return f"Discord answered with an error ({exc.status}); try again later."
    return None


def fail(message: str) -> int:
    print(f"python -m bot: {message}", file=sys.stderr)
    return 1


async def run(settings: Settings) -> None:
    bot = create_bot(settings)
    async with bot:
        await bot.start(settings.discord_token)


async def sync_commands(settings: Settings, guild_id: int | None, *, clear: bool = False) -> str:
    bot = create_bot(settings)
    async with bot:
        # Logging in (REST only, no gateway) runs setup_hook, which fills the tree.
        await bot.login(settings.discord_token)
        if guild_id is None:
            synced = await bot.tree.sync()
            return f"Synced {len(synced)} commands globally."
        guild = discord.Object(id=guild_id)
        if clear:
            bot.tree.clear_commands(guild=guild)
        else:
            # A copy in one server updates at once: for trying changes before syncing globally.
            bot.tree.copy_global_to(guild=guild)
        synced = await bot.tree.sync(guild=guild)
        return f"{'Cleared' if clear else 'Synced'} {len(synced)} commands in server {guild_id}."


def _guild_id(text: str) -> int:
    guild_id = parse_guild_id(text)
    if guild_id is None:
        raise argparse.ArgumentTypeError(f"ID {GUILD_ID_RULE}, not {text!r}.")
    return guild_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The codes Discord bot.")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="Connect to Discord and answer commands (the default).")
    sync = commands.add_parser("sync", help="Register the slash commands with Discord, then exit.")
    sync.add_argument(
        "--guild", type=_guild_id, metavar="ID", help="Only in this server (instant; for testing)."
    )
    sync.add_argument("--clear", action="store_true", help="With --guild: remove the server's copies.")
    args = parser.parse_args(argv)

    if args.command == "sync" and args.clear and args.guild is None:
        parser.error("--clear needs --guild.")
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        return fail(str(exc))
    problem = settings_problem(settings)
    if problem:
        return fail(problem)
    configure_logging("bot", settings.log_level)  # JSON lines on stderr, redacted (shared.logging)
    quiet_voice_warnings()
    try:
        if args.command == "sync":
            print(asyncio.run(sync_commands(settings, args.guild, clear=args.clear)))
        else:
            asyncio.run(run(settings))
    except KeyboardInterrupt:
        log.info("Stopped.")
    except Exception as exc:
        message = start_failure(exc)
        if message is None:
            raise
        return fail(message)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
