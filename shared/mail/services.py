"""Mail services for the front ends: a project's templates and claim URL, and delivery status.

Like every service here they take a session, flush, and never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.codes import get_code
from shared.errors import InvalidInput
from shared.mail.message import MailTemplates, check_claim_url, check_template
from shared.models import DELIVERY_STATUSES, Delivery
from shared.projects import get_project_by_name
from shared.records import Page, encode_cursor, invalid_page_request, page_start
from shared.transactions import begin_write


@dataclass(frozen=True, slots=True)
class MailSettings:
    """What a project's messages are made of; ``None`` fields use the built-in defaults."""

    project_id: int
    project: str
    claim_url: str | None
    templates: MailTemplates


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: int
    email: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: dt.datetime | None
    sent_at: dt.datetime | None
    created_at: dt.datetime


def _mail_settings(project) -> MailSettings:
    return MailSettings(
        project_id=project.id,
        project=project.name,
        claim_url=project.claim_url,
        templates=MailTemplates(
            project.mail_subject_template, project.mail_text_template, project.mail_html_template
        ),
    )


def get_mail_settings(session: Session, project_name: str) -> MailSettings:
    return _mail_settings(get_project_by_name(session, project_name))


def set_template(
    session: Session,
    project_name: str,
    *,
    subject: str | None = None,
    text: str | None = None,
    html: str | None = None,
    reset: bool = False,
) -> MailSettings:
    """Override parts of a project's message. ``None`` leaves a part as it is, an empty string
    restores its default, ``reset`` restores all three first. A template with an unknown
    placeholder is refused, and nothing changes."""
    begin_write(session)
    project = get_project_by_name(session, project_name)
    parts = {"subject": subject, "text": text, "html": html}
    errors: dict[str, list[str]] = {}
    for field, value in parts.items():
        if value:
            try:
                check_template(value, field)
            except InvalidInput as exc:
                errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    if reset:
        project.mail_subject_template = project.mail_text_template = project.mail_html_template = None
    if subject is not None:
        project.mail_subject_template = subject.strip() or None
    if text is not None:
        project.mail_text_template = text if text.strip() else None
    if html is not None:
        project.mail_html_template = html if html.strip() else None
    session.flush()
    return _mail_settings(project)


def set_claim_url(session: Session, project_name: str, url: str | None) -> MailSettings:
    """Where recipients claim their code (``{code}`` is replaced); ``None`` or "" removes it."""
    begin_write(session)
    project = get_project_by_name(session, project_name)
    project.claim_url = check_claim_url(url) if url and url.strip() else None
    session.flush()
    return _mail_settings(project)


def list_deliveries(
    session: Session, project_id: int, code: str, *, limit: int = 20, cursor: str | None = None
) -> Page[DeliveryRecord]:
    """A code's deliveries, newest first, a page at a time. Unknown code: CodeNotFound."""
    errors: dict[str, list[str]] = {}
    before = page_start(limit, cursor, errors)
    if errors:
        raise invalid_page_request(errors)
    record = get_code(session, project_id, code)
    query = select(
        Delivery.id,
        Delivery.email,
        Delivery.status,
        Delivery.attempts,
        Delivery.last_error,
        Delivery.next_attempt_at,
        Delivery.sent_at,
        Delivery.created_at,
    ).where(Delivery.code_id == record.id)
    if before is not None:
        query = query.where(Delivery.id < before)
    rows = session.execute(query.order_by(Delivery.id.desc()).limit(limit + 1)).all()
    items = [
        DeliveryRecord(
            id=r.id,
            email=r.email,
            status=r.status,
            attempts=r.attempts,
            last_error=r.last_error,
            # Only a queued delivery has a next attempt.
            next_attempt_at=r.next_attempt_at if r.status == "queued" else None,
            sent_at=r.sent_at,
            created_at=r.created_at,
        )
        for r in rows[:limit]
    ]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
    return Page(items, next_cursor)


def delivery_counts(session: Session, project_id: int, code: str | None = None) -> dict[str, int]:
    """How many deliveries are in each status (every status present, zeros included), for one
    code or, without ``code``, the whole project."""
    query = select(Delivery.status, func.count()).where(Delivery.project_id == project_id)
    if code is not None:
        query = query.where(Delivery.code_id == get_code(session, project_id, code).id)
    counts = dict.fromkeys(DELIVERY_STATUSES, 0)
    for status, count in session.execute(query.group_by(Delivery.status)):
        counts[status] = count
    return counts
