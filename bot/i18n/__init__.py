"""Every word the bot says, in English (``en.py``, the catalog) and Spanish (``es.py``).

- ``t(locale, key, **params)``: a reply in the reader's language (``interaction.locale`` for the
  person who acted, ``interaction.guild_locale`` for what the server's staff read in the log
  channel or members read on a panel). Missing languages and keys fall back to English.
- ``tn(locale, key, count, **params)``: the same for a countable thing (``key.one`` / ``key.other``).
- ``cmd(key)``: a command, option or choice text for the command tree. discord.py hands it to
  ``CatalogTranslator`` when commands are synced, and Discord shows each member their language.

Adding a language: copy ``es.py``, translate every value, add it to ``CATALOGS`` and ``LANGUAGES``;
tests/bot/test_i18n.py checks that it has every key and the same placeholders.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.i18n import en, es

CATALOGS: dict[str, dict[str, str]] = {"en": en.STRINGS, "es": es.STRINGS}
# Discord's locales, by the catalog that speaks them.
LANGUAGES: dict[str, tuple[discord.Locale, ...]] = {
    "en": (discord.Locale.american_english, discord.Locale.british_english),
    "es": (discord.Locale.spain_spanish, discord.Locale.latin_american_spanish),
}
_BY_LOCALE = {locale.value: language for language, locales in LANGUAGES.items() for locale in locales}


def language(locale: discord.Locale | str | None) -> str:
    """The catalog for a Discord locale: ``es`` for ``es-ES`` and ``es-419``, else ``en``."""
    if locale is None:
        return "en"
    return _BY_LOCALE.get(str(locale), "en")


def t(locale: discord.Locale | str | None, key: str, /, **params: object) -> str:
    template = CATALOGS[language(locale)].get(key) or en.STRINGS[key]
    return template.format(**params) if params else template


def tn(locale: discord.Locale | str | None, key: str, count: int, /, **params: object) -> str:
    return t(locale, f"{key}.{'one' if count == 1 else 'other'}", count=count, **params)


def cmd(key: str) -> app_commands.locale_str:
    """A command-tree text: English as Discord's default, translated at sync by its key."""
    return app_commands.locale_str(en.STRINGS[key], key=key)


class CatalogTranslator(app_commands.Translator):
    """Command names, descriptions and choices in every catalog language but the default."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        target = language(locale)
        if key is None or target == "en" or locale.value not in _BY_LOCALE:
            return None
        return CATALOGS[target].get(key)


__all__ = ["CATALOGS", "LANGUAGES", "CatalogTranslator", "cmd", "language", "t", "tn"]
