"""What people see in a browser: the hosted claim page (``/p/<slug>``) and the embeddable claim
widget (``/widget.js``). Their operator commands are in ``api.cli.pages``.

docs/claim-page.md describes both.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from api import limits
from api.secret_key import instance_secret_key

# A CSRF token stays good this long: a claim page left open in a tab for a working day still works.
CSRF_TIME_LIMIT_SECONDS = 12 * 3600


def init_app(app: Flask) -> None:
    from api.pages import claim, widget

    settings = app.config["SETTINGS"]
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = settings.secret_key or instance_secret_key(Path(app.instance_path))
    app.config.setdefault("PUBLIC_URL", settings.public_url)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", CSRF_TIME_LIMIT_SECONDS)
    # The session cookie holds only the page's CSRF token and the last claim it showed.
    app.config.update(
        SESSION_COOKIE_NAME="codes_session",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=(settings.public_url or "").startswith("https://"),
    )
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True

    app.register_blueprint(claim.blp)
    app.register_blueprint(widget.blp)
    limits.limit_as_claims(app, claim.CLAIM_ENDPOINT, claim.project_key)
