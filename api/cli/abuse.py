"""Operator commands for abuse resistance: ``projects set-origins`` and ``purge-idempotency-keys``."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from api.cli import fail
from api.extensions import db
from shared import idempotency, origins
from shared.errors import DomainError


@click.command("set-origins")
@click.argument("name")
@click.argument("origin", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
@with_appcontext
def set_origins(name: str, origin: tuple[str, ...], as_json: bool) -> None:
    """Set the browser origins that may claim the project's codes (CORS).

    Each ORIGIN is scheme://host[:port], such as https://shop.example.com; * allows any origin.
    The list replaces the previous one; with no ORIGIN, browsers may not claim at all.
    """
    try:
        project = origins.set_allowed_origins(db.session, name, list(origin))
        db.session.commit()
    except DomainError as exc:
        fail(exc)
    if as_json:
        click.echo(json.dumps({"name": project.name, "allowedOrigins": project.allowed_origins}))
    elif project.allowed_origins:
        click.echo(f"Project {project.name!r} may be claimed from: {', '.join(project.allowed_origins)}")
    else:
        click.echo(f"Project {project.name!r} may not be claimed from browsers (no origins).")


@click.command("purge-idempotency-keys")
@with_appcontext
def purge_idempotency_keys() -> None:
    """Delete the Idempotency-Keys past their 24 hours (requests also purge them as they go)."""
    removed = idempotency.purge_expired(db.session)
    db.session.commit()
    click.echo(f"Purged {removed} expired idempotency key(s).")
