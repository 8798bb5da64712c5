"""MAX_CONTENT_LENGTH for bodies sent without a Content-Length (``Transfer-Encoding: chunked``).

A body with a Content-Length over the limit is refused by werkzeug (413 when the body is first
accessed, before any of it is read). A
chunked body has no length up front: the server (gunicorn) de-chunks it and sets
``wsgi.input_terminated``, and werkzeug then reads it through a ``LimitedStream`` capped at
``MAX_CONTENT_LENGTH``, which stops quietly at the limit when the body is read whole
(``request.get_data()``): a larger body would be cut there and processed. So such bodies are read
here first, up to one byte past the limit, before Flask sees the request: a body over the limit
is answered 413 (our error shape) before any hook or view runs, and one within it is handed on
as an ordinary body with its Content-Length. A body the server cannot de-chunk (a malformed chunk
size, a connection closed mid-body) is 400 ``bad_request`` in the same way, not an exception.
"""

from __future__ import annotations

import io

from flask import Flask, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

# Set in the environ when the body is refused; the hook below answers with the error.
REFUSED = "codes.body_refused"


class ChunkedBodyLimit:
    """WSGI middleware: reads a body without Content-Length up to the app's MAX_CONTENT_LENGTH,
    and marks the request refused when it is longer or cannot be read."""

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        limit = self.app.config.get("MAX_CONTENT_LENGTH")
        # The same test werkzeug makes: no length, but the server says where the body ends.
        if limit is not None and not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            try:
                body = environ["wsgi.input"].read(limit + 1)
            except Exception:  # the server's own parse error (gunicorn's are not OSErrors)
                environ[REFUSED] = BadRequest
                body = b""
            if len(body) > limit:
                # Nothing more is read here. gunicorn reads and discards what is left before the
                # next request on a kept-alive connection: behind the proxy (docs/deploy.md) no
                # client body reaches gunicorn unbounded.
                environ[REFUSED] = RequestEntityTooLarge
                body = b""
            if body or REFUSED in environ:
                environ["wsgi.input"] = io.BytesIO(body)
                environ["CONTENT_LENGTH"] = str(len(body))
        return self.wsgi_app(environ, start_response)


def _refuse_bodies_read_badly() -> None:
    refused = request.environ.get(REFUSED)
    if refused is not None:
        raise refused()


def init_app(app: Flask) -> None:
    """Install the middleware, and the hook that answers its 413 or 400 (create_app installs it
    before any other hook)."""
    app.wsgi_app = ChunkedBodyLimit(app, app.wsgi_app)
    app.before_request(_refuse_bodies_read_badly)
