"""The claim page's operator commands: ``projects set-slug`` and ``projects set-redirect``."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from api.cli import fail
from api.extensions import db
from shared import pages
from shared.errors import DomainError


def _page_address(slug: str) -> str:
    public_url = current_app.config.get("PUBLIC_URL")
    return pages.page_url(public_url, slug) if public_url else f"{pages.PAGE_PATH}{slug} (set PUBLIC_URL)"


@click.command("set-slug")
@click.argument("name")
@click.argument("slug", required=False)
@click.option("--clear", is_flag=True, help="Remove the project's claim page.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
@with_appcontext
def set_slug(name: str, slug: str | None, clear: bool, as_json: bool) -> None:
    """Put the project's claim page at /p/SLUG (lowercase letters, digits and '-').

    Every project gets a slug from its name when it is created; the old address stops working.
    """
    if bool(slug) == clear:
        raise click.UsageError("Give a SLUG, or --clear.")
    try:
        project = pages.set_slug(db.session, name, None if clear else slug)
        db.session.commit()
    except DomainError as exc:
        fail(exc)
    if as_json:
        click.echo(json.dumps({"name": project.name, "slug": project.slug}))
    elif project.slug:
        click.echo(f"Project {project.name!r}: claim page at {_page_address(project.slug)}")
    else:
        click.echo(f"Project {project.name!r} has no claim page now; its emails no longer link to one.")


@click.command("set-redirect")
@click.argument("name")
@click.argument("url", required=False)
@click.option("--clear", is_flag=True, help="Show the page's own success page again.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
@with_appcontext
def set_redirect(name: str, url: str | None, clear: bool, as_json: bool) -> None:
    """Send people to URL after a claim on the project's page, with ?claim_token=... appended.

    URL must be https (http only for localhost). Your backend exchanges the token at
    POST /claims/exchange within 60 seconds.
    """
    if bool(url) == clear:
        raise click.UsageError("Give a URL, or --clear.")
    try:
        project = pages.set_redirect_url(db.session, name, None if clear else url)
        db.session.commit()
    except DomainError as exc:
        fail(exc)
    if as_json:
        click.echo(json.dumps({"name": project.name, "redirectUrl": project.redirect_url}))
    elif project.redirect_url:
        click.echo(f"Project {project.name!r}: after a claim, its page redirects to {project.redirect_url}")
    else:
        click.echo(f"Project {project.name!r}: after a claim, its page shows its own success page.")
