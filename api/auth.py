"""Bearer-key authentication. 401/403 come before everything else a request can get wrong.

A well-formed key is checked against the database when the route first needs its project, or,
on the hot routes, by the very statement that does the work (``shared.codes.get_code_with_key``,
``claim_with_key``): one statement instead of two. Whatever else fails first (the body, an
Idempotency-Key), an unknown key is still answered 401, as if it had been checked first.
"""

from __future__ import annotations

import functools

from flask import g, request

from api.errors import SecretKeyRequired
from api.extensions import db
from shared.errors import Unauthenticated
from shared.projects import ApiKey, PresentedKey, check_key


def presented_key() -> PresentedKey:
    """The request's key, checked or not yet (for the statements that check it themselves)."""
    return g.presented_key


def current_key() -> ApiKey:
    """The request's key, checked (once) against the database."""
    return check_key(db.session, g.presented_key)


def checked_key() -> ApiKey | None:
    """The request's key if it is known to be good by now, without checking it."""
    key = g.get("presented_key")
    return key.api_key if key is not None else None


def require_key(*, public_ok: bool = False):
    """Authenticate the request; only routes marked ``public_ok`` accept the public key."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer":
                raise Unauthenticated()
            key = PresentedKey(token.strip())
            if not key.is_secret and not public_ok:
                check_key(db.session, key)
                raise SecretKeyRequired()
            g.presented_key = key
            try:
                return view(*args, **kwargs)
            except Unauthenticated:
                raise  # a statement that checks the key itself found it unknown
            except Exception:
                if key.api_key is None:
                    _check_before_answering(key)
                raise

        return wrapper

    return decorator


def _check_before_answering(key: PresentedKey) -> None:
    """An unknown key is answered 401 whatever else went wrong before it was checked."""
    try:
        check_key(db.session, key)
    except Unauthenticated:
        raise
    except Exception:
        # The check itself failed (the database): the request's own error is the better answer.
        db.session.rollback()
