"""Generating codes: all or none, unique within the project across all types."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.clock import to_naive_utc, utcnow
from shared.codegen import CodeGenerator
from shared.codes.insert import announce_created, insert_codes, inserted_records
from shared.errors import CodeSpaceExhausted, InvalidInput
from shared.models import Code
from shared.records import CodeRecord
from shared.transactions import begin_write
from shared.validation import MAX_GENERATE, generate_errors, normalize_batch, normalize_email

# The types whose codes take room in the space of a new code of the key type: numeric codes are
# alphanumeric too. (An alphanumeric code that happens to be all digits is rare, 0.05%; the
# bounded draw and ON CONFLICT absorb it.)
_SHARING_SPACE = {
    "creative": ("creative",),
    "alphanumeric": ("alphanumeric", "numeric"),
    "numeric": ("numeric",),
}


def generate_codes(
    session: Session,
    project_id: int,
    *,
    amount: int,
    code_type: str = "creative",
    allowed_claims: int = 1,
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
    reserved_for: str | None = None,
    discord_guild_id: int | None = None,
    discord_role_id: int | None = None,
    batch: str | None = None,
    max_amount: int = MAX_GENERATE,
    generator: CodeGenerator | None = None,
) -> list[CodeRecord]:
    """Create ``amount`` new codes, all or none, unique within the project across all types."""
    now = utcnow()
    valid_from = to_naive_utc(valid_from) if valid_from is not None else None
    valid_until = to_naive_utc(valid_until) if valid_until is not None else None
    errors = generate_errors(
        amount=amount,
        code_type=code_type,
        allowed_claims=allowed_claims,
        valid_from=valid_from,
        valid_until=valid_until,
        now=now,
        max_amount=max_amount,
    )
    if reserved_for is not None:
        try:
            reserved_for = normalize_email(reserved_for, "reserved_for")
        except InvalidInput as exc:
            errors.update(exc.errors)
    if batch is not None:
        try:
            batch = normalize_batch(batch)
        except InvalidInput as exc:
            errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    generator = generator or CodeGenerator()
    begin_write(session)

    space = generator.spaces[code_type]
    # Numeric space can fill up: past half full, draw from the free codes, known exactly.
    crowded_at = space // 2 if code_type == "numeric" else space
    exclude: set[str] = set()
    if _may_be_crowded(session, project_id, code_type, amount, crowded_at):
        taken = _taken_in_space(session, project_id, code_type)
        if amount > space - taken:
            raise CodeSpaceExhausted(
                f"Only {max(space - taken, 0)} unused {code_type} codes are left for this project."
            )
        if code_type == "numeric":
            exclude = set(
                session.scalars(
                    select(Code.code).where(Code.project_id == project_id, func.length(Code.code) == 6)
                )
            )

    params = {
        "project_id": project_id,
        "type": code_type,
        "allowed_claims": allowed_claims,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "reserved_for": reserved_for,
        "discord_guild_id": discord_guild_id,
        "discord_role_id": discord_role_id,
        "batch": batch,
        "now": now,
    }
    created: list[tuple[int, str]] = []
    # Another request may take the same codes at the same moment; ON CONFLICT skips them and the
    # next round draws replacements. Rounds are bounded: the space was checked to hold amount.
    for _ in range(8):
        missing = amount - len(created)
        if missing == 0:
            break
        candidates = generator.draw_distinct(code_type, missing, exclude=exclude)
        exclude.update(candidates)
        created.extend(insert_codes(session, params, candidates))
    if len(created) < amount:
        raise CodeSpaceExhausted()
    records = inserted_records(params, created)
    announce_created(session, project_id, records, now)
    return records


def _may_be_crowded(session: Session, project_id: int, code_type: str, amount: int, crowded_at: int) -> bool:
    """Whether the project's codes in this space plus ``amount`` may pass ``crowded_at``.

    Answered without counting the project's codes whenever possible, so generating costs the same
    in a project of ten codes or of millions: no table holds more rows than its highest id, so
    when even that leaves room, there is room. Otherwise the count stops at the threshold.
    """
    room = crowded_at - amount
    if room < 0:
        return True
    highest_id = session.execute(select(func.max(Code.id))).scalar_one() or 0
    if highest_id <= room:
        return False
    return _taken_in_space(session, project_id, code_type, up_to=room + 1) > room


def _taken_in_space(session: Session, project_id: int, code_type: str, *, up_to: int | None = None) -> int:
    """How many of the project's codes take room in ``code_type``'s space (counted up to ``up_to``)."""
    in_space = select(Code.id).where(Code.project_id == project_id, Code.type.in_(_SHARING_SPACE[code_type]))
    if up_to is not None:
        in_space = in_space.limit(up_to)
    return session.execute(select(func.count()).select_from(in_space.subquery())).scalar_one()
