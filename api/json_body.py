"""How request bodies are read: as JSON whatever the Content-Type says; malformed JSON is a 400.

The loader is registered with webargs' documented ``location_loader`` hook, on the parser that
flask-smorest's ``Blueprint.arguments`` uses.
"""

from __future__ import annotations

import json

from flask import Request
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import FlaskParser

from api.errors import ApiError


class InvalidJson(ApiError):
    def __init__(self):
        super().__init__(400, "invalid_json", "The request body is not valid JSON.")


def read_json_body(request: Request):
    """The body as JSON, or ``missing`` when there is none."""
    data = request.get_data(cache=True)
    if not data:
        return core.missing
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise InvalidJson() from None


body_parser = FlaskParser()


@body_parser.location_loader("json")
def _load_json(request: Request, _schema: Schema):
    return read_json_body(request)
