"""Abuse resistance, wired into the app in one call: rate limits, trusted proxies, CORS on claims,
and their operator commands. Idempotency keys are a decorator on the write routes
(``api.idempotency``). docs/abuse.md describes the whole policy.
"""

from __future__ import annotations

from flask import Flask

from api import cors, limits


def init_app(app: Flask) -> None:
    from api.cli import projects
    from api.cli_abuse import purge_idempotency_keys, set_origins

    limits.init_app(app)
    cors.init_app(app)
    projects.add_command(set_origins)
    app.cli.add_command(purge_idempotency_keys)
