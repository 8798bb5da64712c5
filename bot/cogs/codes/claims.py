"""/codes claims: who claimed a code (paged, or all as claims.csv); /codes regrant: give the code's
role to every member who claimed it but never got it."""

from __future__ import annotations

import discord
from discord import app_commands
from sqlalchemy.orm import Session

from bot import replies
from bot.cogs.codes.base import ManagerCommands, code_autocomplete
from bot.errors import Refusal
from bot.formatting import claims_csv, claims_embed, logged_code
from bot.i18n import cmd, t, tn
from bot.progress import Progress
from bot.roles import bot_role_problem, cached_role, grant_role, grants_role_in
from bot.views import PagedView
from shared.codes import get_code, list_claims
from shared.records import ClaimRecord, Page
from shared.role_grants import fail_role_grant, finish_role_grant, pending_role_grants, role_grant_states

PAGE_SIZE = 10
# The most claims one CSV holds (about 1 MB); the reply says when there were more.
EXPORT_LIMIT = 10_000
_EXPORT_PAGE = 100


def _claims_page(session: Session, project_id: int, code: str, cursor: str | None):
    record = get_code(session, project_id, code)
    page = list_claims(session, project_id, record.code, limit=PAGE_SIZE, cursor=cursor)
    return record, page, _grants(session, record.id, page.items)


def _all_claims(session: Session, project_id: int, code: str):
    """Up to EXPORT_LIMIT claims, newest first, in one read."""
    record = get_code(session, project_id, code)
    claims: list[ClaimRecord] = []
    cursor = None
    while len(claims) < EXPORT_LIMIT:
        page = list_claims(session, project_id, record.code, limit=_EXPORT_PAGE, cursor=cursor)
        claims += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    claims = claims[:EXPORT_LIMIT]
    return claims, _grants(session, record.id, claims), cursor is not None


def _grants(session: Session, code_id: int, claims: list[ClaimRecord]):
    members = [claim.discord_user_id for claim in claims if claim.discord_user_id is not None]
    return role_grant_states(session, code_id, members)


class ClaimsCommands(ManagerCommands):
    @app_commands.command(name=cmd("claims.name"), description=cmd("claims.description"))
    @app_commands.rename(code=cmd("claims.option.code"), export=cmd("claims.option.csv"))
    @app_commands.describe(
        code=cmd("claims.option.code.description"), export=cmd("claims.option.csv.description")
    )
    @app_commands.autocomplete(code=code_autocomplete)
    async def claims(
        self, interaction: discord.Interaction, code: app_commands.Range[str, 1, 64], export: bool = False
    ) -> None:
        link = await self.manager_link(interaction)
        locale = interaction.locale
        record, first, grants = await self.bot.runner.read(_claims_page, link.project_id, code, None)
        shown_grants = dict(grants)

        async def fetch(cursor: str | None) -> Page[ClaimRecord]:
            _record, page, page_grants = await self.bot.runner.read(
                _claims_page, link.project_id, code, cursor
            )
            shown_grants.clear()
            shown_grants.update(page_grants)
            return page

        view = PagedView(
            interaction.user.id,
            locale,
            fetch,
            first,
            lambda page, number: claims_embed(record, page.items, shown_grants, page=number, locale=locale),
            timeout=self.bot.list_timeout,
        )
        content, attachment = None, None
        if export:
            every, every_grant, truncated = await self.bot.runner.read(_all_claims, link.project_id, code)
            attachment = claims_csv(every, every_grant)
            content = t(locale, "claims.csv_truncated" if truncated else "claims.csv", limit=EXPORT_LIMIT)
        view.message = await replies.send(
            interaction, content, embed=view.embed(), file=attachment, view=view
        )

    @app_commands.command(name=cmd("regrant.name"), description=cmd("regrant.description"))
    @app_commands.rename(code=cmd("regrant.option.code"))
    @app_commands.describe(code=cmd("regrant.option.code.description"))
    @app_commands.autocomplete(code=code_autocomplete)
    async def regrant(self, interaction: discord.Interaction, code: app_commands.Range[str, 1, 64]) -> None:
        link = await self.manager_link(interaction)
        locale = interaction.locale
        record, members = await self.bot.runner.read(pending_role_grants, link.project_id, code)
        if record.discord_role_id is None:
            raise Refusal(t(locale, "regrant.no_role"))
        if not grants_role_in(record, link.guild_id):
            raise Refusal(t(locale, "regrant.other_server"))
        role = cached_role(interaction.guild, record.discord_role_id)
        if role is not None and (problem := bot_role_problem(interaction.guild, role, locale)):
            raise Refusal(problem)
        mention = f"<@&{record.discord_role_id}>"
        if not members:
            await replies.send(interaction, t(locale, "regrant.nobody", role=mention))
            return

        progress = Progress(interaction, interval=self.bot.progress_interval)
        reason = t(interaction.guild_locale, "audit.regrant")
        granted, errors = 0, []
        for done, user_id in enumerate(members, start=1):
            error = await grant_role(self.bot, link.guild_id, user_id, record.discord_role_id, reason)
            if error is None:
                await self.bot.runner.run(finish_role_grant, record.id, user_id)
                granted += 1
            else:
                await self.bot.runner.run(fail_role_grant, record.id, user_id, error)
                errors.append(error)
            await progress.update(t(locale, "regrant.progress", role=mention, done=done, total=len(members)))
        message = tn(locale, "regrant.done", granted, role=mention)
        if errors:
            message += " " + tn(locale, "regrant.failed", len(errors), error=errors[-1])
        await progress.finish(message)
        await self.log_event(
            interaction,
            link,
            "log.regranted",
            role=mention,
            code=logged_code(link, record, interaction.guild_locale),
            members=tn(interaction.guild_locale, "count.members", granted),
        )
