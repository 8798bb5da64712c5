"""``python -m bot``: run the bot. ``python -m bot sync [--guild ID] [--clear]``: register its commands.

Commands are synced only here, on purpose: syncing in ``on_ready`` would run again on every
reconnect and use up Discord's daily limit on command changes.
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

# One sentence instead of a traceback for the two ways a first start usually fails.
WRONG_TOKEN = (
    "Discord refused DISCORD_TOKEN (401: not a bot token, or reset since). Copy it again from the "
    "developer portal: your application, Bot, Reset Token (docs/bot.md)."
)
UNREACHABLE = "Could not reach Discord: check this machine's network and DNS"


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

    settings = Settings.from_env()
    if not settings.discord_token:
        parser.error("DISCORD_TOKEN is not set. See docs/bot.md: Creating the application.")
    if args.command == "sync" and args.clear and args.guild is None:
        parser.error("--clear needs --guild.")
    configure_logging("bot", settings.log_level)  # JSON lines on stderr, redacted (shared.logging)
    try:
        if args.command == "sync":
            print(asyncio.run(sync_commands(settings, args.guild, clear=args.clear)))
        else:
            asyncio.run(run(settings))
    except KeyboardInterrupt:
        log.info("Stopped.")
    except discord.LoginFailure:
        print(WRONG_TOKEN, file=sys.stderr)
        return 1
    except aiohttp.ClientConnectionError as exc:
        print(f"{UNREACHABLE} ({exc})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
