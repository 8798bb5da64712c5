"""/codes send: by email, queued exactly like POST /codes/send, or to one member by DM.

Addresses come typed (``emails``), in a .txt or .csv file (``file``), or both. A code is never
posted in a channel: if a member's DMs are closed, the manager is told so.
"""

from __future__ import annotations

import csv
import io

import discord
from discord import app_commands
from sqlalchemy.orm import Session

from bot import replies
from bot.addresses import MAX_FILE_BYTES, SUFFIXES, AddressFileProblem, addresses_in_file, split_addresses
from bot.cogs.codes.base import ManagerCommands, code_autocomplete
from bot.errors import Refusal
from bot.formatting import logged_code, when
from bot.i18n import cmd, t, tn
from bot.replies import clip
from bot.throttle import DMThrottled
from shared.codes import get_code, send_code
from shared.errors import CodeAlreadyClaimed, CodeReserved, InvalidInput
from shared.guilds import code_for_member
from shared.mail.message import resolve_claim_url
from shared.pages import claim_url_for_project
from shared.records import CodeRecord, SendResult

_SHOWN_SKIPS = 10
_SHOWN_BAD = 10
DMS_CLOSED = 50007


def _queue_emails(
    session: Session, project_id: int, code: str, addresses: list[str]
) -> tuple[SendResult, CodeRecord]:
    result = send_code(session, project_id, code, addresses)
    return result, get_code(session, project_id, code)


def _bad_addresses(error: InvalidInput, addresses: list[str]) -> list[str]:
    indexes = sorted(int(key.split(".", 1)[1]) for key in error.errors if key.startswith("emails."))
    return [addresses[index] for index in indexes]


def _skip_reason(reason: str, locale) -> str:
    return t(locale, f"send.skip.{reason}") if reason in ("code_reserved", "code_already_claimed") else reason


def send_report(result: SendResult, locale) -> tuple[str, discord.File | None]:
    """The report, with every skipped address in ``skipped.csv`` when there are many."""
    lines = [tn(locale, "send.received", result.received) + " " + tn(locale, "send.queued", result.notified)]
    attachment = None
    if result.skipped:
        lines.append(tn(locale, "send.skipped", len(result.skipped)))
        lines += [
            f"• {clip(skip.email, 80)}: {_skip_reason(skip.reason, locale)}"
            for skip in result.skipped[:_SHOWN_SKIPS]
        ]
        if len(result.skipped) > _SHOWN_SKIPS:
            lines.append(tn(locale, "send.skipped_more", len(result.skipped) - _SHOWN_SKIPS))
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(("email", "reason"))
            writer.writerows((skip.email, skip.reason) for skip in result.skipped)
            attachment = discord.File(io.BytesIO(buffer.getvalue().encode()), filename="skipped.csv")
    return "\n".join(lines), attachment


def dm_embed(
    record: CodeRecord, guild: discord.Guild | None, locale, *, web_url: str | None = None
) -> discord.Embed:
    """The DM: the code, how to claim it in the server and, when given, on the web (``web_url``)."""
    server = guild.name if guild is not None and guild.name else t(locale, "dm.the_server")
    description = t(locale, "dm.body", code=record.code, server=server)
    if web_url:
        description += "\n" + t(locale, "dm.web", url=web_url)
    embed = discord.Embed(
        title=t(locale, "dm.title", server=server),
        description=description,
        colour=discord.Colour.blurple(),
    )
    role = guild.get_role(record.discord_role_id) if guild and record.discord_role_id else None
    if role is not None and record.discord_guild_id == guild.id:
        embed.add_field(
            name=t(locale, "dm.reward"), value=t(locale, "dm.reward_role", role=role.name), inline=False
        )
    if record.valid_from is not None:
        embed.add_field(name=t(locale, "dm.from"), value=when(record.valid_from))
    if record.valid_until is not None:
        embed.add_field(name=t(locale, "dm.until"), value=when(record.valid_until))
    return embed


