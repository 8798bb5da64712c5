"""The bulk INSERT of new codes that share their settings, for generate and import.

One statement for the whole list: an array parameter (PostgreSQL) or a JSON array (SQLite). A
value the project has already is skipped (``ON CONFLICT DO NOTHING``), so the caller learns which
values were new from what comes back, with no gap between a check and the write: a concurrent
request that inserts the same value first wins, and this one sees it as taken.
"""

from __future__ import annotations

import json

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.orm import Session

from shared.records import CodeRecord
from shared.transactions import dialect_name
from shared.webhooks.events import CODE_CREATED, code_snapshot, is_listening, record_event

_COLUMNS = (
    "project_id, code, type, allowed_claims, claims, valid_from, valid_until, reserved_for, "
    "discord_guild_id, discord_role_id, batch, created_at, updated_at"
)
_VALUES = (
    ":project_id, {value}, :type, :allowed_claims, 0, :valid_from, :valid_until, :reserved_for, "
    ":discord_guild_id, :discord_role_id, :batch, :now, :now"
)
_TIMESTAMPS = (
    bindparam("valid_from", type_=DateTime()),
    bindparam("valid_until", type_=DateTime()),
    bindparam("now", type_=DateTime()),
)
_INSERT_MANY = {
    "postgresql": text(
        f"INSERT INTO codes ({_COLUMNS}) "
        f"SELECT {_VALUES.format(value='c')} FROM unnest(CAST(:codes AS text[])) AS c "
        "ON CONFLICT (project_id, code) DO NOTHING RETURNING id, code"
    ).bindparams(*_TIMESTAMPS),
    "sqlite": text(
        f"INSERT INTO codes ({_COLUMNS}) "
        f"SELECT {_VALUES.format(value='value')} FROM json_each(:codes) WHERE true "
        "ON CONFLICT (project_id, code) DO NOTHING RETURNING id, code"
    ).bindparams(*_TIMESTAMPS),
}
# What every new code is given; a caller names the settings it has and leaves the rest.
DEFAULTS = {
    "allowed_claims": 1,
    "valid_from": None,
    "valid_until": None,
    "reserved_for": None,
    "discord_guild_id": None,
    "discord_role_id": None,
    "batch": None,
}


def insert_codes(session: Session, settings: dict, values: list[str]) -> list[tuple[int, str]]:
    """Insert the distinct, normalized ``values`` with ``settings`` (``project_id``, ``type``,
    ``now`` and any of ``DEFAULTS``) in the session's write transaction; the (id, code) pairs of
    the values that were new."""
    dialect = dialect_name(session)
    codes = values if dialect == "postgresql" else json.dumps(values)
    rows = session.execute(_INSERT_MANY[dialect], {**DEFAULTS, **settings, "codes": codes}).all()
    return [(row.id, row.code) for row in rows]


def inserted_records(settings: dict, created: list[tuple[int, str]]) -> list[CodeRecord]:
    """The codes ``insert_codes`` created with ``settings``, as it wrote them."""
    row = {**DEFAULTS, **settings}
    return [
        CodeRecord(
            id=code_id,
            code=code,
            type=row["type"],
            allowed_claims=row["allowed_claims"],
            claims=0,
            valid_from=row["valid_from"],
            valid_until=row["valid_until"],
            reserved_for=row["reserved_for"],
            discord_guild_id=row["discord_guild_id"],
            discord_role_id=row["discord_role_id"],
            created_at=row["now"],
            updated_at=row["now"],
            batch=row["batch"],
        )
        for code_id, code in created
    ]


def announce_created(session: Session, project_id: int, records: list[CodeRecord], now) -> None:
    """``code.created`` for new codes, in their transaction, when the project has subscribers."""
    if records and is_listening(session, project_id):
        record_event(
            session, project_id, CODE_CREATED, {"codes": [code_snapshot(r) for r in records]}, now=now
        )
