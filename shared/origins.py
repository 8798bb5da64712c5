"""Browser origins a project allows to claim its codes with the public key (CORS).

An origin is ``scheme://host[:port]`` as a browser sends it in the ``Origin`` header: http or
https, no path, no trailing slash, lowercase, default ports dropped. ``*`` allows every origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from shared.errors import InvalidInput
from shared.models import Project
from shared.projects import get_project_by_name
from shared.transactions import begin_read, begin_write
from shared.validation import clean_each

ANY_ORIGIN = "*"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(value: str, field: str = "origin") -> str:
    """``value`` as a browser would send it, or InvalidInput naming ``field``."""
    text = value.strip()
    if text == ANY_ORIGIN:
        return text
    problem = "Must be an origin such as https://shop.example.com (scheme, host and optional port)."
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidInput({field: [problem]}) from None
    if (
        parts.scheme.lower() not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise InvalidInput({field: [problem]})
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def set_allowed_origins(session: Session, name: str, origins: list[str]) -> Project:
    """Replace the origins the project ``name`` allows; an empty list allows none."""
    cleaned = clean_each(origins, normalize_origin, "origins")
    begin_write(session)
    project = get_project_by_name(session, name)
    project.allowed_origins = cleaned
    session.flush()
    return project


def _matches(allowed: list[str] | None, origin: str) -> bool:
    return bool(allowed) and (origin in allowed or ANY_ORIGIN in allowed)


def _browser_origin(origin: str) -> str | None:
    try:
        return normalize_origin(origin)
    except InvalidInput:
        return None  # "null" (sandboxed frames, file://) and anything else malformed


def project_allows(session: Session, project_id: int, origin: str) -> bool:
    """Whether the project may be called from pages served by ``origin``."""
    origin = _browser_origin(origin)
    if origin is None or origin == ANY_ORIGIN:
        return False
    begin_read(session)
    allowed = session.execute(
        select(Project.allowed_origins).where(Project.id == project_id)
    ).scalar_one_or_none()
    return _matches(allowed, origin)


def any_project_allows(session: Session, origin: str) -> bool:
    """Whether some project allows ``origin``: the answer to a preflight, which carries no key."""
    origin = _browser_origin(origin)
    if origin is None or origin == ANY_ORIGIN:
        return False
    begin_read(session)
    text = cast(Project.allowed_origins, Text)
    candidates = session.scalars(
        select(Project.allowed_origins).where(
            text.contains(f'"{origin}"', autoescape=True) | text.contains(f'"{ANY_ORIGIN}"')
        )
    )
    return any(_matches(allowed, origin) for allowed in candidates)
