"""``flask --app wsgi worker [--once]``: the email worker, which delivers webhooks in a second
loop (a project's message settings are ``projects set-template`` and ``projects set-claim-url``,
in api/cli/projects.py)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from api.extensions import db
from shared.db import make_sessionmaker
from shared.logging import configure_logging
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
