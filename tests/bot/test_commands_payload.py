"""The command tree as Discord would receive it: built offline, every payload within Discord's limits."""

from __future__ import annotations

import asyncio
import re

import discord
import pytest

from bot import create_bot
from shared.config import Settings

NAME = re.compile(r"^[-_\w]{1,32}$")
EXPECTED = {
    "codes link",
    "codes config",
    "codes generate",
    "codes send",
    "codes delete",
    "codes info",
    "codes list",
    "claim",
}


def _build_tree():
    async def build():
        bot = create_bot(Settings(database_url="sqlite://"))
        async with bot:
            await bot.setup_hook()
            names = {command.qualified_name for command in bot.tree.walk_commands()}
            return bot, names, [command.to_dict(bot.tree) for command in bot.tree.get_commands()]

    return asyncio.run(build())


@pytest.fixture(scope="module")
def tree():
    return _build_tree()


def _counted_characters(node) -> int:
    """What Discord counts towards a command's 4000: every name, description and choice value."""
    total = 0
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("name", "description", "value") and isinstance(value, str):
                total += len(value)
            elif key in ("name_localizations", "description_localizations") and value:
                total += sum(len(text) for text in value.values())
            else:
                total += _counted_characters(value)
    elif isinstance(node, list):
        total += sum(_counted_characters(item) for item in node)
    return total


def _lint_options(where: str, options: list[dict], problems: list[str]) -> None:
    if len(options) > 25:
        problems.append(f"{where}: {len(options)} options")
    seen_optional = False
    for option in options:
        name = f"{where} {option['name']}"
        if not NAME.match(option["name"]) or option["name"] != option["name"].lower():
            problems.append(f"{name}: bad name")
        if not 1 <= len(option.get("description", "")) <= 100:
            problems.append(f"{name}: description of {len(option.get('description', ''))} characters")
        if option["type"] in (1, 2):
            _lint_options(name, option.get("options", []), problems)
            continue
        if option.get("required"):
            if seen_optional:
                problems.append(f"{name}: required after an optional option")
        else:
            seen_optional = True
        choices = option.get("choices", [])
        if len(choices) > 25:
            problems.append(f"{name}: {len(choices)} choices")
        for choice in choices:
            if not 1 <= len(choice["name"]) <= 100:
                problems.append(f"{name}: choice name {choice['name']!r}")
        if choices and option.get("autocomplete"):
            problems.append(f"{name}: both choices and autocomplete")


def test_create_bot_builds_every_command_offline(tree):
    bot, names, _ = tree
    assert isinstance(bot, discord.ext.commands.AutoShardedBot)
    assert names >= EXPECTED
    assert not bot.intents.members and not bot.intents.presences and not bot.intents.message_content


def test_every_command_payload_is_within_discord_limits(tree):
    _, _, payloads = tree
    problems: list[str] = []
    for payload in payloads:
        where = f"/{payload['name']}"
        if not NAME.match(payload["name"]):
            problems.append(f"{where}: bad name")
        if not 1 <= len(payload["description"]) <= 100:
            problems.append(f"{where}: description of {len(payload['description'])} characters")
        if _counted_characters(payload) > 4000:
            problems.append(f"{where}: {_counted_characters(payload)} characters")
        _lint_options(where, payload.get("options", []), problems)
    assert len(payloads) <= 100
    assert problems == []


def test_the_lint_catches_what_discord_would_refuse():
    problems: list[str] = []
    _lint_options(
        "/x",
        [
            {"name": "a", "description": "", "type": 3, "required": False},
            {
                "name": "B",
                "description": "d" * 101,
                "type": 3,
                "required": True,
                "choices": [{"name": "c", "value": "c"}] * 26,
            },
        ],
        problems,
    )
    assert len(problems) == 5, problems


def test_codes_group_is_a_guild_only_manage_server_hint(tree):
    _, _, payloads = tree
    codes = next(p for p in payloads if p["name"] == "codes")
    assert int(codes["default_member_permissions"]) == 1 << 5
    assert codes["contexts"] == [0]
    claim = next(p for p in payloads if p["name"] == "claim")
    assert claim["default_member_permissions"] is None
    assert claim["contexts"] == [0]


def test_every_manager_code_argument_autocompletes_and_claim_does_not(tree):
    _, _, payloads = tree
    codes = next(p for p in payloads if p["name"] == "codes")
    with_code = {
        sub["name"]: option
        for sub in codes["options"]
        for option in sub.get("options", [])
        if option["name"] == "code"
    }
    assert set(with_code) == {"send", "delete", "info", "claims", "regrant"}
    assert all(option["autocomplete"] for option in with_code.values())
    # Suggesting codes to members would hand out every code; /claim takes what the member types.
    claim = next(p for p in payloads if p["name"] == "claim")
    assert not next(o for o in claim["options"] if o["name"] == "code").get("autocomplete")
