"""Every failure a member or manager can meet, as one friendly ephemeral sentence in their language.

Domain errors (``shared.errors``) and the bot's own refusals become a reply; anything else is
logged with a short reference id that the user also sees, so a report can be matched to its log.
"""

from __future__ import annotations

import logging
import secrets

import discord
from discord import app_commands

from bot import replies
from bot.i18n import language, t
from shared.errors import DomainError, InvalidInput
from shared.guilds import TooManyFailedClaims
from shared.logging import request_id_var

log = logging.getLogger("bot")

# Domain refusals with a sentence of their own in the catalog (key ``error.<code>``).
_DOMAIN_CODES = {
    "code_not_found",
    "code_reserved",
    "code_already_claimed",
    "code_not_yet_valid",
    "code_expired",
    "code_fully_claimed",
    "code_space_exhausted",
    "unauthorized",
    "secret_key_required",
    "panel_not_found",
    "panel_being_posted",
}

# The domain's field names that the bot's options call otherwise.
_OPTION_NAMES = {"code_type": "type"}


class Refusal(app_commands.AppCommandError):
    """A refusal of the bot's own (not the domain's), shown to the user as it is."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class NotManager(app_commands.CheckFailure):
    def __init__(self, manager_role_id: int | None):
        self.manager_role_id = manager_role_id
        super().__init__("Not a manager of codes here.")


def describe_invalid_input(error: InvalidInput, locale=None) -> str:
    lines = [
        f"**{_OPTION_NAMES.get(field, field)}**: {' '.join(messages)}"
        for field, messages in sorted(error.errors.items())
    ]
    return t(locale, "error.check") + "\n" + "\n".join(lines)


def describe(error: BaseException, interaction: discord.Interaction | None = None) -> str | None:
    """The sentence for ``error``, or ``None`` when it is unexpected."""
    locale = interaction.locale if interaction is not None else None
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, TooManyFailedClaims):
        return t(locale, "error.too_many_failed_claims", seconds=error.retry_after)
    if isinstance(error, InvalidInput):
        return describe_invalid_input(error, locale)
    if isinstance(error, DomainError):
        if error.code == "guild_not_linked":
            manager = interaction is not None and interaction.permissions.manage_guild
            return t(locale, "error.guild_not_linked.manager" if manager else "error.guild_not_linked.member")
        # A service that raised with a message of its own is more specific than the catalog; it
        # speaks English, so other languages get the catalog's sentence.
        specific = error.message != type(error).default_message
        if error.code in _DOMAIN_CODES and not (specific and language(locale) == "en"):
            return t(locale, f"error.{error.code}")
        return error.message
    if isinstance(error, Refusal):
        return error.message
    if isinstance(error, NotManager):
        if error.manager_role_id:
            return t(locale, "error.not_manager.role", role=f"<@&{error.manager_role_id}>")
        return t(locale, "error.not_manager")
    if isinstance(error, app_commands.NoPrivateMessage):
        return t(locale, "error.server_only")
    if isinstance(error, app_commands.MissingPermissions):
        names = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return t(locale, "error.missing_permissions", permissions=names)
    if isinstance(error, app_commands.CheckFailure):
        return t(locale, "error.check_failure")
    if isinstance(error, app_commands.TransformerError):
        return t(locale, "error.option_value", option=_option_of(error, interaction))
    return None


def _option_of(error: app_commands.TransformerError, interaction: discord.Interaction | None) -> str:
    """The option the value was given for, found by the value in the interaction's options."""
    raw = str(getattr(error.value, "id", error.value))
    options = list((interaction.data or {}).get("options", [])) if interaction is not None else []
    while options:
        option = options.pop()
        options.extend(option.get("options", []))
        if "value" in option and str(option["value"]) == raw:
            return option["name"]
    return t(interaction.locale if interaction else None, "error.an_option")


async def report_error(
    interaction: discord.Interaction, error: BaseException, *, replace: bool = False
) -> None:
    """The one error path of the tree, the views and the modals. With ``replace``, the sentence
    replaces the message the interaction shows (a confirmation that said "Working on it…")."""
    message = describe(error, interaction)
    if message is None:
        original = getattr(error, "original", error)
        reference = secrets.token_hex(4)
        command = interaction.command.qualified_name if interaction.command else "component"
        # Never the options: they may hold a secret key.
        log.error(
            "Unexpected error [ref %s] in /%s (guild %s, user %s)",
            reference,
            command,
            interaction.guild_id,
            interaction.user.id if interaction.user else None,
            exc_info=original,
        )
        message = t(interaction.locale, "error.unexpected", reference=reference)
    if replace and await replies.edit(interaction, message, view=None):
        return
    await replies.send(interaction, message)


class CodesTree(app_commands.CommandTree):
    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        # The first step of the task that handles one interaction: its log lines, and those of the
        # domain calls it runs in threads, carry the interaction's id as their request id.
        request_id_var.set(str(interaction.id))
        return True

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await report_error(interaction, error)