async def read_address_file(attachment: discord.Attachment, locale) -> list[str]:
    if not attachment.filename.lower().endswith(SUFFIXES):
        raise Refusal(t(locale, "send.file.type"))
    if attachment.size > MAX_FILE_BYTES:
        raise Refusal(t(locale, "send.file.size", limit=MAX_FILE_BYTES // 1024))
    try:
        data = await attachment.read()
    except discord.HTTPException:
        raise Refusal(t(locale, "send.file.download")) from None
    try:
        return addresses_in_file(attachment.filename, data)
    except AddressFileProblem as exc:
        raise Refusal(t(locale, f"send.file.{exc.reason}", limit=MAX_FILE_BYTES // 1024)) from None


class SendCommands(ManagerCommands):
    @app_commands.command(name=cmd("send.name"), description=cmd("send.description"))
    @app_commands.rename(
        code=cmd("send.option.code"),
        emails=cmd("send.option.emails"),
        file=cmd("send.option.file"),
        member=cmd("send.option.member"),
    )
    @app_commands.describe(
        code=cmd("send.option.code.description"),
        emails=cmd("send.option.emails.description"),
        file=cmd("send.option.file.description"),
        member=cmd("send.option.member.description"),
    )
    @app_commands.autocomplete(code=code_autocomplete)
    async def send(
        self,
        interaction: discord.Interaction,
        code: app_commands.Range[str, 1, 64],
        emails: app_commands.Range[str, 1, 6000] | None = None,
        file: discord.Attachment | None = None,
        member: discord.Member | None = None,
    ) -> None:
        link = await self.manager_link(interaction)
        locale = interaction.locale
        by_email = emails is not None or file is not None
        if by_email == (member is not None):
            raise Refusal(t(locale, "send.one_kind"))
        if by_email:
            addresses = split_addresses(emails or "")
            if file is not None:
                addresses += await read_address_file(file, locale)
            if not addresses:
                raise Refusal(t(locale, "send.no_addresses"))
            await self._send_by_email(interaction, link, code, addresses)
            return
        assert member is not None
        await self._send_by_dm(interaction, link, code, member)

    async def _send_by_email(self, interaction, link, code: str, addresses: list[str]) -> None:
        locale = interaction.locale
        try:
            result, record = await self.bot.runner.run(_queue_emails, link.project_id, code, addresses)
        except InvalidInput as exc:
            bad = _bad_addresses(exc, addresses)
            if not bad:
                raise
            shown = ", ".join(f"`{clip(address, 60)}`" for address in bad[:_SHOWN_BAD])
            more = tn(locale, "send.bad_more", len(bad) - _SHOWN_BAD) if len(bad) > _SHOWN_BAD else ""
            raise Refusal(t(locale, "send.bad_addresses", addresses=shown, more=more)) from None
        report, attachment = send_report(result, locale)
        await replies.send(interaction, report, file=attachment)
        await self.log_event(
            interaction,
            link,
            "log.sent_by_email",
            code=logged_code(link, record, interaction.guild_locale),
            count=result.notified,
        )

    async def _send_by_dm(self, interaction, link, code: str, member: discord.Member) -> None:
        locale = interaction.locale
        if member.bot:
            raise Refusal(t(locale, "send.dm.bot"))
        try:
            record = await self.bot.runner.read(code_for_member, link.project_id, code, member.id)
        except CodeReserved:
            raise Refusal(t(locale, "send.dm.reserved")) from None
        except CodeAlreadyClaimed:
            raise Refusal(t(locale, "send.dm.already_claimed")) from None
        try:
            self.bot.dm_throttle.reserve(link.guild_id)
        except DMThrottled as exc:
            raise Refusal(t(locale, "send.dm.throttled", seconds=exc.retry_after)) from None
        web_url = None
        if record.discord_role_id is None:  # a claim on the web grants no role: /claim only, then
            template = await self.bot.runner.read(
                claim_url_for_project, link.project_id, self.bot.settings.public_url
            )
            web_url = resolve_claim_url(template, record.code)
        await self.bot.dm_throttle.pace()
        try:
            # The recipient's language is unknown: the server's.
            await replies.post(
                member,
                interaction.guild_locale,
                embed=dm_embed(record, interaction.guild, interaction.guild_locale, web_url=web_url),
            )
        except discord.Forbidden as exc:
            if exc.code != DMS_CLOSED:
                raise
            raise Refusal(t(locale, "send.dm.closed", member=member.mention)) from None
        await replies.send(interaction, t(locale, "send.dm.sent", member=member.mention))
        await self.log_event(interaction, link, "log.sent_by_dm", member=member.mention)
