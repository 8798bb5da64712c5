"""Every failure leaves the API in one shape:

``{"success": false, "code": <status>, "error": "<machine_code>", "message": "...", "time": <unix ms>}``
plus ``"errors": {"field": ["..."]}`` for validation errors. Domain errors, routing errors,
malformed bodies and unexpected exceptions all go through here; none leaves as an HTML page.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
import weakref

from flask import Flask, Response, current_app, request
from marshmallow import Schema, ValidationError, fields
from webargs import core
from webargs.flaskparser import FlaskParser
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


class SecretKeyRequired(ApiError):
    def __init__(self):
        super().__init__(
            403,
            "secret_key_required",
            "This route needs the project's secret key; the public key may only claim codes.",
        )


class InvalidJson(ApiError):
    def __init__(self):
        super().__init__(400, "invalid_json", "The request body is not valid JSON.")


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
        metadata={"description": "Validation errors by field name (422 only)."},
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
    # A key a client misplaced (as a field name, say) is never echoed back in an error.
    text = _KEY_LIKE.sub(r"\1_***", json.dumps(body))
    response = current_app.response_class(text, status=status, mimetype="application/json")
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


def handle_domain_error(exc: domain.DomainError) -> Response:
    status = next((code for kind, code in STATUS_BY_KIND if isinstance(exc, kind)), 400)
    errors = exc.errors if isinstance(exc, domain.InvalidInput) else None
    return error_response(status, exc.code, exc.message, errors=errors)


def handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    reference = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", reference, request.method, request.path)
    error, message = HTTP_ERRORS[500]
    return error_response(500, error, f"{message} Reference: {reference}.")


class JsonBodyParser(FlaskParser):
    """Reads the body as JSON whatever its Content-Type says; malformed JSON is 400 invalid_json."""

    def _raw_load_json(self, req):
        data = req.get_data(cache=True)
        if not data:
            return core.missing
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise InvalidJson() from None

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        raise InvalidJson()

    def _get_schema(self, argmap, req):
        # webargs builds a new instance of a Schema class on every request (deep-copying its
        # fields); one instance per class does the same validation, as flask-smorest's own
        # response schemas do.
        if isinstance(argmap, type) and issubclass(argmap, Schema):
            schema = _schema_instances.get(argmap)
            if schema is None:
                schema = _schema_instances.setdefault(argmap, argmap())
            return schema
        return super()._get_schema(argmap, req)

    def _process_location_data(self, location_data, schema, req, location, unknown, validators):
        plain = _plain_loaders.get(schema)
        if plain is None:
            plain = _plain_loaders.setdefault(schema, _plain_loader(schema))
        if plain and not validators and type(location_data) is dict:
            loaded = plain(location_data)
            if loaded is not None:
                return loaded
        return super()._process_location_data(location_data, schema, req, location, unknown, validators)


_schema_instances: dict[type[Schema], Schema] = {}
# Per schema instance, weakly: webargs makes a new instance per request for some argmaps.
_plain_loaders: weakref.WeakKeyDictionary[Schema, object] = weakref.WeakKeyDictionary()


def _plain_loader(schema: Schema):
    """A shortcut through ``schema.load`` for the usual body, or False where there is none.

    The usual body has every field the schema declares and nothing else, each valid: then what
    ``load`` does comes down to deserialising each field in turn (the fields' own validation
    included), which is all the shortcut does, without the rest of marshmallow's machinery. Any
    other body (a field missing or unknown, one invalid) goes through ``load``, which gives the
    errors. Only for schemas with nothing else to run: no hooks (``validates``, ``pre_load``,
    ``validates_schema``, ``post_load``), not many, not partial, no dotted or renamed attributes.
    tests/api/test_body_shortcut.py checks it against ``load``.
    """
    if schema.many or schema.partial or any(schema._hooks.values()) or schema.dict_class is not dict:
        return False
    plan = []
    for name, field in schema.load_fields.items():
        key = field.data_key if field.data_key is not None else name
        if field.attribute is not None or "." in name:
            return False
        plan.append((key, name, field))
    keys = frozenset(key for key, _, _ in plan)
    if len(keys) != len(plan):
        return False

    def load(data: dict) -> dict | None:
        if data.keys() != keys:
            return None
        loaded = {}
        try:
            for key, name, field in plan:
                loaded[name] = field.deserialize(data[key], key, data)
        except ValidationError:
            return None
        return loaded

    return load


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(domain.DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
