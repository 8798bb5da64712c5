"""Abuse resistance, wired into the app in one call: rate limits, trusted proxies and CORS on
claims. Idempotency keys are a decorator on the write routes (``api.idempotency``); the operator
commands live in ``api.cli``. docs/abuse.md describes the whole policy.
"""

from __future__ import annotations

from flask import Flask

from api import cors, limits


def init_app(app: Flask) -> None:
    limits.init_app(app)
    cors.init_app(app)
