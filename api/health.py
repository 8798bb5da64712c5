"""Probes for load balancers and orchestrators: no key, never rate limited.

``GET /healthz``: the process answers (liveness: restart the container when it fails).
``GET /readyz``: the database answers and its schema is at the newest migration (readiness: send
traffic only when it succeeds). Anything else is a 503 in the one error shape.
"""

from __future__ import annotations

import functools
import logging

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import current_app
from marshmallow import Schema, fields
from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from api.errors import ApiError, ErrorSchema
from api.extensions import Blueprint, db
from api.render import success
from api.schemas import envelope
from shared.db import read_only_connection

log = logging.getLogger(__name__)

# Endpoint names are health.healthz and health.readyz: a rate limiter exempts the blueprint.
blp = Blueprint("health", __name__, description="Liveness and readiness probes (no key needed).")


class Unavailable(ApiError):
    def __init__(self, error: str, message: str):
        super().__init__(503, error, message)


class LiveSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class MigrationSchema(Schema):
    current = fields.List(
        fields.String(), required=True, metadata={"description": "The database's revision."}
    )
    head = fields.List(fields.String(), required=True, metadata={"description": "The newest revision."})


class ReadySchema(Schema):
    status = fields.String(required=True, metadata={"example": "ready"})
    database = fields.String(required=True, metadata={"example": "ok"})
    migration = fields.Nested(MigrationSchema, required=True)


LiveEnvelope = envelope(fields.Nested(LiveSchema, required=True), "LiveEnvelope")
ReadyEnvelope = envelope(fields.Nested(ReadySchema, required=True), "ReadyEnvelope")


@functools.cache
def migration_heads(directory: str) -> tuple[str, ...]:
    """The head revisions of the migrations in ``directory`` (read once: the code does not change)."""
    config = Config()
    config.set_main_option("script_location", directory)
    return tuple(sorted(ScriptDirectory.from_config(config).get_heads()))


def database_revisions() -> tuple[str, ...]:
    """The revisions recorded in the database (read directly: Alembic's MigrationContext would
    log two lines on every probe)."""
    with read_only_connection(db.engine) as connection:
        if not inspect(connection).has_table("alembic_version"):
            return ()
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        return tuple(sorted(versions))


@blp.route("/healthz")
@blp.doc(security=[])
@blp.response(200, LiveEnvelope)
def healthz():
    """The process answers

    Checks nothing else, so an orchestrator restarts the container only when the process hangs.
    """
    return success({"status": "ok"})


@blp.route("/readyz")
@blp.doc(security=[])
@blp.response(200, ReadyEnvelope)
@blp.alt_response(503, schema=ErrorSchema, description="database_unavailable or schema_not_current.")
def readyz():
    """The database answers and its schema is current

    503 `database_unavailable` when the database cannot be reached, 503 `schema_not_current`
    when it is not at the newest migration (run `flask --app wsgi db upgrade`).
    """
    heads = migration_heads(current_app.extensions["migrate"].directory)
    try:
        current = database_revisions()
    except SQLAlchemyError as exc:
        log.warning(
            "Readiness: the database does not answer: %s",
            exc.__class__.__name__,
            extra={"error": str(exc).splitlines()[0] if str(exc) else ""},
        )
        raise Unavailable("database_unavailable", "The database does not answer.") from None
    if current != heads:
        log.warning(
            "Readiness: the schema is at %s, the code expects %s",
            ", ".join(current) or "no revision",
            ", ".join(heads),
        )
        raise Unavailable(
            "schema_not_current",
            f"The database schema is at {', '.join(current) or 'no revision'}; this version expects "
            f"{', '.join(heads)}. Run `flask --app wsgi db upgrade`.",
        )
    return success(
        {"status": "ready", "database": "ok", "migration": {"current": list(current), "head": list(heads)}}
    )
