"""Headers every response carries, and those of the responses that hold a secret.

- ``X-Content-Type-Options: nosniff`` on every response (the API, the pages, the widget, the docs,
  errors): set by a WSGI middleware, so an answer made before any Flask hook runs has it too.
- ``Cache-Control: no-store`` on every answer of the routes that can hand out a claim token, an
  exchange result or a webhook's signing secret (their refusals too: one rule per route is simpler
  to audit than one per status), so no browser, proxy or CDN keeps a copy.
"""

from __future__ import annotations

from flask import Flask, Response, request

NOSNIFF = ("X-Content-Type-Options", "nosniff")

# endpoint -> the methods whose answers hold a secret
NO_STORE_ENDPOINTS = {
    "codes.ClaimCode": {"POST"},  # the claim token
    "claims.Exchange": {"POST"},  # the claim it verified
    "webhooks.Webhooks": {"POST"},  # the new endpoint's secret
    "webhooks.RotateSecret": {"POST"},  # the new secret
    "pages.claim": {"POST"},  # the redirect to the project's site carries the claim token
    "pages.claimed": {"GET"},  # the code just claimed
}


class NosniffMiddleware:
    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        def start_with_nosniff(status, headers, exc_info=None):
            headers = [(name, value) for name, value in headers if name.lower() != NOSNIFF[0].lower()]
            headers.append(NOSNIFF)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start_with_nosniff)


def _no_store(response: Response) -> Response:
    if request.method in NO_STORE_ENDPOINTS.get(request.endpoint or "", ()):
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.after_request(_no_store)
    app.wsgi_app = NosniffMiddleware(app.wsgi_app)
