"""/codes generate: a batch of codes, inline up to 20, otherwise as codes.csv."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.cogs.codes.base import ManagerCommands
from bot.errors import Refusal
from bot.formatting import INLINE_LIMIT, codes_csv, generated_summary, inline_codes
from bot.times import parse_when
from shared.codes import generate_codes
from shared.errors import InvalidInput
from shared.validation import MAX_ALLOWED_CLAIMS

MAX_AMOUNT = 1000
TYPES = [
    app_commands.Choice(name="creative (curious-pineapple)", value="creative"),
    app_commands.Choice(name="alphanumeric (6 characters)", value="alphanumeric"),
    app_commands.Choice(name="numeric (6 digits)", value="numeric"),
]


def role_problem(interaction: discord.Interaction, role: discord.Role) -> str | None:
    """Why the bot could not grant ``role`` on claim, or ``None`` if it can."""
    if role.is_default():
        return "@everyone can't be granted: every member has it already."
    if role.managed:
        return (
            f"{role.mention} is managed by an integration (a bot, boosts, subscriptions); I can't grant it."
        )
    guild = interaction.guild
    # Roles and the bot's own member come with the server (the guilds intent) once it has loaded.
    me = guild.me if guild is not None else None
    if me is None or guild.get_role(guild.id) is None:
        return "I'm still loading this server; try again in a few seconds."
    if not me.guild_permissions.manage_roles:
        return "I need the **Manage Roles** permission to grant roles."
    if not role.is_assignable():
        return f"{role.mention} is above my highest role; move my role above it in Server Settings → Roles."
    # Codes must not hand out more than their creator could: a manager-role holder is no role admin.
    member = interaction.user
    if isinstance(member, discord.Member) and member.id != guild.owner_id:
        if not interaction.permissions.manage_roles:
            return "You need the **Manage Roles** permission to attach a role to codes."
        if role >= member.top_role:
            return f"{role.mention} is not below your highest role, so you can't hand it out."
    return None


class GenerateCommands(ManagerCommands):
    @app_commands.command(name="generate", description="Generate codes; more than 20 come as a CSV file.")
    @app_commands.rename(code_type="type")
    @app_commands.describe(
        amount="How many codes (1 to 1000).",
        code_type="What the codes look like (default: creative).",
        allowed_claims="How many times each code can be claimed (default 1).",
        valid_from="When claims open: 30m, 2h, 7d, or ISO 8601 (default: now).",
        valid_until="When claims close: 30m, 2h, 7d, or ISO 8601 (default: never).",
        reserved_for="Only this email address may claim the codes.",
        role="Claiming a code in this server grants this role.",
    )
    @app_commands.choices(code_type=TYPES)
    async def generate(
        self,
        interaction: discord.Interaction,
        amount: app_commands.Range[int, 1, MAX_AMOUNT],
        code_type: app_commands.Choice[str] | None = None,
        allowed_claims: app_commands.Range[int, 1, MAX_ALLOWED_CLAIMS] = 1,
        valid_from: app_commands.Range[str, 1, 64] | None = None,
        valid_until: app_commands.Range[str, 1, 64] | None = None,
        reserved_for: app_commands.Range[str, 3, 320] | None = None,
        role: discord.Role | None = None,
    ) -> None:
        link = await self.manager_link(interaction)
        errors: dict[str, list[str]] = {}
        window = {}
        for field, value in (("valid_from", valid_from), ("valid_until", valid_until)):
            if value is not None:
                try:
                    window[field] = parse_when(value, field)
                except InvalidInput as exc:
                    errors.update(exc.errors)
        if errors:
            raise InvalidInput(errors)
        if role is not None and (problem := role_problem(interaction, role)):
            raise Refusal(problem)

        codes = await self.bot.runner.run(
            generate_codes,
            link.project_id,
            amount=amount,
            code_type=code_type.value if code_type else "creative",
            allowed_claims=allowed_claims,
            reserved_for=reserved_for,
            discord_guild_id=interaction.guild_id if role else None,
            discord_role_id=role.id if role else None,
            max_amount=MAX_AMOUNT,
            **window,
        )
        summary = generated_summary(codes, role)
        if len(codes) <= INLINE_LIMIT:
            await interaction.followup.send(f"{summary}\n{inline_codes(codes)}", ephemeral=True)
        else:
            await interaction.followup.send(
                f"{summary} They're in the attached file.", file=codes_csv(codes), ephemeral=True
            )
        await self.log_event(link, f"{interaction.user.mention}: {summary}")
