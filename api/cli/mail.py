"""Email commands: ``flask --app wsgi worker [--once]`` and the project's message settings
(``projects set-template``, ``projects set-claim-url``)."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import with_appcontext

from api.cli import fail
from api.extensions import db
from shared.clock import utcnow
from shared.db import make_sessionmaker
from shared.errors import DomainError
from shared.logging import configure_logging
from shared.mail import services as mail_services
from shared.mail.message import MailContent, render_parts
from shared.mail.worker import Worker, serve
from shared.webhooks.worker import WebhookWorker


@click.command("worker")
@click.option("--once", is_flag=True, help="Send every email and webhook that is due now, then exit.")
@with_appcontext
def worker(once: bool) -> None:
    """Send queued emails (SMTP, or .eml files without SMTP_HOST) and webhooks until SIGTERM/SIGINT."""
    settings = current_app.config["SETTINGS"]
    configure_logging("worker", settings.log_level)
    try:
        mail_worker = Worker(make_sessionmaker(db.engine), settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not settings.smtp_host:
        click.echo(f"No SMTP_HOST: messages are written as .eml files under {settings.mail_dir}")
    sessions = make_sessionmaker(db.engine)
    serve(mail_worker, once=once, webhooks=WebhookWorker(sessions, settings))


def _preview(settings: mail_services.MailSettings) -> None:
    sample = MailContent(
        project=settings.project,
        code="curious-pineapple",
        email="lead@example.com",
        claim_url=settings.claim_url,
        valid_until=utcnow().replace(microsecond=0) + dt.timedelta(days=30),
        templates=settings.templates,
    )
    subject, text, _html = render_parts(sample)
    templates = settings.templates
    custom = [name for name in ("subject", "text", "html") if getattr(templates, name)]
    click.echo(
        f"Project {settings.project!r}: claim URL {settings.claim_url or '(none)'}; "
        f"custom template parts: {', '.join(custom) or 'none (built-in message)'}"
    )
    click.echo("Preview with a sample code:")
    click.echo(f"  Subject: {subject}")
    for line in text.splitlines():
        click.echo(f"  | {line}")


@click.command("set-template")
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
@with_appcontext
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


@click.command("set-claim-url")
@click.argument("name")
@click.argument("url", required=False)
@click.option("--clear", is_flag=True, help="Remove the claim URL.")
@with_appcontext
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
