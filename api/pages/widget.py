"""``GET /widget.js``: the embeddable claim widget, and ``GET /widget/<version>.js``, the same file
pinned to its version.

The script is ``widget.js`` beside this module with its sentences (``api.pages.messages``) and
version filled in, built once per process. ``/widget.js`` is cached for an hour and revalidated by
ETag; the versioned URL never changes, so it is cached for a year (``immutable``) and can carry a
Subresource Integrity hash. Change the script, change ``WIDGET_VERSION``: a test holds the two
together. Served gzipped to clients that accept it, and readable from any origin (it is public).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, request

from api.pages import messages

WIDGET_VERSION = "1.0.0"
SOURCE = Path(__file__).with_name("widget.js")
LATEST_MAX_AGE = 3600
PINNED_MAX_AGE = 365 * 24 * 3600

blp = Blueprint("widget", __name__)


@dataclass(frozen=True)
class Script:
    body: bytes
    gzipped: bytes
    etag: str


@functools.cache
def script() -> Script:
    text = SOURCE.read_text(encoding="utf-8")
    text = text.replace("__VERSION__", WIDGET_VERSION)
    text = text.replace("__MESSAGES__", json.dumps(messages.for_widget(), ensure_ascii=False))
    body = text.encode("utf-8")
    return Script(body, gzip.compress(body, compresslevel=9, mtime=0), hashlib.sha256(body).hexdigest()[:32])


@blp.get("/widget.js")
def latest():
    """The current widget."""
    return _serve(f"public, max-age={LATEST_MAX_AGE}")


@blp.get(f"/widget/{WIDGET_VERSION}.js")
def pinned():
    """The current widget at an address that only ever serves this version."""
    return _serve(f"public, max-age={PINNED_MAX_AGE}, immutable")


def _serve(cache_control: str) -> Response:
    current = script()
    gzipped = request.accept_encodings["gzip"] > 0
    response = Response(current.gzipped if gzipped else current.body, mimetype="text/javascript")
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(current.etag + ("-gz" if gzipped else ""))
    response.headers["Cache-Control"] = cache_control
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)
