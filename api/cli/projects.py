"""``flask --app wsgi projects ...``: create projects, manage their keys, the browser origins that
may claim (CORS) and their email (claim URL, templates)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from api.cli import fail
from api.extensions import db
from shared import origins, pages
from shared import projects as project_service
from shared.clock import utcnow
from shared.errors import DomainError
from shared.mail import services as mail_services
from shared.mail.message import MailContent, render_parts

projects = AppGroup(
    "projects", help="Create projects, manage their keys, claim origins (CORS) and email settings."
)


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


@projects.command("set-origins")
@click.argument("name")
@click.argument("origin", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
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


def _preview(settings: mail_services.MailSettings) -> None:
    # What the worker links to: the claim URL, else the claim page under PUBLIC_URL.
    link = pages.claim_url_for_project(db.session, settings.project_id, current_app.config.get("PUBLIC_URL"))
    sample = MailContent(
        project=settings.project,
        code="curious-pineapple",
        email="lead@example.com",
        claim_url=link,
        valid_until=utcnow().replace(microsecond=0) + dt.timedelta(days=30),
        templates=settings.templates,
    )
    subject, text, _html = render_parts(sample)
    templates = settings.templates
    custom = [name for name in ("subject", "text", "html") if getattr(templates, name)]
    click.echo(
        f"Project {settings.project!r}: claim URL "
        f"{settings.claim_url or (f'(none: its claim page, {link})' if link else '(none)')}; "
        f"custom template parts: {', '.join(custom) or 'none (built-in message)'}"
    )
    click.echo("Preview with a sample code:")
    click.echo(f"  Subject: {subject}")
    for line in text.splitlines():
        click.echo(f"  | {line}")


@projects.command("set-template")
@click.argument("name")
@click.option("--subject", default=None, help='The subject, one line. "" restores the default.')
@click.option(
    "--text",
    "text_file",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="A file (- for stdin) holding the plain-text body. An empty file restores the default.",
)
@click.option(
    "--html",
    "html_file",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="A file (- for stdin) holding the HTML body; values are HTML-escaped in it.",
)
@click.option("--reset", is_flag=True, help="Restore the built-in subject, text and HTML first.")
def set_template(name: str, subject: str | None, text_file, html_file, reset: bool) -> None:
    """Override the email a project's codes are sent with.

    Placeholders: {{code}} {{project}} {{claim_url}} {{valid_until}}; any other is refused.
    With only a text body, the HTML part is made from it.
    """
    if subject is None and text_file is None and html_file is None and not reset:
        raise click.UsageError("Give --subject, --text, --html or --reset.")
    try:
        settings = mail_services.set_template(
            db.session,
            name,
            subject=subject,
            text=text_file.read() if text_file else None,
            html=html_file.read() if html_file else None,
            reset=reset,
        )
        db.session.commit()
    except DomainError as exc:
        fail(exc)
    _preview(settings)


@projects.command("set-claim-url")
@click.argument("name")
@click.argument("url", required=False)
@click.option("--clear", is_flag=True, help="Remove the claim URL.")
def set_claim_url(name: str, url: str | None, clear: bool) -> None:
    """Where recipients claim their code, e.g. https://example.com/claim?code={code}."""
    if bool(url) == clear:
        raise click.UsageError("Give a URL, or --clear.")
    try:
        settings = mail_services.set_claim_url(db.session, name, None if clear else url)
        db.session.commit()
    except DomainError as exc:
        fail(exc)
    _preview(settings)
