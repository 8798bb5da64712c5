"""Importing codes a team already has (beta keys, licence keys, gift codes made elsewhere).

All or nothing: values the project has already, and values that repeat within the request
(after normalization: ``ABC`` and `` abc `` are one code), refuse the whole import with one
``CodeExists`` naming each, unless ``skip_existing`` imports the rest and reports them. The
check is the INSERT itself (``ON CONFLICT DO NOTHING``), so two imports racing for a value
cannot both get it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from shared.clock import to_naive_utc, utcnow
from shared.codes.insert import announce_created, insert_codes, inserted_records
from shared.errors import CodeExists, InvalidInput
from shared.records import ImportResult, SkippedCode
from shared.transactions import begin_write
from shared.validation import MAX_IMPORT, normalize_batch, normalize_custom_code, settings_errors

# How many values a CodeExists message names; its ``errors`` name every one.
_NAMED = 10


def import_codes(
    session: Session,
    project_id: int,
    codes: list[str],
    *,
    allowed_claims: int = 1,
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
    batch: str | None = None,
    skip_existing: bool = False,
    max_amount: int = MAX_IMPORT,
) -> ImportResult:
    """Create a ``custom`` code for every value of ``codes``, all or none (see the module)."""
    now = utcnow()
    valid_from = to_naive_utc(valid_from) if valid_from is not None else None
    valid_until = to_naive_utc(valid_until) if valid_until is not None else None
    errors = settings_errors(allowed_claims, valid_from, valid_until, now)
    if not 1 <= len(codes) <= max_amount:
        errors["codes"] = [f"Must hold between 1 and {max_amount} codes."]
    if batch is not None:
        try:
            batch = normalize_batch(batch)
        except InvalidInput as exc:
            errors.update(exc.errors)
    values: list[str] = []
    for index, value in enumerate(codes[: max_amount + 1]):
        try:
            values.append(normalize_custom_code(value, f"codes.{index}"))
        except InvalidInput as exc:
            errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)

    # Each value at its first position; a repeat names the position it repeats.
    first_at: dict[str, int] = {}
    repeats: dict[int, str] = {}
    for index, value in enumerate(values):
        if value in first_at:
            repeats[index] = value
        else:
            first_at[value] = index
    begin_write(session)
    settings = {
        "project_id": project_id,
        "type": "custom",
        "allowed_claims": allowed_claims,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "batch": batch,
        "now": now,
    }
    created = insert_codes(session, settings, list(first_at))
    inserted = {code for _, code in created}
    existing = [value for value in first_at if value not in inserted]
    if (existing or repeats) and not skip_existing:
        # The caller rolls back, and the values inserted go with it.
        errors = {f"codes.{first_at[value]}": ["Exists already in this project."] for value in existing}
        errors.update(
            {f"codes.{index}": [f"Repeats codes.{first_at[value]}."] for index, value in repeats.items()}
        )
        messages = []
        if existing:
            messages.append(_message(existing, "exists already", "exist already"))
        if repeats:
            messages.append(_message(list(repeats.values()), "is repeated", "are repeated"))
        raise CodeExists(
            dict(sorted(errors.items(), key=lambda item: int(item[0].split(".")[1]))),
            " ".join(messages) + " Nothing was imported (skip existing codes to import the others).",
        )
    # Like generate: subscribers hear of every code created, whichever way it came.
    announce_created(session, project_id, inserted_records(settings, created), now)
    skipped = sorted(
        [(first_at[value], SkippedCode(value, "code_exists")) for value in existing]
        + [(index, SkippedCode(value, "duplicate")) for index, value in repeats.items()],
        key=lambda pair: pair[0],
    )
    return ImportResult(imported=len(inserted), skipped=[skip for _, skip in skipped])


def _message(values: list[str], one: str, many: str) -> str:
    named = ", ".join(values[:_NAMED])
    more = f" and {len(values) - _NAMED} more" if len(values) > _NAMED else ""
    count = f"1 code {one}" if len(values) == 1 else f"{len(values)} codes {many}"
    return f"{count}: {named}{more}."
