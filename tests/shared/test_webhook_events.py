"""Webhook events are written by the change itself, in its transaction (a transactional outbox),
and fanned out to the endpoints that subscribe; endpoint URLs are checked against SSRF."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from shared.codes import claim_code, delete_code, generate_codes
from shared.errors import CodeAlreadyClaimed, CodeFullyClaimed, InvalidInput, TooManyWebhooks, WebhookNotFound
from shared.models import WebhookDelivery, WebhookEvent
from shared.transactions import begin_read, begin_write
from shared.webhooks import endpoints, outbox
from shared.webhooks.endpoints import MAX_ENDPOINTS, add_endpoint
from shared.webhooks.events import record_event
from tests.webhook_receiver import register

URL = "http://127.0.0.1:9/hooks"
WINDOW = dt.timedelta(days=3)


def events(session_factory) -> list[WebhookEvent]:
    with session_factory() as session:
        begin_read(session)
        return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


def test_a_committed_claim_has_exactly_one_event_and_a_refused_or_rolled_back_one_none(
    session_factory, project, make_code
):
    code = make_code(allowed_claims=1)
    register(session_factory, project.id, URL)
    with session_factory() as session:
        # In a transaction the caller opened (on PostgreSQL the claim alone commits itself).
        begin_write(session)
        claim_code(session, project.id, code.code, email="rolled@example.com")
        session.rollback()
    assert events(session_factory) == []
    with session_factory() as session:
        claim_code(session, project.id, code.code, email="Ada@Example.com", source="page")
        session.commit()
    with session_factory() as session, pytest.raises(CodeAlreadyClaimed):
        claim_code(session, project.id, code.code, email="ada@example.com")
    with session_factory() as session, pytest.raises(CodeFullyClaimed):
        claim_code(session, project.id, code.code, email="late@example.com")
    [event] = events(session_factory)
    assert event.type == "code.claimed"
    assert event.project_id == project.id
    assert event.data["claim"]["email"] == "ada@example.com"
    assert event.data["claim"]["source"] == "page"
    assert event.data["code"]["code"] == code.code
    assert event.data["code"]["claims"] == 1


def test_a_project_without_endpoints_writes_no_events(session_factory, project, make_code, make_project):
    other = make_project("other")
    register(session_factory, other.id, URL)
    code = make_code()
    with session_factory() as session:
        begin_write(session)  # one unit of work: the claim commits with what follows
        claim_code(session, project.id, code.code, email="ada@example.com")
        generate_codes(session, project.id, amount=3)
        delete_code(session, project.id, code.code)
        session.commit()
    assert events(session_factory) == []


def test_one_code_created_event_per_generate_request_with_all_its_codes(session_factory, project):
    register(session_factory, project.id, URL)
    with session_factory() as session:
        created = generate_codes(session, project.id, amount=25, code_type="numeric", allowed_claims=3)
        session.commit()
    [event] = events(session_factory)
    assert event.type == "code.created"
    assert sorted(c["code"] for c in event.data["codes"]) == sorted(c.code for c in created)
    assert {c["allowed_claims"] for c in event.data["codes"]} == {3}


def test_deleting_a_code_writes_code_deleted_with_the_code_as_it_was(session_factory, project, make_code):
    code = make_code(allowed_claims=5)
    register(session_factory, project.id, URL)
    with session_factory() as session:
        begin_write(session)  # one unit of work: the claim commits with what follows
        claim_code(session, project.id, code.code, discord_user_id=42, source="bot")
        delete_code(session, project.id, code.code)
        session.commit()
    claimed, deleted = events(session_factory)
    assert claimed.data["claim"]["discord_user_id"] == 42
    assert claimed.data["claim"]["email"] is None
    assert deleted.type == "code.deleted"
    assert deleted.data["code"]["claims"] == 1
    assert deleted.data["claims_deleted"] == 1


def test_an_unknown_claim_source_is_refused(session, project, make_code):
    with pytest.raises(InvalidInput) as refused:
        claim_code(session, project.id, make_code().code, email="ada@example.com", source="fax")
    assert list(refused.value.errors) == ["source"]


def test_dispatch_makes_one_delivery_per_subscribed_endpoint(session_factory, project, make_code):
    code = make_code()
    claims_only = register(session_factory, project.id, URL, ["code.claimed"]).endpoint
    everything = register(session_factory, project.id, "http://127.0.0.1:10/all").endpoint
    with session_factory() as session:
        begin_write(session)  # one unit of work: the claim commits with what follows
        claim_code(session, project.id, code.code, email="ada@example.com")
        delete_code(session, project.id, code.code)
        session.commit()
    with session_factory() as session, session.begin():
        assert outbox.dispatch(session, now=dt.datetime(2030, 1, 1), limit=100, retry_window=WINDOW) == 2
        assert outbox.dispatch(session, now=dt.datetime(2030, 1, 1), limit=100, retry_window=WINDOW) == 0
    with session_factory() as session:
        begin_read(session)
        pairs = session.execute(
            select(WebhookDelivery.endpoint_id, WebhookEvent.type).join(
                WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id
            )
        ).all()
    assert sorted(pairs) == sorted(
        [(claims_only.id, "code.claimed"), (everything.id, "code.claimed"), (everything.id, "code.deleted")]
    )


def test_an_endpoint_never_hears_of_its_own_failed_delivery(session_factory, project):
    failing = register(session_factory, project.id, URL).endpoint
    watcher = register(session_factory, project.id, "http://127.0.0.1:10/watch", ["delivery.failed"]).endpoint
    with session_factory() as session, session.begin():
        record_event(
            session,
            project.id,
            "delivery.failed",
            {"endpoint_id": failing.id, "url": URL, "event_id": "x", "event_type": "code.claimed"},
        )
        outbox.dispatch(session, now=dt.datetime(2030, 1, 1), limit=10, retry_window=WINDOW)
    with session_factory() as session:
        begin_read(session)
        assert list(session.scalars(select(WebhookDelivery.endpoint_id))) == [watcher.id]


def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def points_inside(host: str, port: int) -> list[str]:
    return ["10.1.2.3"]


@pytest.mark.parametrize(
    ("url", "resolver", "complaint"),
    [
        ("http://hooks.example.com/x", public, "https"),
        ("ftp://hooks.example.com/x", public, "https"),
        ("https://127.0.0.1/x", None, "private"),
        ("https://localhost:8443/x", None, "private"),
        ("https://[::1]/x", None, "private"),
        ("https://169.254.169.254/latest/meta-data", None, "private"),
        ("https://[::ffff:10.0.0.1]/x", None, "private"),
        ("https://hooks.example.com/x", points_inside, "private"),
        ("https://user:pw@hooks.example.com/x", public, "password"),
        ("https://hooks.example.com/x#frag", public, "fragment"),
        ("https://hooks.example.com/" + "x" * 2000, public, "2000"),
        ("https:///nohost", public, "https"),
        ("not a url", public, "https"),
    ],
)
def test_urls_that_are_not_https_on_a_public_address_are_refused(session, project, url, resolver, complaint):
    with pytest.raises(InvalidInput) as refused:
        add_endpoint(session, project.id, url, allow_private=False, resolver=resolver)
    [message] = refused.value.errors["url"]
    assert complaint in message


def test_an_unresolvable_host_is_refused_with_a_clear_message(session, project):
    def nowhere(host, port):
        raise OSError("Name or service not known")

    with pytest.raises(InvalidInput) as refused:
        add_endpoint(session, project.id, "https://nowhere.invalid/x", allow_private=False, resolver=nowhere)
    assert "could not be resolved" in refused.value.errors["url"][0]


def test_https_on_a_public_address_is_accepted_and_private_ones_only_when_allowed(session_factory, project):
    created = register(session_factory, project.id, " https://hooks.example.com/codes?x=1 ", resolver=public)
    assert created.endpoint.url == "https://hooks.example.com/codes?x=1"
    assert created.secret.startswith("whsec_")
    assert created.endpoint.events == ["code.created", "code.claimed", "code.deleted", "delivery.failed"]
    assert register(session_factory, project.id, "http://127.0.0.1:8080/x").endpoint.health == "healthy"


def test_events_must_be_known_and_not_empty(session, project):
    with pytest.raises(InvalidInput) as refused:
        add_endpoint(session, project.id, URL, ["code.claimed", "code.exploded"], allow_private=True)
    assert list(refused.value.errors) == ["events"]
    with pytest.raises(InvalidInput):
        add_endpoint(session, project.id, URL, [], allow_private=True)


def test_a_project_has_at_most_16_endpoints(session_factory, project):
    for number in range(MAX_ENDPOINTS):
        register(session_factory, project.id, f"http://127.0.0.1:9/{number}")
    with session_factory() as session, pytest.raises(TooManyWebhooks):
        add_endpoint(session, project.id, URL, allow_private=True)


def test_another_projects_endpoint_is_not_found(session_factory, project, make_project):
    theirs = register(session_factory, make_project("theirs").id, URL).endpoint
    with session_factory() as session:
        for action in (endpoints.remove_endpoint, endpoints.rotate_secret):
            with pytest.raises(WebhookNotFound):
                action(session, project.id, theirs.id)
        with pytest.raises(WebhookNotFound):
            endpoints.enable_endpoint(session, project.id, theirs.id, retry_window=WINDOW)


def test_removing_an_endpoint_removes_its_deliveries(session_factory, project, make_code):
    endpoint = register(session_factory, project.id, URL).endpoint
    with session_factory() as session:
        claim_code(session, project.id, make_code().code, email="ada@example.com")
        session.commit()
    with session_factory() as session, session.begin():
        outbox.dispatch(session, now=dt.datetime(2030, 1, 1), limit=10, retry_window=WINDOW)
    with session_factory() as session:
        endpoints.remove_endpoint(session, project.id, endpoint.id)
        session.commit()
    with session_factory() as session:
        begin_read(session)
        assert session.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one() == 0
