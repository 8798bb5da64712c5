"""/codes delete: after a confirmation, delete the code and take back the roles it granted."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from sqlalchemy.orm import Session

from bot.cogs.codes.base import ManagerCommands, code_autocomplete
from bot.views import ConfirmView
from shared.codes import delete_code, get_code
from shared.guilds import GuildLink, members_keeping_role
from shared.records import DeleteResult

log = logging.getLogger("bot")


def _delete(session: Session, project_id: int, code: str) -> tuple[DeleteResult, list[int]]:
    """Delete, and say whose role goes: holders without another claim granting the same role."""
    result = delete_code(session, project_id, code)
    record = result.code
    if record.discord_role_id is None or record.discord_guild_id is None or not result.role_holders:
        return result, []
    keeping = members_keeping_role(
        session, project_id, record.discord_guild_id, record.discord_role_id, result.role_holders
    )
    return result, [user_id for user_id in result.role_holders if user_id not in keeping]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class DeleteCommands(ManagerCommands):
    @app_commands.command(name="delete", description="Delete a code, its claims and the roles it granted.")
    @app_commands.describe(code="The code to delete. You'll be asked to confirm.")
    @app_commands.autocomplete(code=code_autocomplete)
    async def delete(self, interaction: discord.Interaction, code: app_commands.Range[str, 1, 64]) -> None:
        link = await self.manager_link(interaction)
        record = await self.bot.runner.read(get_code, link.project_id, code)

        async def confirmed(button_interaction: discord.Interaction) -> None:
            await self._delete_confirmed(button_interaction, link, record.code)

        view = ConfirmView(
            interaction.user.id, confirmed, confirm_label="Delete", timeout=self.bot.confirm_timeout
        )
        warning = (
            f"Delete `{record.code}`? Its {_plural(record.claims, 'claim')} and pending emails go "
            "with it, permanently."
        )
        if record.discord_role_id is not None:
            warning += " Members who got a role through it lose that role."
        view.message = await interaction.followup.send(warning, view=view, ephemeral=True, wait=True)

    async def _delete_confirmed(self, interaction: discord.Interaction, link: GuildLink, code: str) -> None:
        result, revoke = await self.bot.runner.run(_delete, link.project_id, code)
        removed = await self._remove_roles(result, revoke)
        message = f"Deleted `{result.code.code}`: {_plural(result.claims_deleted, 'claim')} removed"
        if result.code.discord_role_id is not None:
            message += f", role taken back from {_plural(removed, 'member')}"
            if removed < len(revoke):
                message += f" ({len(revoke) - removed} could not be updated: they left or my role is too low)"
        message += "."
        await interaction.edit_original_response(content=message, view=None)
        await self.log_event(
            link,
            f"{interaction.user.mention} deleted `{result.code.code}` "
            f"({_plural(result.claims_deleted, 'claim')}, {_plural(removed, 'role')} removed).",
        )

    async def _remove_roles(self, result: DeleteResult, user_ids: list[int]) -> int:
        record = result.code
        removed = 0
        for user_id in user_ids:
            try:
                await self.bot.http.remove_role(
                    record.discord_guild_id, user_id, record.discord_role_id, reason="Their code was deleted"
                )
                removed += 1
            except discord.HTTPException as exc:
                log.info(
                    "Could not remove role %s from %s in guild %s: %s",
                    record.discord_role_id,
                    user_id,
                    record.discord_guild_id,
                    exc,
                )
        return removed
