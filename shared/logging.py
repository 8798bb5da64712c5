"""Structured logs for the API, the worker and the bot: one JSON object per line, on stderr.

Every line carries the request id of the work it belongs to (an HTTP request, a worker batch, a
Discord interaction) when there is one, bound with :func:`bound_request_id`. Before a line is
written, :class:`RedactingFilter` masks email addresses (``a***@example.com``) and removes API keys,
bearer tokens, claim tokens, webhook secrets, SHA-256 digests (of keys and tokens), Discord tokens
and URL passwords from the message, the extra fields and the traceback, so none of them reaches a
log store. The rules match shapes, not call sites: a line any library writes is covered too.

``configure_logging(service, level)`` sets this up for a process; ``logging_config`` is the same
setup as a ``dictConfig`` dictionary, which ``gunicorn.conf.py`` hands to gunicorn so that its own
error and access logs come out the same way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import logging.config
import re
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

# --- request ids ------------------------------------------------------------------------------

REQUEST_ID_HEADER = "X-Request-ID"
# What an incoming X-Request-ID may look like: what proxies and tracers send (UUIDs, hex, base64,
# "Root=1-..."), never anything that could break a log line or a header.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | None) -> str | None:
    """``value`` if it is a usable request id (1 to 128 safe characters), else ``None``."""
    if value is None:
        return None
    value = value.strip()
    return value if _REQUEST_ID.fullmatch(value) else None


def current_request_id() -> str | None:
    return request_id_var.get()


@contextlib.contextmanager
def bound_request_id(request_id: str | None = None) -> Iterator[str]:
    """Tag every log line written inside the block (in this thread or task) with a request id."""
    request_id = request_id or new_request_id()
    token = request_id_var.set(request_id)
    try:
        yield request_id
    finally:
        request_id_var.reset(token)


# --- redaction --------------------------------------------------------------------------------

# An address, also URL-encoded (%40) as it appears in an access log's query string. The local
# part leaves out characters that are legal but rare and that surround addresses in log lines
# (= & / ? ' ` { | }), so "?email=x@y.z" and "'x@y.z'" mask only the address.
_EMAIL = re.compile(
    r"(?P<first>[A-Za-z0-9!#$%*+^_~-])[A-Za-z0-9.!#$%*+^_~-]*"
    r"(?P<at>@|%40)(?P<domain>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+)"
)
# Project keys (pk_/sk_ + hex), whole or in part.
_API_KEY = re.compile(r"\b(?P<kind>[ps]k)_[A-Za-z0-9]+")
_BEARER = re.compile(r"(?i)\b(?P<scheme>bearer)\s+[^\s\"',;]+")
# Discord bot tokens: three base64url parts separated by dots.
_DISCORD_TOKEN = re.compile(r"\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}")
# scheme://user:password@host
_URL_PASSWORD = re.compile(r"(?P<prefix>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@")
# SHA-256 digests (64 hex digits) of keys, claim tokens and the like: not reversible, but each
# identifies its key or token across systems, so none is logged (a rate limiter's counter name, a
# SQL parameter in a traceback). Any run of 64 or more hex digits goes, whatever produced it.
_DIGEST = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{64,}(?![0-9A-Fa-f])")
# A claim token (or any value) named as a token: token=..., "claim_token": "...", token_digest ...
_TOKEN_VALUE = re.compile(
    r"(?i)(?P<name>\b(?:claim_)?token(?:_digest)?[\"']?\s*(?:=|:|%3D)\s*[\"']?)[A-Za-z0-9_~.+/=-]{8,}"
)
# Webhook signing secrets: whsec_ and base64.
_WEBHOOK_SECRET = re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]+")


def mask_email(address: str) -> str:
    """``alice@example.com`` -> ``a***@example.com``: enough to tell recipients apart in a log."""
    return _EMAIL.sub(_mask_email_match, address)


def _mask_email_match(match: re.Match) -> str:
    return f"{match['first']}***{match['at']}{match['domain']}"


def redact(text: str) -> str:
    """``text`` with email addresses masked and keys, tokens and passwords removed."""
    if not text:
        return text
    text = _URL_PASSWORD.sub(r"\g<prefix>***@", text)
    text = _BEARER.sub(r"\g<scheme> ***", text)
    text = _API_KEY.sub(r"\g<kind>_***", text)
    text = _WEBHOOK_SECRET.sub("whsec_***", text)
    text = _TOKEN_VALUE.sub(r"\g<name>***", text)
    text = _DIGEST.sub("***", text)
    text = _DISCORD_TOKEN.sub("***", text)
    return _EMAIL.sub(_mask_email_match, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item) for item in value]
    return value


# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class RedactingFilter(logging.Filter):
    """Masks emails and removes secrets from a record before any handler writes it.

    The message is rendered with its arguments first, so ``log.info("to %s", email)`` is
    masked too; the traceback is rendered here as well, so exception messages are masked.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call (wrong arguments): keep the line, never fail the caller
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRIBUTES and not name.startswith("_"):
                setattr(record, name, _redact_value(value))
        return True


# --- the JSON line ----------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line.

    Keys: ``time`` (ISO 8601 UTC, milliseconds), ``level``, ``logger``, ``message``, ``service``,
    ``pid``, ``request_id`` (when bound), every ``extra=`` field, ``exception`` (the traceback).
    """

    def __init__(self, service: str = "codes"):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
            "pid": record.process,
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            event["request_id"] = redact(str(request_id))
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and not name.startswith("_") and name not in event:
                event[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            event["exception"] = record.exc_text
        if record.stack_info:
            event["stack"] = record.stack_info
        return json.dumps(event, default=str, ensure_ascii=False)


class AccessLogFilter(logging.Filter):
    """Turns gunicorn's access record (its format string and a dict of "atoms") into fields.

    Only the fields below are kept: request headers such as ``Authorization`` never reach the line.
    The request id is the ``X-Request-ID`` the API put on the response.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if not isinstance(atoms, Mapping):
            return True
        status = _int_or_none(atoms.get("s"))
        record.msg = f"{atoms.get('m')} {atoms.get('U')} {status}"
        record.args = None
        record.http = {
            "method": atoms.get("m"),
            "path": atoms.get("U"),
            "query": atoms.get("q") or None,
            "status": status,
            "bytes": _int_or_none(atoms.get("B")),
            "duration_ms": _int_or_none(atoms.get("M")),
            "remote_addr": atoms.get("h"),
            "user_agent": _header(atoms, "{user-agent}i"),
        }
        request_id = _header(atoms, "{x-request-id}o")
        if request_id:
            record.request_id = request_id
        return True


def _header(atoms: Mapping, key: str) -> str | None:
    value = atoms.get(key)
    return None if value in (None, "-") else str(value)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- setup ------------------------------------------------------------------------------------


def logging_config(service: str, level: str = "INFO") -> dict[str, Any]:
    """The ``dictConfig`` of a process: everything through the root logger, as JSON on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "redact": {"()": RedactingFilter},
            "access": {"()": AccessLogFilter},
        },
        "formatters": {"json": {"()": JsonFormatter, "service": service}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["redact"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            # Alembic announces its plugins at INFO whenever it is imported.
            "alembic.runtime.plugins": {"level": "WARNING"},
            # gunicorn's own loggers: no handlers of their own, so each line is written once.
            "gunicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            "gunicorn.access": {
                "level": "INFO",
                "handlers": [],
                "propagate": True,
                "filters": ["access"],
            },
        },
    }


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every log line of this process to stderr as JSON (replaces the root's handlers)."""
    logging.config.dictConfig(logging_config(service, level))
