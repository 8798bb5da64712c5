"""Operator commands (``flask --app wsgi ...``), registered on the app in one place.

``projects`` (create, list, rotate-keys, demo, set-origins, set-template, set-claim-url,
set-slug, set-redirect), ``guilds`` (link, unlink, list), ``codes`` (generate, import, export),
``webhooks`` (add, list, remove, rotate-secret, enable, lancero-signature), ``worker`` and
``purge-idempotency-keys``.
"""

from __future__ import annotations

import click
from flask import Flask

from api.extensions import db
from shared.errors import DomainError, InvalidInput


def fail(exc: DomainError):
    """Roll back and stop the command with the domain's message (and what was invalid)."""
    db.session.rollback()
    message = f"{exc.message} ({exc.code})"
    if isinstance(exc, InvalidInput):
        message += "".join(f" {field}: {' '.join(messages)}" for field, messages in exc.errors.items())
    raise click.ClickException(message) from None


def register(app: Flask) -> None:
    from api.cli import code_import  # noqa: F401  (adds `codes import`)
    from api.cli.abuse import purge_idempotency_keys
    from api.cli.codes import codes
    from api.cli.guilds import guilds
    from api.cli.mail import worker
    from api.cli.pages import set_redirect, set_slug
    from api.cli.projects import projects
    from api.cli.webhooks import webhooks

    # The claim page's settings live beside the page's own code (api/cli/pages.py).
    for command in (set_slug, set_redirect):
        projects.add_command(command)
    for command in (projects, guilds, codes, webhooks, worker, purge_idempotency_keys):
        app.cli.add_command(command)
