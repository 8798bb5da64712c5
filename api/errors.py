"""Every failure leaves the API in one shape:

``{"success": false, "code": <status>, "error": "<machine_code>", "message": "...", "time": <unix ms>}``
plus ``"errors": {"field": ["..."]}`` for validation errors. Domain errors, routing errors,
malformed bodies and unexpected exceptions all go through here; none leaves as an HTML page.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, current_app, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from shared import errors as domain

log = logging.getLogger(__name__)

# Domain error kinds and the HTTP status each becomes.
STATUS_BY_KIND: list[tuple[type[domain.DomainError], int]] = [
    (domain.Unauthenticated, 401),
    (domain.InvalidInput, 422),
    (domain.NotFound, 404),
    (domain.Forbidden, 403),
    (domain.Conflict, 409),
]

# Machine codes and messages for the HTTP errors that do not come from the domain.
HTTP_ERRORS = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "Incorrect Bearer token specified"),
    403: ("forbidden", "Not allowed."),
    404: ("not_found", "No such route. See /docs for the API."),
    405: ("method_not_allowed", "This method is not allowed on this route."),
    409: ("conflict", "The request conflicts with the current state."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Send the body as JSON."),
    422: ("validation_error", "The request is invalid."),
    429: ("rate_limited", "Too many requests. Try again later."),
    500: ("internal_error", "Something went wrong on our side."),
}


class ApiError(HTTPException):
    """An error raised by the API layer itself, with its own machine code."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        errors: dict | None = None,
        headers: dict | None = None,
    ):
        super().__init__(description=message)
        self.code = status
        self.error = error
        self.message = message
        self.errors = errors
        self.extra_headers = headers or {}


class ErrorSchema(Schema):
    """The shape of every failure."""

    success = fields.Boolean(required=True, metadata={"example": False})
    code = fields.Integer(required=True, metadata={"description": "The HTTP status code."})
    error = fields.String(required=True, metadata={"description": "A machine-readable error code."})
    message = fields.String(required=True, metadata={"description": "A human-readable explanation."})
    time = fields.Integer(required=True, metadata={"description": "When it happened, in Unix milliseconds."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={
            "description": "Validation errors by field name (422); the values a 409 code_exists "
            "refuses, by position (codes.3)."
        },
    )


_KEY_LIKE = re.compile(r"\b([ps]k)_[0-9A-Fa-f]{6,}")


def error_response(
    status: int, error: str, message: str, *, errors: dict | None = None, headers: dict | None = None
) -> Response:
    body: dict = {
        "success": False,
        "code": status,
        "error": error,
        "message": message,
        "time": int(time.time() * 1000),
    }
    if errors is not None:
        body["errors"] = errors
    response = current_app.json.response(body)  # the one JSON style (api/json_provider.py)
    response.status_code = status
    # A key a client misplaced (as a field name, say) is never echoed back in an error.
    text = response.get_data(as_text=True)
    if _KEY_LIKE.search(text):
        response.set_data(_KEY_LIKE.sub(r"\1_***", text))
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow nest errors by location and index; clients get ``{"field": [...]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if prefix == "" and key in ("json", "query", "view_args", "path"):
                flat.update(flatten_errors(value, ""))
                continue
            name = "body" if key == "_schema" and not prefix else str(key)
            flat.update(flatten_errors(value, f"{prefix}.{name}" if prefix else name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix or "body"] = list(messages)
    else:
        flat[prefix or "body"] = [str(messages)]
    return flat


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if isinstance(exc, ApiError):
        return error_response(status, exc.error, exc.message, errors=exc.errors, headers=exc.extra_headers)
    error, message = HTTP_ERRORS.get(status, ("http_error", exc.description or exc.name))
    data = getattr(exc, "data", None) or {}
    errors = None
    if status == 422:
        errors = flatten_errors(data.get("messages") or data.get("errors") or {})
        message = "Invalid value for: " + ", ".join(sorted(errors)) + "." if errors else message
    headers = dict(data.get("headers") or {})
    if status == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    if status == 429 and exc.description and "limit" in str(exc.description).lower():
        message = f"Too many requests: {exc.description}. Try again later."
    return error_response(status, error, message, errors=errors, headers=headers)


# The domain names fields the Python way; clients know them by the API's JSON names.
API_FIELD_NAMES = {
    "allowed_claims": "allowedClaims",
    "valid_from": "validFrom",
    "valid_until": "validUntil",
    "reserved_for": "reservedFor",
    "code_type": "type",
    "discord_user_id": "discordUserId",
    "skip_existing": "skipExisting",
}
# Where the API words a domain error its own way (the Codes API's clients expect this one).
API_MESSAGES = {domain.Unauthenticated: HTTP_ERRORS[401][1]}


def api_field_name(domain_name: str) -> str:
    """``reserved_for`` -> ``reservedFor``; ``emails.3`` stays as it is."""
    head, dot, rest = domain_name.partition(".")
    return API_FIELD_NAMES.get(head, head) + dot + rest


def handle_domain_error(exc: domain.DomainError) -> Response:
    status = next((code for kind, code in STATUS_BY_KIND if isinstance(exc, kind)), 400)
    message = API_MESSAGES.get(type(exc), exc.message)
    errors = None
    # Validation errors, and the values a code_exists refuses, by field (or position) name.
    if getattr(exc, "errors", None) is not None:
        errors = {api_field_name(name): messages for name, messages in exc.errors.items()}
    if isinstance(exc, domain.InvalidInput):
        message = "Invalid value for: " + ", ".join(sorted(errors)) + "."
    return error_response(status, exc.code, message, errors=errors)


def handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    reference = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", reference, request.method, request.path)
    error, message = HTTP_ERRORS[500]
    return error_response(500, error, f"{message} Reference: {reference}.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(domain.DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
