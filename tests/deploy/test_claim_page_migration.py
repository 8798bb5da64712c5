"""The claim-page migration gives every existing project a page, as a new project gets one."""

from __future__ import annotations

import flask_migrate
from sqlalchemy import text

from api.extensions import db

BEFORE = "b7c41e2d9a10"
CLAIM_PAGES = "c41a7d2e9b30"


def test_existing_projects_get_slugs_from_their_names(migrations_app):
    with migrations_app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        with db.engine.begin() as connection:
            for number, name in enumerate(["Shop A", "acme", "shop-a", "SHOP a"], start=1):
                connection.execute(
                    text(
                        "INSERT INTO projects (name, public_key_digest, secret_key_digest, allowed_origins,"
                        " created_at) VALUES (:name, :public, :secret, '[]', CURRENT_TIMESTAMP)"
                    ),
                    {"name": name, "public": f"{number:064x}", "secret": f"{number + 100:064x}"},
                )
        flask_migrate.upgrade(revision=CLAIM_PAGES)
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT name, slug, redirect_url FROM projects ORDER BY id")).all()
        flask_migrate.downgrade(revision=BEFORE)
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM projects")).scalar_one() == 4
    assert [tuple(row) for row in rows] == [
        ("Shop A", "shop-a", None),
        ("acme", "acme", None),
        ("shop-a", "shop-a-2", None),
        ("SHOP a", "shop-a-3", None),
    ]
