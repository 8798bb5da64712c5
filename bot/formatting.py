"""How codes look in Discord: inline lists, CSV attachments, the info, list and claims embeds,
and codes as the log channel names them."""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io

import discord

from bot.i18n import t, tn
from shared.clock import isoformat_z, utcnow
from shared.guilds import GuildLink
from shared.logging import mask_email
from shared.records import ClaimRecord, CodeRecord
from shared.role_grants import GrantState

INLINE_LIMIT = 20
CSV_COLUMNS = ("code", "type", "allowedClaims", "validFrom", "validUntil", "reservedFor")
CLAIMS_CSV_COLUMNS = ("claimedAt", "discordUserId", "email", "role")
STATUS_ICONS = {"active": "🟢", "not_yet_valid": "🕒", "fully_claimed": "🔴", "expired": "⚫"}
COLOURS = {
    "active": discord.Colour.green(),
    "not_yet_valid": discord.Colour.gold(),
    "fully_claimed": discord.Colour.red(),
    "expired": discord.Colour.dark_grey(),
}


def when(value: dt.datetime | None, *, empty: str = "—") -> str:
    """A naive UTC time as a Discord timestamp, shown in each reader's own time zone."""
    if value is None:
        return empty
    unix = calendar.timegm(value.utctimetuple())
    return f"<t:{unix}:f> (<t:{unix}:R>)"


def ago(value: dt.datetime) -> str:
    return f"<t:{calendar.timegm(value.utctimetuple())}:R>"


def status_label(status: str, locale) -> str:
    return f"{STATUS_ICONS[status]} {t(locale, f'status.{status}')}"


def window(code: CodeRecord, locale) -> str:
    if code.valid_from is None and code.valid_until is None:
        return t(locale, "code.always")
    return t(
        locale,
        "code.window",
        start=when(code.valid_from, empty=t(locale, "code.now")),
        end=when(code.valid_until, empty=t(locale, "code.no_end")),
    )


def mask_code(value: str) -> str:
    """Enough of a code to tell it apart in a log, too little to redeem it: ``curi…``."""
    return value[: 2 if len(value) <= 8 else 4] + "…"


def logged_code(link: GuildLink, code: CodeRecord, locale) -> str:
    """A code as the log channel names it: never a reserved one, in full only if the server chose."""
    if code.reserved_for:
        return t(locale, "log.reserved_code")
    return f"`{code.code if link.log_code_values else mask_code(code.code)}`"


def codes_csv(codes: list[CodeRecord]) -> discord.File:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for code in codes:
        writer.writerow(
            (
                code.code,
                code.type,
                code.allowed_claims,
                isoformat_z(code.valid_from) or "",
                isoformat_z(code.valid_until) or "",
                code.reserved_for or "",
            )
        )
    return discord.File(io.BytesIO(buffer.getvalue().encode()), filename="codes.csv")


def generated_summary(
    codes: list[CodeRecord], role: discord.Role | None, locale, *, for_log: bool = False
) -> str:
    """``Generated 2 creative codes, 1 claim each, ...``; in the log, a reservation is masked."""
    first = codes[0]
    parts = [
        tn(locale, "generate.summary", len(codes), type=t(locale, f"type.{first.type}")),
        tn(locale, "generate.claims_each", first.allowed_claims),
    ]
    if first.valid_from or first.valid_until:
        parts.append(
            t(
                locale,
                "generate.valid",
                start=when(first.valid_from, empty=t(locale, "code.now")),
                end=when(first.valid_until, empty=t(locale, "code.no_end")),
            )
        )
    if first.reserved_for:
        reserved = mask_email(first.reserved_for) if for_log else first.reserved_for
        parts.append(t(locale, "generate.reserved_for", email=reserved))
    if role is not None:
        parts.append(t(locale, "generate.grants", role=role.mention))
    return ", ".join(parts) + "."


def inline_codes(codes: list[CodeRecord]) -> str:
    return "```\n" + "\n".join(code.code for code in codes) + "\n```"


