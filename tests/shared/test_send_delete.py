"""send_code queues deliveries for whoever could claim; delete_code removes a code and what hangs on it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from shared.codes import claim_code, delete_code, get_code, send_code
from shared.errors import CodeExpired, CodeFullyClaimed, CodeNotFound, InvalidInput
from shared.models import Claim, Code, Delivery
from tests.shared.conftest import T0

HOUR = dt.timedelta(hours=1)


def deliveries(session_factory) -> list[Delivery]:
    with session_factory() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


# --- send -------------------------------------------------------------------------------------


def test_each_recipient_is_queued_once_compared_case_insensitively(
    session, session_factory, project, make_code, clock
):
    code = make_code()
    result = send_code(
        session,
        project.id,
        f" {code.code.upper()} ",
        ["Alice@Example.com", " alice@example.COM", "bob@example.com"],
    )
    session.commit()

    assert (result.received, result.notified, result.skipped) == (2, 2, [])
    stored = deliveries(session_factory)
    assert [d.id for d in stored] == result.delivery_ids
    assert [d.email for d in stored] == ["alice@example.com", "bob@example.com"]
    for delivery in stored:
        assert (delivery.project_id, delivery.code_id, delivery.code) == (project.id, code.id, code.code)
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("queued", 0, T0)


def test_a_reserved_code_is_sent_only_to_its_address(session, project, make_code):
    code = make_code(reserved_for="alice@example.com")
    result = send_code(session, project.id, code.code, ["bob@example.com", "ALICE@example.com"])
    assert (result.received, result.notified) == (2, 1)
    assert [(s.email, s.reason) for s in result.skipped] == [("bob@example.com", "code_reserved")]


def test_who_already_claimed_is_skipped(session, project, make_code):
    code = make_code(allowed_claims=3)
    claim_code(session, project.id, code.code, email="alice@example.com")
    session.commit()  # each unit of work commits before the next
    result = send_code(session, project.id, code.code, ["alice@example.com", "bob@example.com"])
    assert (result.received, result.notified) == (2, 1)
    assert [(s.email, s.reason) for s in result.skipped] == [("alice@example.com", "code_already_claimed")]


def test_every_recipient_skipped_is_still_a_result(session, session_factory, project, make_code):
    code = make_code(reserved_for="alice@example.com")
    result = send_code(session, project.id, code.code, ["bob@example.com"])
    session.commit()
    assert (result.received, result.notified, result.delivery_ids) == (1, 0, [])
    assert deliveries(session_factory) == []


def test_an_expired_code_is_not_sent(session, project, make_code, clock):
    code = make_code(valid_until=T0 + HOUR)
    clock.advance(hours=1)
    with pytest.raises(CodeExpired):
        send_code(session, project.id, code.code, ["alice@example.com"])


def test_a_fully_claimed_code_is_not_sent(session, project, make_code):
    code = make_code()
    claim_code(session, project.id, code.code, email="alice@example.com")
    session.commit()
    with pytest.raises(CodeFullyClaimed):
        send_code(session, project.id, code.code, ["bob@example.com"])


def test_a_code_not_yet_valid_may_be_sent(session, project, make_code, clock):
    code = make_code(valid_from=T0 + HOUR)
    assert send_code(session, project.id, code.code, ["alice@example.com"]).notified == 1


def test_an_invalid_address_queues_nothing(session, session_factory, project, make_code):
    code = make_code()
    with pytest.raises(InvalidInput) as raised:
        send_code(session, project.id, code.code, ["alice@example.com", "nope", "bob@", "carol@example.com"])
    assert set(raised.value.errors) == {"emails.1", "emails.2"}
    session.commit()
    assert deliveries(session_factory) == []


@pytest.mark.parametrize("count", [0, 1001])
def test_between_1_and_1000_addresses_are_accepted(session, project, make_code, count):
    code = make_code()
    with pytest.raises(InvalidInput) as raised:
        send_code(session, project.id, code.code, [f"user{i}@example.com" for i in range(count)])
    assert set(raised.value.errors) == {"emails"}


def test_a_thousand_addresses_are_queued(session, session_factory, project, make_code):
    code = make_code()
    result = send_code(session, project.id, code.code, [f"user{i}@example.com" for i in range(1000)])
    session.commit()
    assert result.notified == len(result.delivery_ids) == len(deliveries(session_factory)) == 1000


def test_sending_another_projects_code_is_not_found(session, project, make_project, make_code):
    code = make_code(project_id=make_project("other").id)
    with pytest.raises(CodeNotFound):
        send_code(session, project.id, code.code, ["alice@example.com"])


# --- delete -----------------------------------------------------------------------------------


def test_delete_removes_claims_and_unsent_deliveries_and_keeps_sent_ones(
    session, session_factory, project, make_code
):
    code = make_code(allowed_claims=3)
    claim_code(session, project.id, code.code, email="alice@example.com")
    session.commit()  # each unit of work commits before the next
    sent = send_code(session, project.id, code.code, ["bob@example.com", "carol@example.com"])
    session.execute(update(Delivery).where(Delivery.id == sent.delivery_ids[1]).values(status="sent"))
    session.commit()

    result = delete_code(session, project.id, f" {code.code.upper()}")
    session.commit()

    assert (result.code.id, result.code.claims) == (code.id, 1)  # as it was before deletion
    assert (result.claims_deleted, result.deliveries_removed, result.role_holders) == (1, 1, [])
    with session_factory() as check:
        assert check.get(Code, code.id) is None
        assert check.scalars(select(Claim)).all() == []
    [kept] = deliveries(session_factory)
    assert (kept.email, kept.status, kept.code) == ("carol@example.com", "sent", code.code)
    assert kept.code_id is None


def test_delete_returns_the_discord_members_holding_the_role(session, project, make_code):
    code = make_code(allowed_claims=5, discord_guild_id=1, discord_role_id=2)
    for member in (42, 43):
        claim_code(session, project.id, code.code, discord_user_id=member)
    claim_code(session, project.id, code.code, email="alice@example.com")
    session.commit()  # each unit of work commits before the next
    assert sorted(delete_code(session, project.id, code.code).role_holders) == [42, 43]


def test_delete_of_a_code_without_a_role_returns_no_holders(session, project, make_code):
    code = make_code(allowed_claims=5)
    claim_code(session, project.id, code.code, discord_user_id=42)
    session.commit()  # each unit of work commits before the next
    assert delete_code(session, project.id, code.code).role_holders == []


def test_deleting_an_unknown_code_is_not_found(session, project):
    with pytest.raises(CodeNotFound):
        delete_code(session, project.id, "no-such-code")


def test_deleting_another_projects_code_is_not_found_and_keeps_it(session, project, make_project, make_code):
    other = make_project("other")
    code = make_code(project_id=other.id)
    with pytest.raises(CodeNotFound):
        delete_code(session, project.id, code.code)
    assert get_code(session, other.id, code.code).id == code.id


def test_a_deleted_code_can_no_longer_be_claimed(session, project, make_code):
    code = make_code()
    delete_code(session, project.id, code.code)
    with pytest.raises(CodeNotFound):
        claim_code(session, project.id, code.code, email="alice@example.com")
