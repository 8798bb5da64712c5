"""CORS on ``POST /codes/claim`` only: pages on a project's allowed origins claim with its public key.

A preflight (``OPTIONS``) carries no key, so it is answered for an origin that some project
allows; the claim itself is answered with ``Access-Control-Allow-Origin`` only when the origin is
one the key's own project allows. An answer before authentication (401, 429) is readable by any
origin some project allows, so a page can show why it failed. No other route sends CORS headers.
Only requests that carry an ``Origin`` header (browsers) cost a query.
"""

from __future__ import annotations

from flask import Flask, Response, request
from sqlalchemy.orm import Session

from api import endpoints
from api.auth import checked_key
from api.extensions import db
from shared import origins

ALLOW_METHODS = "POST"
ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-ID"
EXPOSE_HEADERS = (
    "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, "
    "Idempotent-Replayed, X-Request-ID"
)
# Browsers cache a preflight this long (Chromium caps it at 2 hours).
MAX_AGE_SECONDS = 600


def _allowed(origin: str) -> bool:
    key = checked_key()
    # A session of its own: the request's may hold a failed transaction after a refusal.
    with Session(db.engine) as session:
        if key is not None:
            return origins.project_allows(session, key.project_id, origin)
        return origins.any_project_allows(session, origin)


def add_cors_headers(response: Response) -> Response:
    if request.endpoint != endpoints.CLAIM:
        return response
    _vary_on_origin(response)
    origin = request.headers.get("Origin")
    if not origin or not _allowed(origin):
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
    else:
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return response


def _vary_on_origin(response: Response) -> None:
    # As ``response.vary.add("Origin")``, without building and serialising a HeaderSet each time.
    vary = response.headers.get("Vary")
    if not vary:
        response.headers["Vary"] = "Origin"
    elif "origin" not in {value.strip().lower() for value in vary.split(",")}:
        response.headers["Vary"] = f"{vary}, Origin"


def init_app(app: Flask) -> None:
    app.after_request(add_cors_headers)
