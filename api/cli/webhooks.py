"""Operator commands: ``flask --app wsgi webhooks add|list|remove|rotate-secret|enable|lancero-signature``."""

from __future__ import annotations

import datetime as dt
import json

import click
from flask import current_app
from flask.cli import AppGroup

from api.cli import fail
from api.extensions import db
from api.webhooks.schemas import endpoint_json
from shared.errors import DomainError
from shared.projects import get_project_by_name
from shared.webhooks import endpoints
from shared.webhooks.events import EVENT_TYPES

webhooks = AppGroup("webhooks", help="A project's webhook endpoints (docs/webhooks.md).")


def _project_id(name: str) -> int:
    try:
        return get_project_by_name(db.session, name).id
    except DomainError as exc:
        fail(exc)


def _show(record: endpoints.EndpointRecord, secret: str | None, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(endpoint_json(record, secret)))
        return
    state = (
        record.health
        if record.disabled_at is None
        else f"disabled since {record.disabled_at:%Y-%m-%d %H:%M} UTC"
    )
    click.echo(f"{record.id:>5}  {record.url}  [{', '.join(record.events)}]  {state}")
    if secret is not None:
        click.echo(f"  signing secret: {secret}")
        click.echo("  Shown once: store it now. Receivers verify webhook-signature with it.")


@webhooks.command("add")
@click.argument("project")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(EVENT_TYPES),
    help="An event to send (repeat the option); default: all.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, with the secret.")
def add(project: str, url: str, events: tuple[str, ...], as_json: bool) -> None:
    """Register URL for the project's events and print its signing secret (shown once)."""
    project_id = _project_id(project)
    try:
        created = endpoints.add_endpoint(
            db.session,
            project_id,
            url,
            list(events) or None,
            allow_private=current_app.config["SETTINGS"].webhooks_allow_private,
        )
        db.session.commit()
    except DomainError as exc:
        fail(exc)
    _show(created.endpoint, created.secret, as_json)


@webhooks.command("list")
@click.argument("project")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_(project: str, as_json: bool) -> None:
    """List the project's endpoints and their health."""
    records = endpoints.list_endpoints(db.session, _project_id(project))
    if as_json:
        click.echo(json.dumps([endpoint_json(record) for record in records]))
        return
    if not records:
        click.echo(f"No webhook endpoints: flask --app wsgi webhooks add {project} https://...")
    for record in records:
        _show(record, None, False)


@webhooks.command("remove")
@click.argument("project")
@click.argument("endpoint_id", type=int)
def remove(project: str, endpoint_id: int) -> None:
    """Remove an endpoint and its delivery log."""
    try:
        removed = endpoints.remove_endpoint(db.session, _project_id(project), endpoint_id)
        db.session.commit()
    except DomainError as exc:
        fail(exc)
    click.echo(f"Removed endpoint {removed.id} ({removed.url}).")


@webhooks.command("rotate-secret")
@click.argument("project")
@click.argument("endpoint_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, with the secret.")
def rotate_secret(project: str, endpoint_id: int, as_json: bool) -> None:
    """Issue a new signing secret (shown once); the old one also signs for 24 hours."""
    try:
        rotated = endpoints.rotate_secret(db.session, _project_id(project), endpoint_id)
        db.session.commit()
    except DomainError as exc:
        fail(exc)
    _show(rotated.endpoint, rotated.secret, as_json)


@webhooks.command("enable")
@click.argument("project")
@click.argument("endpoint_id", type=int)
def enable(project: str, endpoint_id: int) -> None:
    """Enable a disabled endpoint; what waited for it is sent at once."""
    window = dt.timedelta(seconds=current_app.config["SETTINGS"].webhook_retry_window_seconds)
    try:
        enabled = endpoints.enable_endpoint(
            db.session, _project_id(project), endpoint_id, retry_window=window
        )
        db.session.commit()
    except DomainError as exc:
        fail(exc)
    _show(enabled, None, False)


@webhooks.command("lancero-signature")
@click.argument("project")
@click.argument("state", type=click.Choice(["on", "off"]))
def lancero_signature(project: str, state: str) -> None:
    """Send (on, the default) or stop sending (off) the secret itself in lancero-signature."""
    try:
        endpoints.set_lancero_signature(db.session, _project_id(project), state == "on")
        db.session.commit()
    except DomainError as exc:
        fail(exc)
    click.echo(f"lancero-signature header: {state} for project {project!r}.")
