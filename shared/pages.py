"""The hosted claim page of a project: its address (``/p/<slug>``), where it sends a claimant after
a successful claim, and the claim URL that emails and DMs link to.

A project gets a slug when it is created (``shared.projects``); ``set_slug`` changes or removes it.
A redirect URL must be https, except on this machine (http://localhost, 127.0.0.1, [::1]), since
the claim token travels in it. Like every service here they take a session, flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.errors import InvalidInput, PageNotFound, SlugTaken
from shared.models import URL_LENGTH, Project
from shared.projects import SLUG_PATTERN, get_project_by_name, normalize_slug
from shared.transactions import begin_read, begin_write

PAGE_PATH = "/p/"
TOKEN_PARAMETER = "claim_token"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class ClaimPage:
    """What the page needs of its project (the rate limits count a claim through the page against
    the project's public key, by ``project_id``)."""

    project_id: int
    project: str
    slug: str
    redirect_url: str | None


def find_page(session: Session, slug: str) -> ClaimPage:
    """The page at ``/p/<slug>`` (slugs compare case-insensitively); PageNotFound otherwise."""
    value = slug.strip().lower()
    row = None
    if SLUG_PATTERN.fullmatch(value):
        begin_read(session)
        row = session.execute(
            select(Project.id, Project.name, Project.slug, Project.redirect_url).where(Project.slug == value)
        ).first()
    if row is None:
        raise PageNotFound()
    return ClaimPage(*row)


def set_slug(session: Session, project_name: str, slug: str | None) -> Project:
    """Move the project's page to ``/p/<slug>``; ``None`` removes the page."""
    value = normalize_slug(slug) if slug is not None else None
    begin_write(session)
    project = get_project_by_name(session, project_name)
    if value == project.slug:
        return project
    try:
        with session.begin_nested():
            project.slug = value
            session.flush()
    except IntegrityError:
        raise SlugTaken(f"Another project's claim page is already at /p/{value}.") from None
    return project


def check_redirect_url(url: str, field: str = "redirectUrl") -> str:
    """An absolute https URL (http only for this machine) without credentials or a claim token."""
    cleaned = url.strip()
    problems = []
    try:
        parts = urlsplit(cleaned)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise InvalidInput({field: ["Must be an absolute https:// URL."]}) from None
    local = (parts.hostname or "") in LOCAL_HOSTS
    if not parts.hostname or parts.scheme not in ("https", "http") or (parts.scheme == "http" and not local):
        problems.append("Must be an absolute https:// URL (http:// only for localhost).")
    if parts.username is not None or parts.password is not None:
        problems.append("Must not contain a user name or password.")
    if any(name == TOKEN_PARAMETER for name, _ in parse_qsl(parts.query, keep_blank_values=True)):
        problems.append(f"Must not contain {TOKEN_PARAMETER}: the page adds it.")
    if any(ch.isspace() for ch in cleaned):
        problems.append("Must not contain spaces.")
    if len(cleaned) > URL_LENGTH:
        problems.append(f"Must be at most {URL_LENGTH} characters.")
    if problems:
        raise InvalidInput({field: problems})
    return cleaned


def set_redirect_url(session: Session, project_name: str, url: str | None) -> Project:
    """Where the page sends a claimant, with ``?claim_token=...``; ``None`` shows a success page."""
    value = check_redirect_url(url) if url is not None else None
    begin_write(session)
    project = get_project_by_name(session, project_name)
    project.redirect_url = value
    session.flush()
    return project


def redirect_with_token(redirect_url: str, token: str) -> str:
    """``redirect_url`` with ``claim_token=<token>`` appended to its query (before any fragment)."""
    parts = urlsplit(redirect_url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), (TOKEN_PARAMETER, token)])
    return urlunsplit(parts._replace(query=query))


def page_url(public_url: str, slug: str) -> str:
    return f"{public_url.rstrip('/')}{PAGE_PATH}{quote(slug, safe='')}"


def claim_url_template(claim_url: str | None, slug: str | None, public_url: str | None) -> str | None:
    """The claim URL (with ``{code}``) that a project's emails and DMs link to: the project's own,
    else its page with the code filled in when the service knows its public address, else none."""
    if claim_url:
        return claim_url
    if slug and public_url:
        return page_url(public_url, slug) + "?code={code}"
    return None


def claim_url_for_project(session: Session, project_id: int, public_url: str | None) -> str | None:
    """:func:`claim_url_template` of the project ``project_id``."""
    begin_read(session)
    row = session.execute(select(Project.claim_url, Project.slug).where(Project.id == project_id)).first()
    if row is None:
        return None
    return claim_url_template(row.claim_url, row.slug, public_url)
