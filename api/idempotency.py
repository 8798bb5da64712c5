"""The ``Idempotency-Key`` header on writes: a retry replays the first response (``shared.idempotency``).

``@idempotent`` goes under ``@require_key`` and ``@blp.arguments``, so authentication and the body
are checked first (401/403/400/422 are never stored). Without the header it costs nothing: no
query, no write. With it, the request takes the key in a short transaction of its own before the
view runs, and records the response after the view committed. What is recorded and replayed:
the success, and the domain's refusals (a 404 or a 409 stays what it was). What is not, so the
same key may be retried: validation failures (400, 422) and server errors (5xx).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import threading
import time
from copy import deepcopy

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException

from api.auth import current_key
from api.errors import ApiError
from api.extensions import db
from shared import idempotency
from shared.errors import DomainError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Printable ASCII without spaces: UUIDs, ULIDs, base64 and the like.
_KEY = re.compile(rf"[\x21-\x7e]{{1,{idempotency.MAX_KEY_LENGTH}}}")
_NOT_STORED = {400, 422}
# Expired keys are purged by the requests that use keys, once in a while per process.
PURGE_INTERVAL_SECONDS = 300.0

PARAMETER_DOC = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": idempotency.MAX_KEY_LENGTH,
        "pattern": r"^[\x21-\x7e]+$",
    },
    "description": (
        "Makes a retry safe: the same key with the same body within 24 hours replays the first "
        "response (with `Idempotent-Replayed: true`); with another body it is a 409 "
        "`idempotency_key_reused`, and while the first request still runs a 409 "
        "`request_in_progress`. Use a fresh random value (a UUID) per operation."
    ),
}


class InvalidIdempotencyKey(ApiError):
    def __init__(self):
        super().__init__(
            400,
            "invalid_idempotency_key",
            f"{HEADER} must be 1 to {idempotency.MAX_KEY_LENGTH} printable ASCII characters without spaces.",
        )


class _Purger:
    def __init__(self, interval: float):
        self.interval = interval
        self._lock = threading.Lock()
        self._last = float("-inf")

    def due(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.interval:
                return False
            self._last = now
            return True


_purger = _Purger(PURGE_INTERVAL_SECONDS)


def _settings():
    settings = current_app.config["SETTINGS"]
    ttl = current_app.config.get("IDEMPOTENCY_TTL_SECONDS", settings.idempotency_ttl_seconds)
    lease = current_app.config.get("IDEMPOTENCY_LEASE_SECONDS", settings.idempotency_lease_seconds)
    return dt.timedelta(seconds=ttl), dt.timedelta(seconds=lease)


def replay(stored: idempotency.StoredResponse) -> Response:
    response = current_app.response_class(stored.body, status=stored.status, mimetype="application/json")
    response.headers[REPLAYED_HEADER] = "true"
    return response


def idempotent(view):
    """Honour an ``Idempotency-Key`` header on this write route."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        raw_key = request.headers.get(HEADER)
        if raw_key is None:
            return view(*args, **kwargs)
        key = raw_key.strip()
        if not _KEY.fullmatch(key):
            raise InvalidIdempotencyKey()
        project_id = current_key().project_id
        ttl, lease = _settings()
        request_fingerprint = idempotency.fingerprint(
            request.method, request.path, request.get_data(cache=True)
        )
        try:
            outcome = idempotency.begin(
                db.session, project_id, key, request_fingerprint, ttl=ttl, lease=lease
            )
            if _purger.due():
                idempotency.purge_expired(db.session)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        if isinstance(outcome, idempotency.StoredResponse):
            return replay(outcome)

        try:
            response = current_app.make_response(view(*args, **kwargs))
        except (DomainError, HTTPException) as exc:
            # A refusal is a result like any other: render it in the one error shape and keep it.
            db.session.rollback()
            response = current_app.make_response(current_app.handle_user_exception(exc))
        except BaseException:
            db.session.rollback()
            _give_back(project_id, key, outcome.token)
            raise
        if response.status_code >= 500 or response.status_code in _NOT_STORED:
            _give_back(project_id, key, outcome.token)
        else:
            idempotency.finish(
                db.session,
                project_id,
                key,
                outcome.token,
                response.status_code,
                response.get_data(as_text=True),
            )
            db.session.commit()
        return response

    wrapper._apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
    wrapper._apidoc.setdefault("arguments", {}).setdefault("parameters", []).append(deepcopy(PARAMETER_DOC))
    return wrapper


def _give_back(project_id: int, key: str, token: str) -> None:
    try:
        idempotency.release(db.session, project_id, key, token)
        db.session.commit()
    except Exception:
        # The lease runs out on its own; the request's own outcome matters more.
        db.session.rollback()
        current_app.logger.warning(
            "could not release an idempotency key; its lease will expire", exc_info=True
        )
