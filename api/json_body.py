"""How request bodies are read: as JSON whatever the Content-Type says; malformed JSON is a 400.

Strict JSON, parsed once per request: UTF-8 (a leading byte order mark is ignored), nested at most
``MAX_JSON_DEPTH`` arrays and objects deep (checked before parsing, so a body of 100,000 ``[``
never reaches the recursive parser), no duplicate member names, no ``NaN``/``Infinity``. Each
refusal is 400 ``invalid_json`` with a message that says what is wrong (docs/abuse.md).

The loader is registered with webargs' documented ``location_loader`` hook, on the parser that
flask-smorest's ``Blueprint.arguments`` uses.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

from flask import Request
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import FlaskParser

from api.errors import ApiError

# Deeper than any body of this API needs (its deepest is 2), far shallower than Python's recursion limit.
MAX_JSON_DEPTH = 32

# A JSON string, escapes included; anything but a bracket. Removed (in C) before counting depth.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class InvalidJson(ApiError):
    def __init__(self, message: str = "The request body is not valid JSON."):
        super().__init__(400, "invalid_json", message)


def _nesting_exceeds(text: str, limit: int) -> bool:
    """Whether arrays and objects nest deeper than ``limit`` anywhere in ``text``: the brackets
    outside strings, counted without recursion (about 50 ms for a MiB of nothing but brackets)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > limit


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for name, _value in pairs:
            if name in seen:
                raise InvalidJson(f"The request body names {json.dumps(name)} more than once.")
            seen.add(name)
    return result


def _refuse_constant(name: str):
    raise InvalidJson(f"{name} is not a JSON number.")


def parse_json(data: bytes):
    """``data`` as strict JSON (see the module's docstring), or ``InvalidJson``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidJson("The request body is not valid UTF-8.") from None
    if _nesting_exceeds(text, MAX_JSON_DEPTH):
        raise InvalidJson(f"The request body nests arrays and objects more than {MAX_JSON_DEPTH} deep.")
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
    except ValueError:  # JSONDecodeError, and an integer past Python's digit limit
        raise InvalidJson() from None


def read_json_body(request: Request):
    """The body as JSON, or ``missing`` when there is none."""
    data = request.get_data(cache=True)
    if not data:
        return core.missing
    return parse_json(data)


body_parser = FlaskParser()


@body_parser.location_loader("json")
def _load_json(request: Request, _schema: Schema):
    return read_json_body(request)
