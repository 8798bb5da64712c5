"""send_from_batch: one code of a batch to each recipient, handed out and queued together."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shared.codes import assign_code, generate_codes, send_from_batch
from shared.errors import BatchNotFound, InvalidInput
from shared.models import Code, Delivery


def make_batch(session, project_id, amount):
    codes = generate_codes(session, project_id, amount=amount, batch="beta")
    session.commit()
    return {code.code for code in codes}


def deliveries(session_factory) -> list[tuple[str, str]]:
    with session_factory() as session:
        return [
            tuple(row) for row in session.execute(select(Delivery.email, Delivery.code).order_by(Delivery.id))
        ]


def test_each_recipient_gets_their_own_code_by_email(session, session_factory, project):
    batch = make_batch(session, project.id, 3)
    result = send_from_batch(session, project.id, "beta", ["A@example.com", "b@example.com", "a@example.com"])
    session.commit()
    assert (result.received, result.notified, result.skipped) == (2, 2, [])
    sent = deliveries(session_factory)
    assert [email for email, _ in sent] == ["a@example.com", "b@example.com"]
    assert len({code for _, code in sent}) == 2 and {code for _, code in sent} <= batch
    with session_factory() as check:
        held = dict(
            check.execute(select(Code.assigned_email, Code.code).where(Code.assigned_at.is_not(None))).all()
        )
    assert held == {email: code for email, code in sent}


def test_sending_again_queues_nothing_twice_and_keeps_earlier_assignments(session, session_factory, project):
    make_batch(session, project.id, 3)
    earlier = assign_code(session, project.id, "beta", email="ada@example.com").code.code
    session.commit()
    first = send_from_batch(session, project.id, "beta", ["ada@example.com"])
    session.commit()
    assert first.notified == 1 and deliveries(session_factory) == [("ada@example.com", earlier)]
    again = send_from_batch(session, project.id, "beta", ["ada@example.com", "bob@example.com"])
    session.commit()
    assert again.notified == 1
    assert [(s.email, s.reason) for s in again.skipped] == [("ada@example.com", "already_sent")]


def test_when_the_batch_runs_out_the_rest_are_skipped(session, session_factory, project):
    make_batch(session, project.id, 2)
    emails = [f"u{n}@example.com" for n in range(4)]
    result = send_from_batch(session, project.id, "beta", emails)
    session.commit()
    assert result.notified == 2
    assert [(s.email, s.reason) for s in result.skipped] == [
        ("u2@example.com", "batch_exhausted"),
        ("u3@example.com", "batch_exhausted"),
    ]
    assert len(deliveries(session_factory)) == 2


def test_bad_addresses_and_unknown_batches_change_nothing(session, session_factory, project):
    make_batch(session, project.id, 2)
    with pytest.raises(InvalidInput) as refused:
        send_from_batch(session, project.id, "beta", ["ok@example.com", "nope"])
    assert set(refused.value.errors) == {"emails.1"}
    with pytest.raises(BatchNotFound):
        send_from_batch(session, project.id, "gamma", ["ok@example.com"])
    session.rollback()
    assert deliveries(session_factory) == []
    with pytest.raises(InvalidInput):
        send_from_batch(session, project.id, "beta", [])
