"""/codes send: by email, queued exactly like POST /codes/send, or to one member by DM.

A code is never posted in a channel: if a member's DMs are closed, the manager is told so.
"""

from __future__ import annotations

import re

import discord
from discord import app_commands
from sqlalchemy.orm import Session

from bot.cogs.codes.base import ManagerCommands, code_autocomplete
from bot.errors import Refusal
from bot.formatting import when
from bot.throttle import DMThrottled
from shared.codes import get_code, send_code
from shared.errors import InvalidInput
from shared.guilds import code_for_member
from shared.mail.message import resolve_claim_url
from shared.pages import claim_url_for_project
from shared.records import CodeRecord, SendResult

_SEPARATORS = re.compile(r"[\s,;]+")
_SKIP_REASONS = {
    "code_reserved": "the code is reserved for another address",
    "code_already_claimed": "already claimed it",
}
_SHOWN_SKIPS = 20
DMS_CLOSED = 50007


def _send_by_email(
    session: Session, project_id: int, code: str, addresses: list[str]
) -> tuple[SendResult, CodeRecord]:
    result = send_code(session, project_id, code, addresses)
    return result, get_code(session, project_id, code)


def _bad_addresses(error: InvalidInput, addresses: list[str]) -> list[str]:
    indexes = sorted(int(key.split(".", 1)[1]) for key in error.errors if key.startswith("emails."))
    return [addresses[index] for index in indexes]


def send_report(result: SendResult) -> str:
    lines = [
        f"Received **{result.received}** address{'es' if result.received != 1 else ''}; "
        f"queued **{result.notified}** email{'s' if result.notified != 1 else ''}."
    ]
    if result.skipped:
        lines.append(f"Skipped {len(result.skipped)}:")
        lines += [
            f"• {skip.email}: {_SKIP_REASONS.get(skip.reason, skip.reason)}"
            for skip in result.skipped[:_SHOWN_SKIPS]
        ]
        if len(result.skipped) > _SHOWN_SKIPS:
            lines.append(f"…and {len(result.skipped) - _SHOWN_SKIPS} more.")
    return "\n".join(lines)


def dm_embed(record: CodeRecord, guild: discord.Guild | None, *, web_url: str | None = None) -> discord.Embed:
    """The DM: the code, how to claim it in the server and, when given, on the web (``web_url``)."""
    server = guild.name if guild is not None and guild.name else "the server"
    description = f"Your code: **`{record.code}`**\n\nClaim it in {server} with `/claim code:{record.code}`"
    description += f", or on the web: {web_url}" if web_url else "."
    embed = discord.Embed(
        title=f"A code for you from {server}", description=description, colour=discord.Colour.blurple()
    )
    role = guild.get_role(record.discord_role_id) if guild and record.discord_role_id else None
    if role is not None and record.discord_guild_id == guild.id:
        embed.add_field(name="Reward", value=f"Claiming it gives you the **{role.name}** role.", inline=False)
    if record.valid_from is not None:
        embed.add_field(name="Claimable from", value=when(record.valid_from))
    if record.valid_until is not None:
        embed.add_field(name="Claimable until", value=when(record.valid_until))
    return embed


class SendCommands(ManagerCommands):
    @app_commands.command(name="send", description="Send a code by email (queued) or to a member by DM.")
    @app_commands.describe(
        code="The code to send.",
        emails="Email addresses, separated by commas or spaces.",
        member="A member to send the code to by DM.",
    )
    @app_commands.autocomplete(code=code_autocomplete)
    async def send(
        self,
        interaction: discord.Interaction,
        code: app_commands.Range[str, 1, 64],
        emails: app_commands.Range[str, 1, 6000] | None = None,
        member: discord.Member | None = None,
    ) -> None:
        link = await self.manager_link(interaction)
        if (emails is None) == (member is None):
            raise Refusal("Tell me who gets the code: give `emails` or `member` (one of the two).")
        if emails is not None:
            addresses = [part for part in _SEPARATORS.split(emails) if part]
            try:
                result, record = await self.bot.runner.run(_send_by_email, link.project_id, code, addresses)
            except InvalidInput as exc:
                bad = _bad_addresses(exc, addresses)
                if not bad:
                    raise
                shown = ", ".join(f"`{address}`" for address in bad[:10]) + ("…" if len(bad) > 10 else "")
                raise Refusal(f"Not valid email addresses: {shown}. Nothing was queued.") from None
            await interaction.followup.send(send_report(result), ephemeral=True)
            # A reserved code is meant for one person: its value stays out of the log.
            shown_code = "a reserved code" if record.reserved_for else f"`{record.code}`"
            await self.log_event(
                link,
                f"{interaction.user.mention} queued {shown_code} for {result.notified} email address(es).",
            )
            return

        assert member is not None
        if member.bot:
            raise Refusal("Bots can't claim codes.")
        record = await self.bot.runner.read(code_for_member, link.project_id, code, member.id)
        try:
            self.bot.dm_throttle.reserve(link.guild_id)
        except DMThrottled as exc:
            raise Refusal(
                f"I've sent many DMs in this server in the last minute; try again in "
                f"{exc.retry_after} seconds."
            ) from None
        web_url = None
        if record.discord_role_id is None:  # a claim on the web grants no role: /claim only, then
            template = await self.bot.runner.read(
                claim_url_for_project, link.project_id, self.bot.settings.public_url
            )
            web_url = resolve_claim_url(template, record.code)
        await self.bot.dm_throttle.pace()
        try:
            await member.send(embed=dm_embed(record, interaction.guild, web_url=web_url))
        except discord.Forbidden as exc:
            if exc.code != DMS_CLOSED:
                raise
            raise Refusal(
                f"{member.mention} doesn't accept DMs from me, so I sent nothing. I never post codes in "
                "channels: ask them to allow DMs from this server, or send it by email."
            ) from None
        await interaction.followup.send(f"Sent the code to {member.mention} by DM.", ephemeral=True)
        await self.log_event(link, f"{interaction.user.mention} sent a code to {member.mention} by DM.")
