"""The floor: the simplest correct code for a claim, a lookup and a hand-out, to measure the API
against.

A minimal Flask app over a psycopg connection pool: no ORM, no validation, no authentication. A
claim is the transaction the domain promises (a conditional UPDATE of the counter, then an INSERT
of the claim, which the unique constraint guards), written as two statements; a lookup selects the
row and returns it as JSON. The raw database loop (``bench.raw_db``) runs the same transaction. A
hand-out is two statements in autocommit: the code this email holds in the batch, else ``UPDATE
... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED)``, which the unique index on (project, batch,
email) guards. (The API does both in one statement, as it does a claim's two writes.)

Serve it with ``gunicorn 'bench.floor:create_app()'`` and ``FLOOR_DATABASE_URL`` and
``FLOOR_PROJECT_ID`` in the environment (the harness does).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets

import psycopg
from flask import Flask, Response, request
from psycopg_pool import ConnectionPool

CLAIM_UPDATE = (
    "UPDATE codes SET claims = claims + 1, updated_at = %(now)s"
    " WHERE project_id = %(project_id)s AND code = %(code)s AND claims < allowed_claims"
    " AND (valid_from IS NULL OR valid_from <= %(now)s)"
    " AND (valid_until IS NULL OR valid_until > %(now)s)"
    " AND (reserved_for IS NULL OR reserved_for = %(email)s)"
    " RETURNING id, claims"
)
CLAIM_INSERT = (
    "INSERT INTO claims (code_id, project_id, email, token_digest, claimed_at)"
    " VALUES (%(code_id)s, %(project_id)s, %(email)s, %(token_digest)s, %(now)s)"
)
ASSIGN_HELD = (
    "SELECT code FROM codes WHERE project_id = %(project_id)s AND batch = %(batch)s"
    " AND assigned_email = %(email)s"
)
ASSIGN_TAKE = (
    "UPDATE codes SET assigned_email = %(email)s, assigned_at = %(now)s, reserved_for = %(email)s,"
    " updated_at = %(now)s WHERE id = (SELECT id FROM codes WHERE project_id = %(project_id)s"
    " AND batch = %(batch)s AND assigned_at IS NULL AND reserved_for IS NULL AND claims = 0"
    " AND (valid_until IS NULL OR valid_until > %(now)s)"
    " ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING code"
)
LOOKUP = (
    "SELECT code, type, allowed_claims, claims, valid_from, valid_until, reserved_for,"
    " created_at, updated_at FROM codes WHERE project_id = %s AND code = %s"
)
LOOKUP_FIELDS = (
    "code",
    "type",
    "allowedClaims",
    "claims",
    "validFrom",
    "validUntil",
    "reservedFor",
    "createdAt",
    "updatedAt",
)


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://``) as libpq takes it (``postgresql://``)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def claim_transaction(conn: psycopg.Connection, project_id: int, code: str, email: str):
    """Claim ``code`` for ``email`` in one transaction: ``(token, claims)``, or None when refused.

    A second claim by the same email raises ``psycopg.errors.UniqueViolation`` and rolls back.
    """
    now = _utcnow()
    token = secrets.token_hex(16)
    params = {
        "project_id": project_id,
        "code": code,
        "email": email,
        "now": now,
        "token_digest": hashlib.sha256(token.encode()).hexdigest(),
    }
    with conn.transaction():
        row = conn.execute(CLAIM_UPDATE, params).fetchone()
        if row is None:
            return None
        conn.execute(CLAIM_INSERT, {**params, "code_id": row[0]})
    return token, row[1]


def assign_statements(
    conn: psycopg.Connection, project_id: int, batch: str, email: str
) -> tuple[str, bool] | None:
    """The code ``email`` holds in ``batch`` (``new`` False) or a free one now; None when none is
    free. ``conn`` is in autocommit: each statement is atomic by itself."""
    params = {"project_id": project_id, "batch": batch, "email": email, "now": _utcnow()}
    held = conn.execute(ASSIGN_HELD, params).fetchone()
    if held is not None:
        return held[0], False
    taken = conn.execute(ASSIGN_TAKE, params).fetchone()
    return (taken[0], True) if taken is not None else None


def _json(status: int, body: dict) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), default=str), status=status, mimetype="application/json"
    )


def create_app(
    database_url: str | None = None, project_id: int | None = None, pool_size: int | None = None
) -> Flask:
    """The floor app; the arguments default to FLOOR_DATABASE_URL, FLOOR_PROJECT_ID, FLOOR_POOL_SIZE."""
    conninfo = libpq_url(database_url or os.environ["FLOOR_DATABASE_URL"])
    project_id = int(project_id if project_id is not None else os.environ["FLOOR_PROJECT_ID"])
    size = int(pool_size or os.environ.get("FLOOR_POOL_SIZE") or 4)
    pool = ConnectionPool(conninfo, min_size=size, max_size=size, open=True)
    # Hand-outs run in autocommit, as the domain's do (claims and lookups keep the pool above).
    autocommit_pool = ConnectionPool(
        conninfo, min_size=size, max_size=size, open=True, kwargs={"autocommit": True}
    )
    app = Flask(__name__)
    app.extensions["floor_pool"] = pool
    app.extensions["floor_autocommit_pool"] = autocommit_pool

    @app.post("/codes/claim")
    def claim():
        body = request.get_json(force=True)
        try:
            with pool.connection() as conn:
                result = claim_transaction(conn, project_id, body["code"], body["email"])
        except psycopg.errors.UniqueViolation:
            return _json(409, {"success": False, "error": "code_already_claimed"})
        if result is None:
            return _json(409, {"success": False, "error": "code_not_claimable"})
        token, claims = result
        return _json(
            200,
            {
                "success": True,
                "data": {"token": token, "code": body["code"], "claims": claims, "email": body["email"]},
            },
        )

    @app.post("/codes/assign")
    def assign():
        body = request.get_json(force=True)
        try:
            with autocommit_pool.connection() as conn:
                result = assign_statements(conn, project_id, body["batch"], body["email"])
        except psycopg.errors.UniqueViolation:
            # A concurrent request gave this email a code first: it is theirs.
            with autocommit_pool.connection() as conn:
                result = assign_statements(conn, project_id, body["batch"], body["email"])
        if result is None:
            return _json(409, {"success": False, "error": "batch_exhausted"})
        code, new = result
        return _json(200, {"success": True, "data": {"code": {"code": code}, "new": new}})

    @app.get("/codes/<code>")
    def lookup(code):
        with pool.connection() as conn:
            row = conn.execute(LOOKUP, (project_id, code)).fetchone()
        if row is None:
            return _json(404, {"success": False, "error": "code_not_found"})
        return _json(200, {"success": True, "data": dict(zip(LOOKUP_FIELDS, row, strict=True))})

    @app.get("/health")
    def health():
        return _json(200, {"success": True})

    return app
