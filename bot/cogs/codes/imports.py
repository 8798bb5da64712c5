"""/codes import: a .txt or .csv of codes the team already has, up to 10,000, all or none."""

from __future__ import annotations

import csv
import io

import discord
from discord import app_commands

from bot import replies
from bot.cogs.codes.base import ManagerCommands, batch_autocomplete
from bot.errors import Refusal
from bot.i18n import cmd, t, tn
from bot.replies import clip
from bot.times import parse_when
from shared.code_files import CodeFileProblem, check_name, codes_in, decoded
from shared.codes import import_codes
from shared.errors import CodeExists, InvalidInput
from shared.records import ImportResult
from shared.validation import MAX_ALLOWED_CLAIMS, MAX_IMPORT

# 10,000 codes of 64 characters and a CSV's extra columns fit within this.
MAX_FILE_BYTES = 2 * 1024 * 1024
_SHOWN = 10


def _named(keys, lines: list[tuple[int, str]]) -> str:
    """``abc`` (line 3), ... for the domain's ``codes.N`` keys, N being a position in ``lines``."""
    positions = sorted(int(key.split(".", 1)[1]) for key in keys if key.startswith("codes."))
    return ", ".join(f"`{clip(lines[p][1], 40)}` ({lines[p][0]})" for p in positions[:_SHOWN])


def import_report(result: ImportResult, batch: str | None, locale) -> tuple[str, discord.File | None]:
    """What was imported and skipped; every skipped code in ``skipped.csv`` when there are many."""
    text = tn(locale, "import.done", result.imported)
    if batch:
        text += " " + t(locale, "import.into_batch", batch=batch)
    text += "."
    attachment = None
    if result.skipped:
        shown = ", ".join(f"`{skip.code}`" for skip in result.skipped[:_SHOWN])
        text += "\n" + tn(locale, "import.skipped", len(result.skipped), codes=shown)
        if len(result.skipped) > _SHOWN:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(("code", "reason"))
            writer.writerows((skip.code, skip.reason) for skip in result.skipped)
            attachment = discord.File(io.BytesIO(buffer.getvalue().encode()), filename="skipped.csv")
    return text, attachment


class ImportCommands(ManagerCommands):
    @app_commands.command(name=cmd("import.name"), description=cmd("import.description"))
    @app_commands.rename(
        file=cmd("import.option.file"),
        batch=cmd("import.option.batch"),
        allowed_claims=cmd("generate.option.allowed_claims"),
        valid_from=cmd("generate.option.valid_from"),
        valid_until=cmd("generate.option.valid_until"),
        skip_existing=cmd("import.option.skip_existing"),
    )
    @app_commands.describe(
        file=cmd("import.option.file.description"),
        batch=cmd("import.option.batch.description"),
        allowed_claims=cmd("generate.option.allowed_claims.description"),
        valid_from=cmd("generate.option.valid_from.description"),
        valid_until=cmd("generate.option.valid_until.description"),
        skip_existing=cmd("import.option.skip_existing.description"),
    )
    @app_commands.autocomplete(batch=batch_autocomplete)
    async def import_(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment,
        batch: app_commands.Range[str, 1, 100] | None = None,
        allowed_claims: app_commands.Range[int, 1, MAX_ALLOWED_CLAIMS] = 1,
        valid_from: app_commands.Range[str, 1, 64] | None = None,
        valid_until: app_commands.Range[str, 1, 64] | None = None,
        skip_existing: bool = False,
    ) -> None:
        link = await self.manager_link(interaction)
        locale = interaction.locale
        window, errors = {}, {}
        for field, value in (("valid_from", valid_from), ("valid_until", valid_until)):
            if value is not None:
                try:
                    window[field] = parse_when(value, field, locale=locale)
                except InvalidInput as exc:
                    errors.update(exc.errors)
        if errors:
            raise InvalidInput(errors)
        lines = await self._read(file, locale)
        try:
            result = await self.bot.runner.run(
                import_codes,
                link.project_id,
                [value for _, value in lines],
                allowed_claims=allowed_claims,
                batch=batch,
                skip_existing=skip_existing,
                **window,
            )
        except CodeExists as exc:
            raise Refusal(
                tn(locale, "import.exists", len(exc.errors), codes=_named(exc.errors, lines))
            ) from None
        except InvalidInput as exc:
            bad = _named(exc.errors, lines)
            if not bad:
                raise
            raise Refusal(tn(locale, "import.bad_codes", len(exc.errors), codes=bad)) from None
        report, attachment = import_report(result, batch.strip() if batch else None, locale)
        await replies.send(interaction, report, file=attachment)
        where = " " + t(interaction.guild_locale, "import.into_batch", batch=batch.strip()) if batch else ""
        await self.log_event(interaction, link, "log.imported", count=result.imported, where=where)

    async def _read(self, file: discord.Attachment, locale) -> list[tuple[int, str]]:
        """(line, value) for each code in the attachment, or a refusal saying what is wrong."""
        try:
            check_name(file.filename)
        except CodeFileProblem:
            raise Refusal(t(locale, "import.file.type")) from None
        if file.size > MAX_FILE_BYTES:
            raise Refusal(t(locale, "import.file.size", limit=MAX_FILE_BYTES // 1024))
        try:
            data = await file.read()
        except discord.HTTPException:
            raise Refusal(t(locale, "send.file.download")) from None
        try:
            lines = list(codes_in(file.filename, decoded(data.splitlines(keepends=True))))
        except CodeFileProblem as exc:
            raise Refusal(t(locale, "import.file.encoding", line=exc.line)) from None
        if not lines:
            raise Refusal(t(locale, "import.file.empty"))
        if len(lines) > MAX_IMPORT:
            raise Refusal(t(locale, "import.file.too_many", count=len(lines), limit=MAX_IMPORT))
        return lines
