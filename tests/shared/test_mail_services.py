"""Mail services: a project's templates and claim URL, deliveries listed and counted."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from shared.codes import send_code
from shared.errors import CodeNotFound, InvalidInput, ProjectNotFound
from shared.mail.message import MailTemplates
from shared.mail.services import (
    delivery_counts,
    get_mail_settings,
    list_deliveries,
    set_claim_url,
    set_template,
)
from shared.models import Delivery


def test_set_template_stores_each_part_and_empty_restores_the_default(session_factory, project):
    with session_factory() as session:
        set_template(
            session, "acme", subject="{{project}}: {{code}}", text="Code {{code}}", html="<p>{{code}}</p>"
        )
        session.commit()
    with session_factory() as session:
        assert get_mail_settings(session, "acme").templates == MailTemplates(
            "{{project}}: {{code}}", "Code {{code}}", "<p>{{code}}</p>"
        )
        set_template(session, "acme", text="")
        session.commit()
    with session_factory() as session:
        templates = get_mail_settings(session, "acme").templates
        assert templates == MailTemplates("{{project}}: {{code}}", None, "<p>{{code}}</p>")
        set_template(session, "acme", reset=True, subject="New {{code}}")
        session.commit()
    with session_factory() as session:
        assert get_mail_settings(session, "acme").templates == MailTemplates("New {{code}}", None, None)


def test_unknown_placeholder_is_refused_and_nothing_changes(session_factory, project):
    with session_factory() as session:
        set_template(session, "acme", subject="Old {{code}}")
        session.commit()
    with session_factory() as session:
        with pytest.raises(InvalidInput) as error:
            set_template(session, "acme", subject="New {{code}}", html="<p>{{first_name}}</p>")
        assert list(error.value.errors) == ["html"]
        assert "{{first_name}}" in error.value.errors["html"][0]
        session.rollback()
    with session_factory() as session:
        assert get_mail_settings(session, "acme").templates.subject == "Old {{code}}"


def test_claim_url_is_validated_stored_and_cleared(session_factory, project):
    with session_factory() as session:
        with pytest.raises(InvalidInput):
            set_claim_url(session, "acme", "mailto:someone@example.com")
        set_claim_url(session, "acme", "https://acme.test/claim/{code}")
        session.commit()
    with session_factory() as session:
        assert get_mail_settings(session, "acme").claim_url == "https://acme.test/claim/{code}"
        set_claim_url(session, "acme", None)
        session.commit()
    with session_factory() as session:
        assert get_mail_settings(session, "acme").claim_url is None


def test_unknown_project_is_not_found(session_factory, project):
    with session_factory() as session, pytest.raises(ProjectNotFound):
        set_template(session, "nope", subject="x")


def _send(session_factory, project_id, code, emails):
    with session_factory() as session:
        result = send_code(session, project_id, code, emails)
        session.commit()
    return result


def test_list_deliveries_newest_first_in_pages(session_factory, project, make_code):
    code = make_code()
    emails = [f"lead{i}@example.com" for i in range(5)]
    _send(session_factory, project.id, code.code, emails)
    with session_factory() as session:
        first = list_deliveries(session, project.id, f"  {code.code.upper()} ", limit=2)
        second = list_deliveries(session, project.id, code.code, limit=2, cursor=first.next_cursor)
        third = list_deliveries(session, project.id, code.code, limit=2, cursor=second.next_cursor)
    seen = [d.email for page in (first, second, third) for d in page.items]
    assert seen == list(reversed(emails))
    assert third.next_cursor is None
    item = first.items[0]
    assert (item.status, item.attempts, item.last_error, item.sent_at) == ("queued", 0, None, None)
    assert item.next_attempt_at is not None


def test_list_deliveries_refuses_bad_paging_and_other_projects_codes(
    session_factory, project, make_project, make_code
):
    code = make_code()
    other = make_project("other")
    with session_factory() as session:
        with pytest.raises(InvalidInput) as error:
            list_deliveries(session, project.id, code.code, limit=101, cursor="???")
        assert set(error.value.errors) == {"limit", "cursor"}
        with pytest.raises(CodeNotFound):
            list_deliveries(session, other.id, code.code)
        with pytest.raises(CodeNotFound):
            list_deliveries(session, project.id, "no-such-code")


def test_delivery_counts_by_status_per_code_and_per_project(session_factory, project, make_code):
    first, second = make_code(), make_code()
    _send(session_factory, project.id, first.code, ["a@example.com", "b@example.com", "c@example.com"])
    _send(session_factory, project.id, second.code, ["d@example.com"])
    with session_factory() as session:
        session.execute(update(Delivery).where(Delivery.email == "a@example.com").values(status="sent"))
        session.execute(update(Delivery).where(Delivery.email == "b@example.com").values(status="failed"))
        session.commit()
    with session_factory() as session:
        assert delivery_counts(session, project.id, first.code) == {
            "queued": 1,
            "sending": 0,
            "sent": 1,
            "failed": 1,
            "cancelled": 0,
        }
        assert delivery_counts(session, project.id) == {
            "queued": 2,
            "sending": 0,
            "sent": 1,
            "failed": 1,
            "cancelled": 0,
        }
        with pytest.raises(CodeNotFound):
            delivery_counts(session, project.id, "no-such-code")
