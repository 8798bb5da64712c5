"""Projects and their API keys. Keys are shown once; only their SHA-256 digests are stored."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from shared.errors import InvalidInput, ProjectExists, ProjectNotFound, SecretKeyRequired, Unauthenticated
from shared.models import Code, Project
from shared.transactions import begin_read, begin_write

KEY_PATTERN = re.compile(r"(pk|sk)_[0-9a-f]{48}")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}")
# The claim page's address, /p/<slug>: lowercase letters, digits and inner hyphens.
SLUG_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
SLUG_RULE = "1 to 64 lowercase letters, digits or '-', starting and ending with a letter or digit."


@dataclass(frozen=True, slots=True)
class ProjectKeys:
    public_key: str
    secret_key: str


@dataclass(frozen=True, slots=True)
class ApiKey:
    """Who is calling: a project, with its public or its secret key."""

    project_id: int
    project_name: str
    is_secret: bool


@dataclass(frozen=True, slots=True)
class ProjectSummary:
    id: int
    name: str
    codes: int
    created_at: object


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_keys() -> ProjectKeys:
    return ProjectKeys(f"pk_{secrets.token_hex(24)}", f"sk_{secrets.token_hex(24)}")


def create_project(session: Session, name: str) -> tuple[Project, ProjectKeys]:
    name = name.strip()
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidInput(
            {"name": ["1 to 100 letters, digits, spaces, '_', '.' or '-', starting with a letter or digit."]}
        )
    begin_write(session)
    keys = new_keys()
    project = Project(
        name=name,
        public_key_digest=digest(keys.public_key),
        secret_key_digest=digest(keys.secret_key),
        allowed_origins=[],
    )
    try:
        # Added inside the savepoint, so a refused name leaves nothing pending in the session.
        with session.begin_nested():
            session.add(project)
            session.flush()
    except IntegrityError:
        raise ProjectExists(f"A project named {name!r} already exists.") from None
    _give_default_slug(session, project)
    return project, keys


def normalize_slug(value: str, field: str = "slug") -> str:
    cleaned = value.strip().lower()
    if not SLUG_PATTERN.fullmatch(cleaned):
        raise InvalidInput({field: [SLUG_RULE]})
    return cleaned


def slug_from_name(name: str) -> str:
    """A project's first slug, made from its name: ``Acme Beta`` -> ``acme-beta``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:56].strip("-")
    return slug or "project"


def _give_default_slug(session: Session, project: Project) -> None:
    """Every new project gets a claim page: its name as a slug, or that with a suffix when another
    project has it (``shop-a`` and ``Shop A`` make the same slug). The unique constraint decides."""
    table = Project.__table__  # Core, so a refused slug changes nothing in the session
    base = slug_from_name(project.name)
    candidates = [base, *(f"{base}-{n}" for n in range(2, 10))]
    candidates += [f"{base}-{secrets.token_hex(3)}" for _ in range(3)]
    for candidate in candidates:
        try:
            with session.begin_nested():
                session.execute(update(table).where(table.c.id == project.id).values(slug=candidate))
        except IntegrityError:
            continue
        set_committed_value(project, "slug", candidate)
        return
    # Every candidate taken (a dozen look-alike names): no page until `projects set-slug`.


def get_project_by_name(session: Session, name: str) -> Project:
    project = session.scalars(select(Project).where(Project.name == name.strip())).one_or_none()
    if project is None:
        raise ProjectNotFound(f"No project named {name!r}.")
    return project


def rotate_keys(session: Session, name: str) -> tuple[Project, ProjectKeys]:
    """New keys for the project; the old ones stop working when the transaction commits."""
    begin_write(session)
    project = get_project_by_name(session, name)
    keys = new_keys()
    project.public_key_digest = digest(keys.public_key)
    project.secret_key_digest = digest(keys.secret_key)
    session.flush()
    return project, keys


def list_projects(session: Session) -> list[ProjectSummary]:
    begin_read(session)
    counts = select(Code.project_id, func.count().label("codes")).group_by(Code.project_id).subquery()
    rows = session.execute(
        select(Project.id, Project.name, Project.created_at, func.coalesce(counts.c.codes, 0).label("codes"))
        .outerjoin(counts, counts.c.project_id == Project.id)
        .order_by(Project.id)
    ).all()
    return [ProjectSummary(**row._mapping) for row in rows]


# Every request runs one of these: built once, with the digest bound at execution.
_projects = Project.__table__
_PROJECT_BY_KEY = {
    is_secret: select(_projects.c.id, _projects.c.name).where(column == bindparam("digest"))
    for is_secret, column in ((True, _projects.c.secret_key_digest), (False, _projects.c.public_key_digest))
}


def find_key(session: Session, raw_key: str | None) -> ApiKey | None:
    """The project a key belongs to, or None for anything unknown or malformed: one indexed
    lookup of its digest (none for a malformed key), so a rotated key stops working at once."""
    if not raw_key or not KEY_PATTERN.fullmatch(raw_key):
        return None
    is_secret = raw_key.startswith("sk_")
    begin_read(session)
    row = session.execute(_PROJECT_BY_KEY[is_secret], {"digest": digest(raw_key)}).first()
    if row is None:
        return None
    return ApiKey(project_id=row.id, project_name=row.name, is_secret=is_secret)


def check_key(key: ApiKey | None, *, secret_required: bool = False) -> ApiKey:
    """``key`` if it may call: Unauthenticated for no key (always the same error),
    SecretKeyRequired for a public key where only the secret key will do."""
    if key is None:
        raise Unauthenticated()
    if secret_required and not key.is_secret:
        raise SecretKeyRequired()
    return key


def authenticate(session: Session, raw_key: str | None, *, secret_required: bool = False) -> ApiKey:
    """The project a key belongs to (:func:`find_key`), checked (:func:`check_key`)."""
    return check_key(find_key(session, raw_key), secret_required=secret_required)
