"""/codes delete: after a confirmation, delete the code and take back the roles it granted.

A code whose role lives in another server is deleted from that server only: this server's
managers have no say over that server's roles. Taking roles back is one request per member, so
for a widely claimed code it shows progress, and its result survives the interaction's token.
"""

from __future__ import annotations

import discord
from discord import app_commands
from sqlalchemy.orm import Session

from bot import replies
from bot.cogs.codes.base import ManagerCommands, code_autocomplete
from bot.errors import Refusal
from bot.formatting import logged_code
from bot.i18n import cmd, t, tn
from bot.progress import Progress
from bot.roles import remove_role
from bot.views import ConfirmView
from shared.codes import delete_code, get_code
from shared.guilds import GuildLink, members_keeping_role
from shared.records import CodeRecord, DeleteResult


class RoleInOtherServer(Exception):
    """The code grants a role in another server: only that server's managers may delete it."""


def _refuse_other_server(record: CodeRecord, guild_id: int) -> None:
    if record.discord_role_id is not None and record.discord_guild_id != guild_id:
        raise RoleInOtherServer()


def _delete(session: Session, project_id: int, code: str, guild_id: int) -> tuple[DeleteResult, list[int]]:
    """Delete, and say whose role goes: holders without another claim granting the same role."""
    result = delete_code(session, project_id, code)
    record = result.code
    # Checked again on the row deleted (raising rolls the delete back): the code may have been
    # deleted and made again, elsewhere, since the manager was asked.
    _refuse_other_server(record, guild_id)
    if record.discord_role_id is None or record.discord_guild_id is None or not result.role_holders:
        return result, []
    keeping = members_keeping_role(
        session, project_id, record.discord_guild_id, record.discord_role_id, result.role_holders
    )
    return result, [user_id for user_id in result.role_holders if user_id not in keeping]


class DeleteCommands(ManagerCommands):
    @app_commands.command(name=cmd("delete.name"), description=cmd("delete.description"))
    @app_commands.rename(code=cmd("delete.option.code"))
    @app_commands.describe(code=cmd("delete.option.code.description"))
    @app_commands.autocomplete(code=code_autocomplete)
    async def delete(self, interaction: discord.Interaction, code: app_commands.Range[str, 1, 64]) -> None:
        link = await self.manager_link(interaction)
        locale = interaction.locale
        record = await self.bot.runner.read(get_code, link.project_id, code)
        try:
            _refuse_other_server(record, link.guild_id)
        except RoleInOtherServer:
            raise Refusal(t(locale, "delete.other_server")) from None

        async def confirmed(button_interaction: discord.Interaction) -> None:
            await self._delete_confirmed(button_interaction, link, record.code)

        view = ConfirmView(
            interaction.user.id,
            locale,
            confirmed,
            confirm_label=t(locale, "delete.confirm"),
            timeout=self.bot.confirm_timeout,
        )
        warning = t(
            locale, "delete.question", code=record.code, claims=tn(locale, "count.claims", record.claims)
        )
        if record.discord_role_id is not None:
            warning += " " + t(locale, "delete.question_role")
        view.message = await replies.send(interaction, warning, view=view)

    async def _delete_confirmed(self, interaction: discord.Interaction, link: GuildLink, code: str) -> None:
        locale = interaction.locale
        try:
            result, revoke = await self.bot.runner.run(_delete, link.project_id, code, link.guild_id)
        except RoleInOtherServer:
            raise Refusal(t(locale, "delete.other_server")) from None
        record = result.code
        progress = Progress(interaction, interval=self.bot.progress_interval)
        removed = 0
        for done, user_id in enumerate(revoke, start=1):
            if await remove_role(
                self.bot,
                record.discord_guild_id,
                user_id,
                record.discord_role_id,
                t(interaction.guild_locale, "audit.deleted"),
            ):
                removed += 1
            await progress.update(
                t(locale, "delete.progress", code=record.code, done=done, total=len(revoke)), view=None
            )
        message = t(
            locale, "delete.done", code=record.code, claims=tn(locale, "count.claims", result.claims_deleted)
        )
        if record.discord_role_id is not None:
            message += t(locale, "delete.done_roles", members=tn(locale, "count.members", removed))
            if removed < len(revoke):
                message += " " + tn(locale, "delete.done_roles_failed", len(revoke) - removed)
        await progress.finish(message + ".", view=None)
        await self.log_event(
            interaction,
            link,
            "log.deleted",
            code=logged_code(link, record, interaction.guild_locale),
            claims=tn(interaction.guild_locale, "count.claims", result.claims_deleted),
            roles=tn(interaction.guild_locale, "count.roles", removed),
        )
