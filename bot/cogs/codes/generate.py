"""/codes generate: a batch of codes, inline up to 20, otherwise as codes.csv."""

from __future__ import annotations

import discord
from discord import app_commands

from bot import replies
from bot.cogs.codes.base import ManagerCommands
from bot.errors import Refusal
from bot.formatting import INLINE_LIMIT, codes_csv, generated_summary, inline_codes
from bot.i18n import cmd, t
from bot.roles import role_problem
from bot.times import parse_when
from shared.codes import generate_codes
from shared.errors import InvalidInput
from shared.validation import MAX_ALLOWED_CLAIMS

MAX_AMOUNT = 1000
TYPES = [
    app_commands.Choice(name=cmd("choice.type.creative.example"), value="creative"),
    app_commands.Choice(name=cmd("choice.type.alphanumeric.example"), value="alphanumeric"),
    app_commands.Choice(name=cmd("choice.type.numeric.example"), value="numeric"),
]


class GenerateCommands(ManagerCommands):
    @app_commands.command(name=cmd("generate.name"), description=cmd("generate.description"))
    @app_commands.rename(
        amount=cmd("generate.option.amount"),
        code_type=cmd("generate.option.type"),
        allowed_claims=cmd("generate.option.allowed_claims"),
        valid_from=cmd("generate.option.valid_from"),
        valid_until=cmd("generate.option.valid_until"),
        reserved_for=cmd("generate.option.reserved_for"),
        role=cmd("generate.option.role"),
    )
    @app_commands.describe(
        amount=cmd("generate.option.amount.description"),
        code_type=cmd("generate.option.type.description"),
        allowed_claims=cmd("generate.option.allowed_claims.description"),
        valid_from=cmd("generate.option.valid_from.description"),
        valid_until=cmd("generate.option.valid_until.description"),
        reserved_for=cmd("generate.option.reserved_for.description"),
        role=cmd("generate.option.role.description"),
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
        locale = interaction.locale
        errors: dict[str, list[str]] = {}
        window = {}
        for field, value in (("valid_from", valid_from), ("valid_until", valid_until)):
            if value is not None:
                try:
                    window[field] = parse_when(value, field, locale=locale)
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
        summary = generated_summary(codes, role, locale)
        if len(codes) <= INLINE_LIMIT:
            await replies.send(interaction, f"{summary}\n{inline_codes(codes)}")
        else:
            await replies.send(
                interaction, f"{summary} {t(locale, 'generate.in_file')}", file=codes_csv(codes)
            )
        await self.log_event(
            interaction,
            link,
            "log.generated",
            summary=generated_summary(codes, role, interaction.guild_locale, for_log=True),
        )
