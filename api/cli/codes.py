"""Codes at campaign scale: ``flask --app wsgi codes generate|import|export PROJECT ...``.

Generating and importing go in chunks, each its own transaction (all of it or none of it), with a
progress bar on the terminal and a summary at the end. If a chunk fails, the command stops and
says what was made and what was not, so it can be finished. Exports stream like the API's.
"""

from __future__ import annotations

import contextlib
import csv
import sys
import time
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from api.cli import fail
from api.extensions import db
from shared.clock import utcnow
from shared.codes import claims_csv, codes_csv, generate_codes
from shared.codes.export import CODE_COLUMNS, code_row
from shared.errors import DomainError, InvalidInput
from shared.models import CODE_TYPES, GENERATED_TYPES
from shared.projects import get_project_by_name
from shared.records import CODE_STATUSES
from shared.validation import MAX_GENERATE, parse_timestamp

codes = AppGroup("codes", help="Generate, import and export a project's codes in bulk.")

# Options both generate and import take: the settings new codes share.
_SETTINGS = (
    click.option("--batch", help="Put the codes in this batch."),
    click.option("--allowed-claims", type=click.IntRange(1), default=1, show_default=True),
    click.option("--valid-from", help="ISO 8601 (UTC without an offset)."),
    click.option("--valid-until", help="ISO 8601 (UTC without an offset)."),
    click.option(
        "--chunk-size",
        type=click.IntRange(1, MAX_GENERATE),
        default=MAX_GENERATE,
        show_default=True,
        help="Codes per transaction.",
    ),
)


def code_settings(command):
    for option in reversed(_SETTINGS):
        command = option(command)
    return command


def project_id(name: str) -> int:
    try:
        return get_project_by_name(db.session, name).id
    except DomainError as exc:
        fail(exc)


def timestamps(**values: str | None) -> dict:
    """The options' times, parsed; every bad one named."""
    parsed, errors = {}, {}
    for name, value in values.items():
        if value is not None:
            try:
                parsed[name] = parse_timestamp(value, name)
            except InvalidInput as exc:
                errors.update(exc.errors)
    if errors:
        fail(InvalidInput(errors))
    return parsed


def progress(length: int, label: str, *, show_pos: bool = True):
    """click's progress bar on stderr (stdout may carry an export); shown on a terminal only."""
    return click.progressbar(
        length=length, label=label, file=sys.stderr, show_pos=show_pos, show_percent=True, show_eta=True
    )


def report_stop(done: str, problem: str, advice: str) -> None:
    """Say what was done and what was not, and exit 1."""
    click.echo(f"Stopped: {problem}", err=True)
    click.echo(f"{done} {advice}", err=True)
    sys.exit(1)


def describe_failure(exc: BaseException) -> str:
    if isinstance(exc, DomainError):
        return f"{exc.message} ({exc.code})"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"the database failed: {str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}"


@codes.command("generate")
@click.argument("project")
@click.option("--amount", type=click.IntRange(1), required=True, help="How many codes, any number.")
@click.option(
    "--type", "code_type", type=click.Choice(GENERATED_TYPES), default="creative", show_default=True
)
@click.option("--reserved-for", help="Only this email address may claim the codes.")
@code_settings
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Also write the codes as CSV."
)
def generate(
    project,
    amount,
    code_type,
    reserved_for,
    batch,
    allowed_claims,
    valid_from,
    valid_until,
    chunk_size,
    output,
) -> None:
    """Generate AMOUNT codes in PROJECT, a chunk (one transaction) at a time."""
    project = project_id(project)
    settings = {
        "code_type": code_type,
        "allowed_claims": allowed_claims,
        "reserved_for": reserved_for,
        "batch": batch,
        **timestamps(valid_from=valid_from, valid_until=valid_until),
    }
    where = f" in batch {batch!r}" if batch else ""
    started, made, failure = time.monotonic(), 0, None
    with contextlib.ExitStack() as files:
        writer = codes_file(files, output) if output else None
        with progress(amount, "Generating") as bar:
            while made < amount:
                size = min(chunk_size, amount - made)
                try:
                    records = generate_codes(
                        db.session, project, amount=size, max_amount=chunk_size, **settings
                    )
                    db.session.commit()
                except (DomainError, SQLAlchemyError, KeyboardInterrupt) as exc:
                    db.session.rollback()
                    failure = f"codes {made + 1:,} to {made + size:,} failed, none of them kept: "
                    failure += describe_failure(exc)
                    break
                made += len(records)
                if writer is not None:
                    now = utcnow()
                    writer.writerows(code_row(record, now) for record in records)
                bar.update(len(records))
    if failure is not None:
        done = f"{made:,} of {amount:,} codes were generated{where}, and they stay."
        report_stop(done, failure + ".", f"Run again with --amount {amount - made} to make the rest.")
    click.echo(f"Generated {made:,} {code_type} codes{where} in {time.monotonic() - started:.1f} s.")
    if output:
        click.echo(f"Wrote them to {output}.")


def codes_file(files: contextlib.ExitStack, path: Path):
    """A CSV writer on ``path`` with the export's header, closed with ``files``."""
    handle = files.enter_context(path.open("w", newline="", encoding="utf-8"))
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(CODE_COLUMNS)
    return writer


@codes.command("export")
@click.argument("project")
@click.option("--batch", help="Only this batch's codes (or claims).")
@click.option("--type", "code_type", type=click.Choice(CODE_TYPES))
@click.option("--status", type=click.Choice(CODE_STATUSES))
@click.option("--claims", is_flag=True, help="Export who claimed the codes instead of the codes.")
@click.option("--code", help="With --claims: only this code's claims.")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="A file (default: stdout)."
)
def export(project, batch, code_type, status, claims, code, output) -> None:
    """Write PROJECT's codes, or their claims, as CSV (the columns of GET /codes/export.csv)."""
    project = project_id(project)
    if code is not None and not claims:
        raise click.UsageError("--code goes with --claims.")
    if claims and (code_type or status):
        raise click.UsageError("--type and --status filter codes, not claims.")
    try:
        if claims:
            chunks = claims_csv(db.session, project, code=code, batch=batch)
        else:
            chunks = codes_csv(
                db.session, project, code_type=code_type, status=status, reserved_for=None, batch=batch
            )
    except DomainError as exc:
        fail(exc)
    rows = -1  # the header
    with contextlib.ExitStack() as files:
        handle = files.enter_context(output.open("w", newline="", encoding="utf-8")) if output else None
        for chunk in chunks:
            if handle is not None:
                handle.write(chunk)
            else:
                click.echo(chunk, nl=False)
            rows += chunk.count("\n")
        db.session.rollback()  # the read's transaction
    if output:
        click.echo(f"Wrote {rows:,} {'claims' if claims else 'codes'} to {output}.", err=True)
