"""The string catalog: every key in every language, every key the code asks for, the translator,
and replies in the reader's language."""

from __future__ import annotations

import ast
import asyncio
import string
from pathlib import Path

import discord
import pytest
from discord import app_commands

from bot.errors import _DOMAIN_CODES
from bot.i18n import CATALOGS, CatalogTranslator, cmd, language, t, tn
from shared.codes import generate_codes
from shared.models import CODE_TYPES, DELIVERY_STATUSES
from tests.bot.harness import MANAGER, MEMBER, last_text

BOT = Path(__file__).resolve().parents[2] / "bot"
ENGLISH = CATALOGS["en"]
CONTEXT = app_commands.TranslationContext(app_commands.TranslationContextLocation.other, None)


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("code", sorted(set(CATALOGS) - {"en"}))
def test_every_key_exists_in_every_language_with_the_same_placeholders(code):
    catalog = CATALOGS[code]
    assert sorted(set(ENGLISH) - set(catalog)) == [], "missing translations"
    assert sorted(set(catalog) - set(ENGLISH)) == [], "keys English doesn't have"
    assert [key for key in ENGLISH if _fields(ENGLISH[key]) != _fields(catalog[key])] == []
    assert [key for key, text in catalog.items() if not text.strip()] == []


def test_counts_come_in_pairs():
    for key in ENGLISH:
        stem, _, form = key.rpartition(".")
        if form in ("one", "other"):
            assert {f"{stem}.one", f"{stem}.other"} <= set(ENGLISH), stem


# The functions that take a catalog key, and where: t(locale, key), self.log_event(interaction,
# link, key), ...
_KEY_ARGUMENT = {"t": 1, "tn": 1, "cmd": 0, "log_event": 2, "_require_manage_guild": 1}


def _literals(node: ast.expr) -> list[str]:
    """A literal string argument, or both literal branches of ``"a" if x else "b"``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    return []


def _asked_for() -> set[str]:
    """Every key the bot's code passes as a literal to a function that takes one."""
    keys: set[str] = set()
    for path in BOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            position = _KEY_ARGUMENT.get(name)
            if position is None or len(node.args) <= position:
                continue
            for key in _literals(node.args[position]):
                keys |= {f"{key}.one", f"{key}.other"} if name == "tn" else {key}
    return keys


def _built_from_parts() -> set[str]:
    """Keys the code builds from a value (f-strings), for every value there is."""
    statuses = ("active", "not_yet_valid", "fully_claimed", "expired")
    keys = {f"status.{status}" for status in statuses} | {f"choice.status.{status}" for status in statuses}
    for code_type in CODE_TYPES:
        keys |= {f"type.{code_type}", f"type.{code_type}.long", f"choice.type.{code_type}"}
    keys |= {f"delivery.{status}" for status in DELIVERY_STATUSES}
    keys |= {f"error.{code}" for code in _DOMAIN_CODES}
    keys |= {"send.skip.code_reserved", "send.skip.code_already_claimed"}
    keys |= {f"send.file.{reason}" for reason in ("type", "size", "encoding")}
    return keys


def test_every_key_the_code_asks_for_is_in_the_catalog_and_no_other():
    asked = _asked_for() | _built_from_parts()
    assert len(asked) > 150  # the scan sees the code
    assert sorted(asked - set(ENGLISH)) == [], "asked for, not in the catalog"
    assert sorted(set(ENGLISH) - asked) == [], "in the catalog, never used"


def test_languages_by_discord_locale():
    assert language(discord.Locale.spain_spanish) == "es"
    assert language("es-419") == "es"
    assert language(discord.Locale.french) == "en"
    assert language(None) == "en"
    assert t("fr", "claim.done", code="x") == "🎉 You claimed `x`."
    assert tn("es-ES", "count.claims", 1) == "1 canje"
    assert tn("es-ES", "count.claims", 2) == "2 canjes"


def test_the_translator_translates_command_texts_into_spanish_only():
    translator = CatalogTranslator()

    def translate(text, locale):
        return asyncio.run(translator.translate(text, locale, CONTEXT))

    name = cmd("claim.name")
    assert (name.message, name.extras) == ("claim", {"key": "claim.name"})
    assert translate(name, discord.Locale.spain_spanish) == "canjear"
    assert translate(name, discord.Locale.latin_american_spanish) == "canjear"
    assert (
        translate(cmd("claim.description"), discord.Locale.spain_spanish) == "Canjea un código que te dieron."
    )
    # English is the default Discord shows; other languages fall back to it.
    assert translate(name, discord.Locale.american_english) is None
    assert translate(name, discord.Locale.german) is None
    assert translate(app_commands.locale_str("no key"), discord.Locale.spain_spanish) is None


async def test_the_synced_commands_carry_both_languages(harness):
    translator = CatalogTranslator()
    claim = harness.bot.tree.get_command("claim")
    payload = await claim.get_translated_payload(harness.bot.tree, translator)
    assert payload["name"] == "claim"
    assert payload["name_localizations"] == {"es-ES": "canjear", "es-419": "canjear"}
    codes = await harness.bot.tree.get_command("codes").get_translated_payload(harness.bot.tree, translator)
    generate = next(option for option in codes["options"] if option["name"] == "generate")
    amount = next(option for option in generate["options"] if option["name"] == "amount")
    assert amount["name_localizations"]["es-ES"] == "cantidad"
    kinds = next(option for option in generate["options"] if option["name"] == "type")
    assert kinds["choices"][0]["name_localizations"]["es-419"] == "creativo (curious-pineapple)"


async def test_members_and_managers_are_answered_in_their_language(harness, linked, session_factory):
    with session_factory() as session:
        [code] = generate_codes(session, linked.id, amount=1)
        session.commit()
    calls = await harness.invoke("claim", MEMBER, code=code.code, locale="es-ES")
    assert f"🎉 Canjeaste `{code.code}`." in last_text(calls)
    calls = await harness.invoke("claim", MEMBER, code="no-such-code", locale="es-419")
    assert "No encontré ese código" in last_text(calls)
    calls = await harness.invoke("codes generate", MANAGER, amount=2, locale="es-ES")
    assert "Generé **2** códigos creativo" in last_text(calls)
    calls = await harness.invoke("codes info", MANAGER, code=code.code, locale="es-ES")
    assert "Estado: 🔴 agotado" in last_text(calls)
    calls = await harness.invoke("codes generate", MANAGER, amount=1, valid_until="soon", locale="es-ES")
    assert "Revisa:\n**valid_until**: Usa un tiempo relativo" in last_text(calls)
