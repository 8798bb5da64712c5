"""/codes info and /codes list: one code in detail, or the codes a page at a time."""

from __future__ import annotations

import functools

import discord
from discord import app_commands

from bot import replies
from bot.cogs.codes.base import ManagerCommands, code_autocomplete
from bot.formatting import info_embed, list_embed
from bot.i18n import cmd, t
from bot.views import PagedView
from shared.codes import get_code, list_codes
from shared.mail.services import delivery_counts
from shared.models import CODE_TYPES
from shared.records import CODE_STATUSES

PAGE_SIZE = 10
STATUSES = [
    app_commands.Choice(name=cmd(f"choice.status.{status}"), value=status)
    for status in reversed(CODE_STATUSES)  # the most useful first: active
]
TYPES = [
    app_commands.Choice(name=cmd(f"choice.type.{code_type}"), value=code_type) for code_type in CODE_TYPES
]


class BrowseCommands(ManagerCommands):
    @app_commands.command(name=cmd("info.name"), description=cmd("info.description"))
    @app_commands.rename(code=cmd("info.option.code"))
    @app_commands.describe(code=cmd("info.option.code.description"))
    @app_commands.autocomplete(code=code_autocomplete)
    async def info(self, interaction: discord.Interaction, code: app_commands.Range[str, 1, 64]) -> None:
        link = await self.manager_link(interaction)
        record, deliveries = await self.bot.runner.read(_code_and_deliveries, link.project_id, code)
        await replies.send(
            interaction, embed=info_embed(record, interaction.guild_id, interaction.locale, deliveries)
        )

    @app_commands.command(name=cmd("list.name"), description=cmd("list.description"))
    @app_commands.rename(status=cmd("list.option.status"), code_type=cmd("list.option.type"))
    @app_commands.describe(
        status=cmd("list.option.status.description"), code_type=cmd("list.option.type.description")
    )
    @app_commands.choices(status=STATUSES, code_type=TYPES)
    async def list(
        self,
        interaction: discord.Interaction,
        status: app_commands.Choice[str] | None = None,
        code_type: app_commands.Choice[str] | None = None,
    ) -> None:
        link = await self.manager_link(interaction)
        locale = interaction.locale
        fetch = functools.partial(
            self.bot.runner.read,
            list_codes,
            link.project_id,
            limit=PAGE_SIZE,
            status=status.value if status else None,
            code_type=code_type.value if code_type else None,
        )

        async def page(cursor: str | None):
            return await fetch(cursor=cursor)

        filters = " · ".join(
            t(locale, f"{kind}.{choice.value}")
            for kind, choice in (("status", status), ("type", code_type))
            if choice is not None
        )
        view = PagedView(
            interaction.user.id,
            locale,
            page,
            await page(None),
            lambda shown, number: list_embed(shown.items, page=number, filters=filters, locale=locale),
            timeout=self.bot.list_timeout,
        )
        view.message = await replies.send(interaction, embed=view.embed(), view=view)


def _code_and_deliveries(session, project_id: int, code: str):
    """The code and its email deliveries by status, in one read."""
    record = get_code(session, project_id, code)
    return record, delivery_counts(session, project_id, record.code)