def info_embed(
    code: CodeRecord, guild_id: int | None, locale, deliveries: dict[str, int] | None = None
) -> discord.Embed:
    status = code.status(utcnow())
    embed = discord.Embed(title=code.code, colour=COLOURS[status])
    embed.add_field(name=t(locale, "info.status"), value=status_label(status, locale))
    embed.add_field(name=t(locale, "info.type"), value=t(locale, f"type.{code.type}.long"))
    embed.add_field(name=t(locale, "info.claims"), value=f"{code.claims} / {code.allowed_claims}")
    embed.add_field(name=t(locale, "info.valid"), value=window(code, locale), inline=False)
    embed.add_field(name=t(locale, "info.reserved_for"), value=code.reserved_for or t(locale, "info.anyone"))
    embed.add_field(name=t(locale, "info.role"), value=role_text(code, guild_id, locale))
    if deliveries is not None:
        embed.add_field(
            name=t(locale, "info.deliveries"), value=deliveries_text(deliveries, locale), inline=False
        )
    embed.set_footer(text=t(locale, "info.created", at=isoformat_z(code.created_at)))
    return embed


def deliveries_text(counts: dict[str, int], locale) -> str:
    """``2 sent · 1 queued``: the statuses that have deliveries, in the order mail moves through."""
    order = ("sent", "sending", "queued", "failed", "cancelled")
    parts = [f"{counts[status]} {t(locale, f'delivery.{status}')}" for status in order if counts.get(status)]
    return " · ".join(parts) if parts else t(locale, "info.none_sent")


def role_text(code: CodeRecord, guild_id: int | None, locale) -> str:
    if code.discord_role_id is None:
        return t(locale, "info.no_role")
    if code.discord_guild_id != guild_id:
        return t(locale, "info.role_elsewhere")
    return f"<@&{code.discord_role_id}>"


def list_embed(codes: list[CodeRecord], *, page: int, filters: str, locale) -> discord.Embed:
    now = utcnow()
    embed = discord.Embed(title=t(locale, "list.title"), colour=discord.Colour.blurple())
    if codes:
        embed.description = "\n".join(
            f"`{code.code}` · {status_label(code.status(now), locale)} · {code.claims}/{code.allowed_claims}"
            + (f" · {t(locale, 'list.reserved')}" if code.reserved_for else "")
            for code in codes
        )
    else:
        embed.description = t(locale, "list.empty" if page == 1 else "list.no_more")
    footer = t(locale, "list.page", page=page) + (f" · {filters}" if filters else "")
    embed.set_footer(text=footer + " · " + t(locale, "list.newest_first"))
    return embed


def claimant(claim: ClaimRecord) -> str:
    """A claim's claimant as managers see it: the member, and the email masked."""
    parts = []
    if claim.discord_user_id is not None:
        parts.append(f"<@{claim.discord_user_id}>")
    if claim.email is not None:
        parts.append(mask_email(claim.email))
    return " · ".join(parts)


def grant_text(state: GrantState | None, locale) -> str:
    if state is None:
        return ""
    return t(locale, "claims.role_pending" if state.pending else "claims.role_granted")


def claims_embed(
    code: CodeRecord, claims: list[ClaimRecord], grants: dict[int, GrantState], *, page: int, locale
) -> discord.Embed:
    embed = discord.Embed(title=t(locale, "claims.title", code=code.code), colour=discord.Colour.blurple())
    if claims:
        embed.description = "\n".join(
            " · ".join(
                part
                for part in (
                    claimant(claim),
                    ago(claim.claimed_at),
                    grant_text(grants.get(claim.discord_user_id), locale),
                )
                if part
            )
            for claim in claims
        )
    else:
        embed.description = t(locale, "claims.empty" if page == 1 else "list.no_more")
    embed.set_footer(
        text=t(locale, "list.page", page=page)
        + " · "
        + t(locale, "claims.count", claims=code.claims, allowed=code.allowed_claims)
        + " · "
        + t(locale, "list.newest_first")
    )
    return embed


def claims_csv(claims: list[ClaimRecord], grants: dict[int, GrantState]) -> discord.File:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CLAIMS_CSV_COLUMNS)
    for claim in claims:
        state = grants.get(claim.discord_user_id)
        writer.writerow(
            (
                isoformat_z(claim.claimed_at),
                claim.discord_user_id or "",
                mask_email(claim.email) if claim.email else "",
                "" if state is None else ("pending" if state.pending else "granted"),
            )
        )
    return discord.File(io.BytesIO(buffer.getvalue().encode()), filename="claims.csv")
