"""The REST API: a thin Flask layer over the domain in ``shared``."""

from __future__ import annotations

from flask import Flask

from shared.config import INSTANCE_DIR, PROJECT_ROOT, Settings
from shared.db import configure_engine, engine_options, ensure_sqlite_directory


def create_app(config: dict | None = None) -> Flask:
    """Build the app: defaults, then the environment (``Settings``), then ``config`` overrides."""
    from api import abuse, body_limit, health, pages, request_id, security_headers, swagger_ui
    from api.batches.resources import blp as batches_blp
    from api.claims.resources import blp as claims_blp
    from api.cli import register as register_cli
    from api.codes.resources import blp as codes_blp
    from api.deliveries.resources import blp as deliveries_blp
    from api.errors import register_error_handlers
    from api.extensions import Api, db, migrate
    from api.json_body import MAX_JSON_DEPTH
    from api.json_provider import ApiJSONProvider
    from api.limits import RateLimitDocPlugin
    from api.webhooks.resources import blp as webhooks_blp

    settings = Settings.from_env()
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.json = ApiJSONProvider(app)  # one style for every JSON body (api/json_provider.py)
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
                "key (pk_) may only claim.\n\n"
                "Bodies are strict JSON, whatever their Content-Type: UTF-8, arrays and objects "
                f"nested at most {MAX_JSON_DEPTH} deep, no member named twice, no NaN or Infinity "
                "(400 `invalid_json` otherwise). No string may contain NUL or an unpaired "
                "surrogate (422 naming the field). Timestamps are ISO 8601 between "
                "0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z once converted to UTC (422 otherwise)."
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

    body_limit.init_app(app)  # MAX_CONTENT_LENGTH for chunked bodies too, before any other hook
    # Every rate-limited operation documents its 429.
    api = Api(app, spec_kwargs={"extra_plugins": [RateLimitDocPlugin()]})
    register_error_handlers(app)  # after flask-smorest's own, which they replace
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for blueprint in (codes_blp, claims_blp, deliveries_blp, batches_blp, webhooks_blp, health.blp):
        api.register_blueprint(blueprint)
    request_id.init_app(app)
    security_headers.init_app(app)  # nosniff everywhere, no-store where a secret is answered
    app.extensions["codes_api"] = api

    abuse.init_app(app)  # rate limits, trusted proxies, CORS on claims (docs/abuse.md)
    pages.init_app(app)  # the claim page and the widget (docs/claim-page.md)
    app.register_blueprint(swagger_ui.blp)
    register_cli(app)
    return app
