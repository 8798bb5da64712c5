"""Flask extensions, created unbound and bound to the app in ``create_app``."""

from __future__ import annotations

import flask_smorest
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from api.errors import ErrorSchema
from api.json_body import body_parser
from shared.db import Base


class Api(flask_smorest.Api):
    """flask-smorest's Api, documenting this service's error shape."""

    ERROR_SCHEMA = ErrorSchema


class Blueprint(flask_smorest.Blueprint):
    """Reads JSON bodies whatever the Content-Type, and answers malformed JSON with invalid_json."""

    ARGUMENTS_PARSER = body_parser

    def errors(self, *statuses: int):
        """Document the error responses a route can give, all in the one error shape (one
        ``doc`` decorator for them all: each ``alt_response`` would wrap the view once more)."""
        return self.doc(
            responses={
                str(status): {
                    "description": ERROR_DESCRIPTIONS.get(status, "Error"),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
                for status in statuses
            }
        )


ERROR_DESCRIPTIONS = {
    400: "invalid_json: the body is not valid JSON; invalid_idempotency_key.",
    401: "unauthorized: missing, malformed or unknown key.",
    403: "secret_key_required, or code_reserved on a claim.",
    404: "code_not_found / token_not_found / batch_not_found; webhook_not_found, delivery_not_found, "
    "event_not_found.",
    409: "code_already_claimed, code_not_yet_valid, code_expired, code_fully_claimed, code_space_exhausted, "
    "code_exists, batch_exhausted; idempotency_key_reused, request_in_progress (Idempotency-Key); "
    "too_many_webhooks, webhook_disabled, delivery_in_progress.",
    413: "payload_too_large.",
    422: "validation_error, with errors by field; invalid_cursor: a page cursor that names no position.",
}

db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
api = Api()
