"""The REST API: a thin Flask layer over the domain in ``shared``."""

from __future__ import annotations

import contextlib

from flask import Flask, request

from shared.config import INSTANCE_DIR, PROJECT_ROOT, Settings
from shared.db import (
    configure_engine,
    direct_statements,
    engine_options,
    ensure_sqlite_directory,
    read_only,
    statement_transactions,
)


class CodesFlask(Flask):
    """Flask, remembering which functions are synchronous.

    Flask asks ``inspect`` whether a hook or view is a coroutine function on every call of every
    one (nine times a request here); the answer for a function never changes, so it is kept, per
    function (a bound method by its function: views are bound to a new instance per request).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._synchronous: dict = {}

    def ensure_sync(self, func):
        key = getattr(func, "__func__", func)
        try:
            synchronous = self._synchronous[key]
        except (KeyError, TypeError):  # TypeError: not hashable; asked every time
            wrapped = super().ensure_sync(func)
            with contextlib.suppress(TypeError):
                self._synchronous[key] = wrapped is func
            return wrapped
        return func if synchronous else super().ensure_sync(func)


def create_app(config: dict | None = None) -> Flask:
    """Build the app: defaults, then the environment (``Settings``), then ``config`` overrides."""
    from api import abuse, health, pages, request_id, swagger_ui
    from api.claims.resources import blp as claims_blp
    from api.codes.resources import blp as codes_blp
    from api.deliveries.resources import blp as deliveries_blp
    from api.extensions import Api, db, migrate

    settings = Settings.from_env()
    app = CodesFlask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.update(
        SETTINGS=settings,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        PROPAGATE_EXCEPTIONS=False,
        API_TITLE="Codes API",
        API_VERSION="1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=swagger_ui.ASSETS_URL,
        API_SPEC_OPTIONS={
            "info": {
                "description": "Promo and access codes: generate, claim, send and delete. "
                "Authenticate with `Authorization: Bearer <key>`; the public "
                "key (pk_) may only claim."
            },
            "security": [{"bearerAuth": []}],
        },
    )
    if config:
        app.config.update(config)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    ensure_sqlite_directory(url)
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        engine_options(
            url,
            busy_timeout=settings.sqlite_busy_timeout,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        ),
    )

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, busy_timeout=settings.sqlite_busy_timeout)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)

    api = Api(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for blueprint in (codes_blp, claims_blp, deliveries_blp, health.blp):
        api.register_blueprint(blueprint)
    request_id.init_app(app)
    app.extensions["codes_api"] = api

    _read_only_gets(app)
    abuse.init_app(app)  # rate limits, trusted proxies, CORS on claims (docs/abuse.md)
    pages.init_app(app)  # the claim page and the widget (docs/claim-page.md)
    app.register_blueprint(swagger_ui.blp)
    _register_cli(app)
    return app


# Routes whose every statement stands alone: on PostgreSQL a claim is one statement (and the
# Idempotency-Key's statements are each atomic and committed at once anyway).
STATEMENT_TRANSACTION_ENDPOINTS = frozenset({"codes.Claim"})


def _read_only_gets(app: Flask) -> None:
    """GET requests read: on SQLite they need no write lock, so they never queue behind writers.

    On PostgreSQL they, and the claim, run in autocommit (shared.db): no BEGIN/COMMIT round trips,
    and their per-request statements (the key, the code, the claim) skip the session altogether.
    """
    from api.extensions import db

    @app.before_request
    def _enter_read_only():
        current = request._get_current_object()
        if current.method in ("GET", "HEAD"):
            mode = read_only()
        elif current.endpoint in STATEMENT_TRANSACTION_ENDPOINTS:
            mode = statement_transactions()
        else:
            return
        contexts = (mode, direct_statements(db.engine))
        for context in contexts:
            context.__enter__()
        current.environ["codes.read_only"] = contexts

    @app.teardown_request
    def _leave_read_only(_exc):
        contexts = request.environ.pop("codes.read_only", None)
        for context in reversed(contexts or ()):
            context.__exit__(None, None, None)


def _register_cli(app: Flask) -> None:
    from api.cli import projects
    from api.cli_guilds import guilds
    from api.cli_mail import set_claim_url, set_template, worker

    projects.add_command(set_template)
    projects.add_command(set_claim_url)
    app.cli.add_command(projects)
    app.cli.add_command(guilds)
    app.cli.add_command(worker)
