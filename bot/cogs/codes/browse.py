"""/codes info and /codes list: one code in detail, or the codes a page at a time."""

from __future__ import annotations

import functools

import discord
from discord import app_commands

from bot.cogs.codes.base import ManagerCommands, code_autocomplete
from bot.formatting import info_embed
from bot.views import CodeListView
from shared.codes import get_code, list_codes
from shared.mail.services import delivery_counts

PAGE_SIZE = 10
STATUSES = [
    app_commands.Choice(name="active", value="active"),
    app_commands.Choice(name="not yet valid", value="not_yet_valid"),
    app_commands.Choice(name="fully claimed", value="fully_claimed"),
    app_commands.Choice(name="expired", value="expired"),
]
TYPES = [
    app_commands.Choice(name="creative", value="creative"),
    app_commands.Choice(name="alphanumeric", value="alphanumeric"),
    app_commands.Choice(name="numeric", value="numeric"),
]


class BrowseCommands(ManagerCommands):
    @app_commands.command(name="info", description="Show a code: type, claims, validity, reservation, role.")
    @app_commands.describe(code="The code to show.")
    @app_commands.autocomplete(code=code_autocomplete)
    async def info(self, interaction: discord.Interaction, code: app_commands.Range[str, 1, 64]) -> None:
        link = await self.manager_link(interaction)
        record, deliveries = await self.bot.runner.read(_code_and_deliveries, link.project_id, code)
        await interaction.followup.send(
            embed=info_embed(record, interaction.guild_id, deliveries), ephemeral=True
        )

    @app_commands.command(
        name="list", description="List this project's codes, newest first, a page at a time."
    )
    @app_commands.rename(code_type="type")
    @app_commands.describe(status="Only codes with this status.", code_type="Only codes of this type.")
    @app_commands.choices(status=STATUSES, code_type=TYPES)
    async def list(
        self,
        interaction: discord.Interaction,
        status: app_commands.Choice[str] | None = None,
        code_type: app_commands.Choice[str] | None = None,
    ) -> None:
        link = await self.manager_link(interaction)
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

        filters = " · ".join(choice.name for choice in (status, code_type) if choice is not None)
        view = CodeListView(
            interaction.user.id, page, await page(None), filters=filters, timeout=self.bot.list_timeout
        )
        view.message = await interaction.followup.send(
            embed=view.embed(), view=view, ephemeral=True, wait=True
        )


def _code_and_deliveries(session, project_id: int, code: str):
    """The code and its email deliveries by status, read in one transaction."""
    record = get_code(session, project_id, code)
    return record, delivery_counts(session, project_id, record.code)
