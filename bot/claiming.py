"""A member claims a code, from /claim or a redeem panel's form, and gets the code's role.

The claim and a pending role grant are committed together; the role is asked of Discord after.
If Discord refuses, the claim stands and the grant stays pending: the member running /claim again
with the code (not counted as a failed attempt) or a manager running /codes regrant finishes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from sqlalchemy.orm import Session

from bot import replies
from bot.errors import Refusal
from bot.formatting import logged_code
from bot.i18n import t
from bot.roles import grant_role, grants_role_in
from shared.codes import claim_code
from shared.errors import CodeReserved, DomainError
from shared.guilds import (
    GuildLink,
    GuildNotLinked,
    TooManyFailedClaims,
    check_claim_allowed,
    get_guild_link,
    record_claim_failure,
)
from shared.records import CodeRecord
from shared.role_grants import fail_role_grant, finish_role_grant, open_role_grant, pending_role_grant
from shared.transactions import begin_write

if TYPE_CHECKING:
    from bot.client import CodesBot


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    link: GuildLink
    code: CodeRecord
    # False when the member had claimed the code already and was only owed its role.
    new_claim: bool


def _claim(
    session: Session, guild_id: int, user_id: int, code: str, email: str | None, failure_limit: int
) -> ClaimOutcome:
    # One transaction: the claim and the grant it owes commit together, or neither does.
    begin_write(session)
    link = get_guild_link(session, guild_id)
    # A member who holds the claim but not yet its role gets the role: not a new claim, and not
    # a failed attempt (so not limited by them either).
    owed = pending_role_grant(session, link.project_id, code, user_id, guild_id)
    if owed is not None:
        return ClaimOutcome(link, owed, new_claim=False)
    check_claim_allowed(session, user_id, limit=failure_limit)
    # The member is always recorded: once per member per code, with or without an email.
    result = claim_code(session, link.project_id, code, email=email, discord_user_id=user_id, source="bot")
    if grants_role_in(result.code, guild_id):
        open_role_grant(session, result.code.id, user_id)
    return ClaimOutcome(link, result.code, new_claim=True)


async def claim_for_member(
    bot: CodesBot, interaction: discord.Interaction, code: str, email: str | None
) -> None:
    """Claim ``code`` for the member behind ``interaction`` (deferred already) and answer them."""
    guild_id = interaction.guild_id
    member = interaction.user
    locale = interaction.locale
    try:
        outcome = await bot.runner.run(
            _claim, guild_id, member.id, code, email, bot.settings.bot_claim_failures_per_minute
        )
    except (GuildNotLinked, TooManyFailedClaims):
        raise
    except DomainError as exc:
        # Counted in the database, so guesses spread over shards and processes add up.
        await bot.runner.run(record_claim_failure, member.id, guild_id)
        if isinstance(exc, CodeReserved) and email is None:
            raise Refusal(t(locale, "claim.reserved_needs_email")) from None
        raise

    record = outcome.code
    link = outcome.link
    guild_locale = interaction.guild_locale
    shown = logged_code(link, record, guild_locale)
    if outcome.new_claim:
        message = t(locale, "claim.done", code=record.code)
        log_line = t(
            guild_locale,
            "log.claimed",
            user=member.mention,
            code=shown,
            claims=record.claims,
            allowed=record.allowed_claims,
        )
    else:
        message = t(locale, "claim.already_yours", code=record.code)
        log_line = t(guild_locale, "log.claimed_again", user=member.mention, code=shown)

    error = None
    if grants_role_in(record, guild_id):
        role = f"<@&{record.discord_role_id}>"
        error = await grant_role(
            bot, guild_id, member.id, record.discord_role_id, t(guild_locale, "audit.claimed")
        )
        if error is None:
            await bot.runner.run(finish_role_grant, record.id, member.id)
            message += " " + t(locale, "claim.role_granted", role=role)
        else:
            await bot.runner.run(fail_role_grant, record.id, member.id, error)
            log_line += " " + t(guild_locale, "log.role_failed", role=role, error=error)
    told = await bot.post_log(link.log_channel_id, link.guild_id, log_line, locale=guild_locale)
    if error is not None:
        message += " " + t(locale, "claim.role_failed", role=f"<@&{record.discord_role_id}>")
        if told:
            message += " " + t(locale, "claim.staff_told")
        message += " " + t(locale, "claim.try_again_later")
    await replies.send(interaction, message)
