"""``flask --app wsgi codes import PROJECT FILE``: a file of codes of any size, in chunks.

Two passes over the file, neither holding it in memory: the first checks every value (a file with
a bad line imports nothing, and every bad line up to a few dozen is named), the second imports a
chunk per transaction. A chunk that meets codes the project has already stops the import (unless
``--skip-existing``), naming them with their lines; the chunks before it stay, so running again
with ``--skip-existing`` finishes it.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from api.cli import fail
from api.cli.codes import (
    code_settings,
    codes,
    describe_failure,
    progress,
    project_id,
    report_stop,
    timestamps,
)
from api.extensions import db
from shared.clock import utcnow
from shared.code_files import CodeFileProblem, check_name, codes_in, decoded
from shared.codes import import_codes
from shared.errors import CodeExists, DomainError, InvalidInput
from shared.validation import normalize_batch, normalize_custom_code, settings_errors

# How many bad lines, refused codes or skipped codes a report names.
NAMED = 10


@codes.command("import")
@click.argument("project")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@code_settings
@click.option(
    "--skip-existing",
    is_flag=True,
    help="Import the new codes and report the others, instead of stopping at a chunk that has some.",
)
def import_(project, file, batch, allowed_claims, valid_from, valid_until, chunk_size, skip_existing) -> None:
    """Import the codes in FILE into PROJECT as type custom.

    FILE is .txt (one code a line) or .csv (the column named code, else the first). Codes are
    trimmed and lowercased; 1 to 64 letters, digits, '-' or '_'.
    """
    project = project_id(project)
    settings = timestamps(valid_from=valid_from, valid_until=valid_until)
    _check_settings(batch, allowed_claims, settings)
    try:
        check_name(file.name)
    except CodeFileProblem:
        raise click.BadParameter("must be a .txt or a .csv file.", param_hint="FILE") from None

    total = _check_every_value(file)
    if total == 0:
        raise click.ClickException(f"{file} holds no codes.")
    where = f" into batch {batch!r}" if batch else ""
    started, imported, skipped, named_skips = time.monotonic(), 0, Counter(), []
    failure, first_line = None, None
    with progress(total, "Importing") as bar:
        for chunk in _chunks(_values(file), chunk_size):
            values = [value for _, value in chunk]
            try:
                result = import_codes(
                    db.session,
                    project,
                    values,
                    allowed_claims=allowed_claims,
                    batch=batch,
                    skip_existing=skip_existing,
                    max_amount=chunk_size,
                    **settings,
                )
                db.session.commit()
            except CodeExists as exc:
                db.session.rollback()
                failure, first_line = _refused(exc, chunk), chunk[0][0]
                break
            except (DomainError, SQLAlchemyError, KeyboardInterrupt) as exc:
                db.session.rollback()
                failure = f"{describe_failure(exc)}. None of that chunk's codes were imported."
                first_line = chunk[0][0]
                break
            imported += result.imported
            skipped.update(skip.reason for skip in result.skipped)
            named_skips += [skip.code for skip in result.skipped][: NAMED - len(named_skips)]
            bar.update(len(chunk))

    if failure is not None:
        done = (
            f"{_count(imported)} before line {first_line:,} were imported{where}, and they stay."
            if imported
            else "Nothing was imported."
        )
        advice = "Run again with --skip-existing to import the rest (the codes that exist are skipped)."
        report_stop(done, f"the chunk from line {first_line:,} on: {failure}", advice)
    click.echo(f"Imported {_count(imported)}{where} in {time.monotonic() - started:.1f} s.")
    if skipped:
        reasons = {"code_exists": "existed already", "duplicate": "repeated a line above"}
        parts = ", ".join(f"{count:,} {reasons[reason]}" for reason, count in sorted(skipped.items()))
        more = " …" if sum(skipped.values()) > len(named_skips) else ""
        click.echo(f"Skipped {sum(skipped.values()):,} ({parts}): {', '.join(named_skips)}{more}")


def _check_settings(batch: str | None, allowed_claims: int, times: dict) -> None:
    errors = settings_errors(allowed_claims, times.get("valid_from"), times.get("valid_until"), utcnow())
    if batch is not None:
        try:
            normalize_batch(batch)
        except InvalidInput as exc:
            errors.update(exc.errors)
    if errors:
        fail(InvalidInput(errors))


def _lines(file: Path, bar=None) -> Iterator[str]:
    with file.open("rb") as handle:
        yield from decoded(_counted(handle, bar))


def _counted(handle, bar) -> Iterator[bytes]:
    """The file's lines, moving ``bar`` by the bytes read (every 64 KiB: drawing costs too)."""
    pending = 0
    for line in handle:
        pending += len(line)
        if bar is not None and pending >= 65536:
            bar.update(pending)
            pending = 0
        yield line
    if bar is not None:
        bar.update(pending)


def _values(file: Path, bar=None) -> Iterator[tuple[int, str]]:
    try:
        yield from codes_in(file.name, _lines(file, bar))
    except CodeFileProblem as exc:
        raise click.ClickException(
            f"{file} is not UTF-8 text (line {exc.line:,}). Nothing was imported."
        ) from None


def _check_every_value(file: Path) -> int:
    """The number of codes in the file, once every one is checked; else stop, naming bad lines."""
    bad, count = [], 0
    with progress(file.stat().st_size, "Checking", show_pos=False) as bar:
        for line, value in _values(file, bar):
            count += 1
            try:
                normalize_custom_code(value)
            except InvalidInput as exc:
                bad.append((line, value, exc.errors["code"][0]))
    if bad:
        for line, value, why in bad[:NAMED]:
            click.echo(f"line {line:,}: {value[:80]!r}: {why}", err=True)
        more = f" (the first {NAMED} shown)" if len(bad) > NAMED else ""
        raise click.ClickException(
            f"{len(bad):,} lines hold values that are not codes{more}. Nothing was imported."
        )
    return count


def _chunks(values: Iterator[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    while chunk := list(itertools.islice(values, size)):
        yield chunk


def _refused(exc: CodeExists, chunk: list[tuple[int, str]]) -> str:
    """The values a chunk was refused for, with their lines."""
    named = []
    for key, messages in list(exc.errors.items())[:NAMED]:
        line, value = chunk[int(key.split(".", 1)[1])]
        if messages[0].startswith("Repeats codes."):
            repeated = chunk[int(messages[0].removeprefix("Repeats codes.").rstrip("."))][0]
            named.append(f"{value!r} (line {line:,}) repeats line {repeated:,}")
        else:
            named.append(f"{value!r} (line {line:,}) exists already")
    more = f" and {len(exc.errors) - NAMED:,} more" if len(exc.errors) > NAMED else ""
    refused = f"{_count(len(exc.errors))} refused: {'; '.join(named)}{more}."
    return f"{refused} None of that chunk's codes were imported."


def _count(codes: int) -> str:
    return "1 code" if codes == 1 else f"{codes:,} codes"
