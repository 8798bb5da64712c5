"""Bearer-key authentication. Runs before the body is read: 401/403 come before 400/422."""

from __future__ import annotations

import functools

from flask import g, request

from api.errors import SecretKeyRequired
from api.extensions import db
from shared.errors import Unauthenticated
from shared.projects import ApiKey, authenticate


def current_key() -> ApiKey:
    return g.api_key


def require_key(*, public_ok: bool = False):
    """Authenticate the request; only routes marked ``public_ok`` accept the public key."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer":
                raise Unauthenticated()
            key = authenticate(db.session, token.strip())
            if not key.is_secret and not public_ok:
                raise SecretKeyRequired()
            g.api_key = key
            return view(*args, **kwargs)

        return wrapper

    return decorator
