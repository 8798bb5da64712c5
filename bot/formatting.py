"""How codes look in Discord: inline lists, the CSV attachment, the info and list embeds."""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io

import discord

from shared.clock import isoformat_z, utcnow
from shared.records import CodeRecord

INLINE_LIMIT = 20
CSV_COLUMNS = ("code", "type", "allowedClaims", "validFrom", "validUntil", "reservedFor")
STATUS_LABELS = {
    "active": "🟢 active",
    "not_yet_valid": "🕒 not yet valid",
    "fully_claimed": "🔴 fully claimed",
    "expired": "⚫ expired",
}
TYPE_LABELS = {"creative": "Creative (word-word)", "alphanumeric": "Alphanumeric", "numeric": "Numeric"}


def when(value: dt.datetime | None, *, empty: str = "—") -> str:
    """A naive UTC time as a Discord timestamp, shown in each reader's own time zone."""
    if value is None:
        return empty
    unix = calendar.timegm(value.utctimetuple())
    return f"<t:{unix}:f> (<t:{unix}:R>)"


def window(code: CodeRecord) -> str:
    if code.valid_from is None and code.valid_until is None:
        return "Always"
    return f"From {when(code.valid_from, empty='now')}\nUntil {when(code.valid_until, empty='no end')}"


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


def generated_summary(codes: list[CodeRecord], role: discord.Role | None) -> str:
    first = codes[0]
    parts = [f"Generated **{len(codes)}** {first.type} code{'s' if len(codes) != 1 else ''}"]
    parts.append(f"{first.allowed_claims} claim{'s' if first.allowed_claims != 1 else ''} each")
    if first.valid_from or first.valid_until:
        parts.append(f"valid {window(first).replace(chr(10), ' ').lower()}")
    if first.reserved_for:
        parts.append(f"reserved for {first.reserved_for}")
    if role is not None:
        parts.append(f"claiming grants {role.mention}")
    return ", ".join(parts) + "."


def inline_codes(codes: list[CodeRecord]) -> str:
    return "```\n" + "\n".join(code.code for code in codes) + "\n```"


def info_embed(
    code: CodeRecord, guild_id: int | None, deliveries: dict[str, int] | None = None
) -> discord.Embed:
    status = code.status(utcnow())
    embed = discord.Embed(title=code.code, colour=_colour(status))
    embed.add_field(name="Status", value=STATUS_LABELS[status])
    embed.add_field(name="Type", value=TYPE_LABELS.get(code.type, code.type))
    embed.add_field(name="Claims", value=f"{code.claims} / {code.allowed_claims}")
    embed.add_field(name="Valid", value=window(code), inline=False)
    embed.add_field(name="Reserved for", value=code.reserved_for or "Anyone")
    embed.add_field(name="Role", value=role_text(code, guild_id))
    if deliveries is not None:
        embed.add_field(name="Email deliveries", value=deliveries_text(deliveries), inline=False)
    embed.set_footer(text=f"Created {isoformat_z(code.created_at)}")
    return embed


def deliveries_text(counts: dict[str, int]) -> str:
    """``2 sent · 1 queued``: the statuses that have deliveries, in the order mail moves through."""
    order = ("sent", "sending", "queued", "failed", "cancelled")
    parts = [f"{counts[status]} {status}" for status in order if counts.get(status)]
    return " · ".join(parts) if parts else "None sent"


def role_text(code: CodeRecord, guild_id: int | None) -> str:
    if code.discord_role_id is None:
        return "None"
    if code.discord_guild_id != guild_id:
        return "A role in another server"
    return f"<@&{code.discord_role_id}>"


def list_embed(codes: list[CodeRecord], *, page: int, filters: str) -> discord.Embed:
    now = utcnow()
    embed = discord.Embed(title="Codes", colour=discord.Colour.blurple())
    if codes:
        embed.description = "\n".join(
            f"`{code.code}` · {STATUS_LABELS[code.status(now)]} · {code.claims}/{code.allowed_claims}"
            + (" · reserved" if code.reserved_for else "")
            for code in codes
        )
    else:
        embed.description = "No codes match." if page == 1 else "No more codes."
    embed.set_footer(text=f"Page {page}" + (f" · {filters}" if filters else "") + " · newest first")
    return embed


def _colour(status: str) -> discord.Colour:
    return {
        "active": discord.Colour.green(),
        "not_yet_valid": discord.Colour.gold(),
        "fully_claimed": discord.Colour.red(),
        "expired": discord.Colour.dark_grey(),
    }[status]
