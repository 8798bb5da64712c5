"""Every failure a member or manager can meet, as one friendly ephemeral sentence.

Domain errors (``shared.errors``) and the bot's own refusals become a reply; anything else is
logged with a short reference id that the user also sees, so a report can be matched to its log.
"""

from __future__ import annotations

import logging
import secrets

import discord
from discord import app_commands

from shared.errors import DomainError, InvalidInput
from shared.guilds import TooManyFailedClaims
from shared.logging import request_id_var

log = logging.getLogger("bot")

LINK_HELP = (
    "This server isn't linked to a codes project yet. Someone with **Manage Server** can link it "
    "with `/codes link secret_key:sk_...` (the project's secret key; I won't show it to anyone), "
    "or the operator can run `flask --app wsgi guilds link <server id> <project name>`."
)

# What each domain refusal means to a person in Discord. A service that raises with a message of
# its own (not the class default) is more specific, and that message wins.
_DOMAIN_SENTENCES = {
    "code_not_found": "I couldn't find that code. Check the spelling and try again.",
    "code_reserved": "This code is reserved for someone else.",
    "code_already_claimed": "You've already claimed this code.",
    "code_not_yet_valid": "This code can't be claimed yet.",
    "code_expired": "This code has expired.",
    "code_fully_claimed": "This code has no claims left.",
    "guild_not_linked": LINK_HELP,
    "unauthorized": "That key isn't valid. Use the project's secret key: it starts with `sk_`.",
    "secret_key_required": "Linking a server needs the project's secret key (`sk_...`), not its public key.",
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
        role = f" or the <@&{manager_role_id}> role" if manager_role_id else ""
        self.message = f"Only members with **Manage Server**{role} can manage codes here."
        super().__init__(self.message)


def describe_invalid_input(error: InvalidInput) -> str:
    lines = [
        f"**{_OPTION_NAMES.get(field, field)}**: {' '.join(messages)}"
        for field, messages in sorted(error.errors.items())
    ]
    return "Please check:\n" + "\n".join(lines)


def describe(error: BaseException) -> str | None:
    """The sentence for ``error``, or ``None`` when it is unexpected."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, TooManyFailedClaims):
        return f"Too many failed attempts. Try again in {error.retry_after} seconds."
    if isinstance(error, InvalidInput):
        return describe_invalid_input(error)
    if isinstance(error, DomainError):
        if error.message != type(error).default_message:
            return error.message
        return _DOMAIN_SENTENCES.get(error.code, error.message)
    if isinstance(error, (Refusal, NotManager)):
        return error.message
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works only in a server."
    if isinstance(error, app_commands.MissingPermissions):
        names = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return f"You need the {names} permission for this."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    if isinstance(error, app_commands.TransformerError):
        return f"I couldn't understand the value you gave for **{_option_of(error)}**."
    return None


def _option_of(error: app_commands.TransformerError) -> str:
    return getattr(error.transformer, "_error_display_name", None) or "an option"


async def reply_ephemeral(interaction: discord.Interaction, content: str) -> None:
    """Answer ``interaction`` privately, whether or not it was answered or deferred already."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(content, ephemeral=True)
        else:
            await interaction.response.send_message(content, ephemeral=True)
    except discord.HTTPException:
        log.warning("Could not deliver an error reply for interaction %s", interaction.id, exc_info=True)


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    """The one error path of the tree and the views."""
    message = describe(error)
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
        message = (
            f"Something went wrong on my side (reference `{reference}`). Please try again in a "
            "moment; if it keeps happening, give this reference to the server staff."
        )
    await reply_ephemeral(interaction, message)


class CodesTree(app_commands.CommandTree):
    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        # The first step of the task that handles one interaction: its log lines, and those of the
        # domain calls it runs in threads, carry the interaction's id as their request id.
        request_id_var.set(str(interaction.id))
        return True

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await report_error(interaction, error)
