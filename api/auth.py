"""Bearer-key authentication: a precondition of every route but the probes, checked before the
body, so 401 and 403 come before everything else a request can get wrong."""

from __future__ import annotations

import functools

from flask import g, request

from api.extensions import db
from shared.projects import ApiKey, authenticate


def current_key() -> ApiKey:
    """The request's key, as ``require_key`` checked it."""
    return g.api_key


def checked_key() -> ApiKey | None:
    """The request's key if it was checked, else None (an answer before authentication)."""
    return g.get("api_key")


def require_key(*, public_ok: bool = False):
    """Authenticate the request; only routes marked ``public_ok`` accept the public key."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            raw_key = token.strip() if scheme.lower() == "bearer" else None
            g.api_key = authenticate(db.session, raw_key, secret_required=not public_ok)
            return view(*args, **kwargs)

        return wrapper

    return decorator
