"""Bearer-key authentication: a precondition of every route but the probes, checked before the
body, so 401 and 403 come before everything else a request can get wrong, except the per-address
rate limit (api.limits), which comes first so that nobody can make us look keys up without end."""

from __future__ import annotations

import functools

from flask import g, request

from api.extensions import db
from shared.projects import ApiKey, check_key, find_key


def current_key() -> ApiKey:
    """The request's key, as ``require_key`` checked it."""
    return g.api_key


def checked_key() -> ApiKey | None:
    """The request's key if it was checked, else None (an answer before authentication)."""
    return g.get("api_key")


def bearer_key() -> ApiKey | None:
    """Whose key the request carries, unchecked (None when unknown or malformed), looked up once
    per request: the rate limits name their counters by it before the view runs, and
    ``require_key`` then checks the same answer without a second query."""
    if "codes_bearer_key" not in g:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        raw_key = token.strip() if scheme.lower() == "bearer" else None
        g.codes_bearer_key = find_key(db.session, raw_key)
    return g.codes_bearer_key


def require_key(*, public_ok: bool = False):
    """Authenticate the request; only routes marked ``public_ok`` accept the public key."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            g.api_key = check_key(bearer_key(), secret_required=not public_ok)
            return view(*args, **kwargs)

        return wrapper

    return decorator
