"""Operator commands: ``flask --app wsgi projects ...``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from api.cli import fail
from api.extensions import db
from shared import projects as project_service
from shared.errors import DomainError

projects = AppGroup("projects", help="Create projects and manage their keys.")


def _print_keys(name: str, project_id: int, keys, as_json: bool) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {"id": project_id, "name": name, "publicKey": keys.public_key, "secretKey": keys.secret_key}
            )
        )
        return
    click.echo(f"Project {name!r} (id {project_id})")
    click.echo(f"  public key: {keys.public_key}   (web pages: may only claim codes)")
    click.echo(f"  secret key: {keys.secret_key}   (your backend: every route)")
    click.echo("These keys are shown once and cannot be recovered; rotate-keys issues new ones.")


@projects.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
def create(name: str, as_json: bool) -> None:
    """Create a project and print its keys (shown once)."""
    try:
        project, keys = project_service.create_project(db.session, name)
        db.session.commit()
    except DomainError as exc:
        fail(exc)
    _print_keys(project.name, project.id, keys, as_json)


@projects.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_(as_json: bool) -> None:
    """List projects with their number of codes."""
    rows = project_service.list_projects(db.session)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {"id": r.id, "name": r.name, "codes": r.codes, "createdAt": r.created_at.isoformat()}
                    for r in rows
                ]
            )
        )
        return
    if not rows:
        click.echo("No projects yet: flask --app wsgi projects create NAME")
    for row in rows:
        click.echo(f"{row.id:>5}  {row.name:<30} {row.codes:>8} codes  created {row.created_at:%Y-%m-%d}")


@projects.command("rotate-keys")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
def rotate_keys(name: str, as_json: bool) -> None:
    """Issue new keys; the old ones stop working at once."""
    try:
        project, keys = project_service.rotate_keys(db.session, name)
        db.session.commit()
    except DomainError as exc:
        fail(exc)
    _print_keys(project.name, project.id, keys, as_json)


@projects.command("demo")
@click.option(
    "--keys-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the demo keys are saved (default: instance/demo-keys.json).",
)
def demo(keys_file: Path | None) -> None:
    """Create the 'demo' project once, saving its keys to a file; later runs print that file."""
    keys_file = keys_file or Path(current_app.instance_path) / "demo-keys.json"
    if keys_file.exists():
        saved = json.loads(keys_file.read_text())
        click.echo(f"Demo project keys (saved in {keys_file}):")
        click.echo(f"  public key: {saved['publicKey']}\n  secret key: {saved['secretKey']}")
        return
    try:
        project, keys = project_service.create_project(db.session, "demo")
        db.session.commit()
    except DomainError as exc:
        fail(exc)
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "id": project.id,
        "name": project.name,
        "publicKey": keys.public_key,
        "secretKey": keys.secret_key,
    }
    fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=2)
    click.echo(f"Created the demo project. Its keys are saved in {keys_file}:")
    click.echo(f"  public key: {keys.public_key}\n  secret key: {keys.secret_key}")
