"""Request ids: ``X-Request-ID`` is taken from the request (when it is a sane value) or made up,
bound to every log line of the request (``shared.logging``) and returned on every response.

It wraps the WSGI app rather than using request hooks, so that every response carries it:
errors raised before any hook runs (a 413, a 429 from a limiter, a 404 from routing) included.
"""

from __future__ import annotations

from flask import Flask, request

from shared.logging import REQUEST_ID_HEADER, accept_request_id, bound_request_id, new_request_id

ENVIRON_KEY = "codes.request_id"
_HEADER_ENVIRON = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")


class RequestIdMiddleware:
    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        request_id = accept_request_id(environ.get(_HEADER_ENVIRON)) or new_request_id()
        environ[ENVIRON_KEY] = request_id

        def start_with_request_id(status, headers, exc_info=None):
            headers = [(name, value) for name, value in headers if name.lower() != "x-request-id"]
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        with bound_request_id(request_id):
            return self.wsgi_app(environ, start_with_request_id)


def current_request_id() -> str | None:
    """The id of the request being served (inside a request context)."""
    return request.environ.get(ENVIRON_KEY)


def init_app(app: Flask) -> None:
    app.wsgi_app = RequestIdMiddleware(app.wsgi_app)
