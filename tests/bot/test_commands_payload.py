"""The command tree as Discord would receive it at sync (translated into every catalog language),
and every component the bot sends: built offline, all within Discord's limits."""

from __future__ import annotations

import asyncio
import re

import discord
import pytest

from bot import create_bot
from bot.i18n import LANGUAGES, CatalogTranslator
from bot.panel import RedeemModal, RedeemPanelView
from bot.views import ConfirmView, PagedView
from shared.config import Settings
from shared.records import Page
from tests.bot import discord_limits

NAME = re.compile(r"^[-_\w]{1,32}$")
EXPECTED = {
    "codes link",
    "codes config",
    "codes generate",
    "codes send",
    "codes delete",
    "codes info",
    "codes list",
    "codes claims",
    "codes regrant",
    "codes panel",
    "claim",
}
LOCALES = [None, *(locale.value for locales in LANGUAGES.values() for locale in locales)]


def _build_tree():
    async def build():
        bot = create_bot(Settings(database_url="sqlite://"))
        async with bot:
            await bot.setup_hook()
            names = {command.qualified_name for command in bot.tree.walk_commands()}
            # What `python -m bot sync` sends: each command with its translations.
            translator = CatalogTranslator()
            payloads = [
                await command.get_translated_payload(bot.tree, translator)
                for command in bot.tree.get_commands()
            ]
            return bot, names, payloads

    return asyncio.run(build())


@pytest.fixture(scope="module")
def tree():
    return _build_tree()


def _counted_characters(node) -> int:
    """What Discord counts towards a command's size: every name, description and choice value,
    each as its longest translation (discord/discord-api-docs#5343). Discord allows 8000 since
    2024 (#6668); this keeps to the older 4000."""
    total = 0
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("name", "description", "value") and isinstance(value, str):
                translations = (node.get(f"{key}_localizations") or {}).values()
                total += max([len(value), *(len(text) for text in translations)])
            elif key not in ("name_localizations", "description_localizations"):
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
        _lint_texts(name, option, problems)
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
            for text in (choice["name"], *(choice.get("name_localizations") or {}).values()):
                if not 1 <= len(text) <= 100:
                    problems.append(f"{name}: choice name {text!r}")
        if choices and option.get("autocomplete"):
            problems.append(f"{name}: both choices and autocomplete")


def _lint_texts(where: str, node: dict, problems: list[str]) -> None:
    """A command's or option's name and description, in every language it has."""
    for name in (node["name"], *(node.get("name_localizations") or {}).values()):
        if not NAME.match(name) or name != name.lower():
            problems.append(f"{where}: bad name {name!r}")
    descriptions = [node.get("description", ""), *(node.get("description_localizations") or {}).values()]
    for description in descriptions:
        if not 1 <= len(description) <= 100:
            problems.append(f"{where}: description of {len(description)} characters")


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
        _lint_texts(where, payload, problems)
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
                "name": "c",
                "description": "d",
                "name_localizations": {"es-ES": "Con Espacio"},
                "description_localizations": {"es-ES": "d" * 101},
                "type": 3,
                "required": False,
            },
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
    assert len(problems) == 7, problems


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


def test_every_command_text_is_translated(tree):
    _, _, payloads = tree
    untranslated: list[str] = []

    def walk(where: str, node: dict) -> None:
        for key in ("name_localizations", "description_localizations"):
            if set(node.get(key) or {}) != set(LOCALES[1:]) - {"en-US", "en-GB"}:
                untranslated.append(f"{where} {key}")
        for option in node.get("options", []):
            walk(f"{where} {option['name']}", option)
        for choice in node.get("choices", []):
            if not choice.get("name_localizations"):
                untranslated.append(f"{where} choice {choice['name']}")

    for payload in payloads:
        walk(f"/{payload['name']}", payload)
    assert untranslated == []


@pytest.mark.parametrize("locale", LOCALES)
def test_every_component_is_within_discord_limits(locale):
    async def build():
        async def nothing(*_args):
            return None

        views = [
            RedeemPanelView(locale),
            ConfirmView(1, locale, nothing, confirm_label="Delete", timeout=1),
            PagedView(1, locale, nothing, Page([], "next"), lambda *_: None, timeout=1),
        ]
        return [view.to_components() for view in views], RedeemModal(locale, timeout=1).to_dict()

    components, modal = asyncio.run(build())
    for rows in components:
        assert discord_limits.component_problems(rows) == []
    assert discord_limits.modal_problems(modal) == []
    assert len(modal["components"]) == 2
