"""``flask --app wsgi purge-idempotency-keys`` (a project's CORS origins: ``projects set-origins``)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from api.extensions import db
from shared import idempotency


@click.command("purge-idempotency-keys")
@with_appcontext
def purge_idempotency_keys() -> None:
    """Delete the Idempotency-Keys past their 24 hours (requests also purge them as they go)."""
    removed = idempotency.purge_expired(db.session)
    db.session.commit()
    click.echo(f"Purged {removed} expired idempotency key(s).")
