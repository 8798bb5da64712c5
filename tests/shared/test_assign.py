"""assign_code hands out one code of a batch per person; batches count how far they went."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

import shared.codes.assign as assign_module
from shared.codes import (
    assign_code,
    claim_code,
    generate_codes,
    get_batch,
    import_codes,
    list_batches,
    list_codes,
)
from shared.errors import BatchExhausted, BatchNotFound, CodeReserved, InvalidInput
from shared.models import Code
from shared.transactions import begin_write
from tests.shared.conftest import T0
from tests.shared.test_claim_race import THREADS, run_at_once


def make_batch(session_factory, project_id, name="beta", amount=3, **options) -> list[str]:
    with session_factory() as session:
        records = generate_codes(session, project_id, amount=amount, batch=name, **options)
        session.commit()
    return [record.code for record in records]


def assigned(session_factory, project_id) -> list[tuple[str, str | None, int | None]]:
    with session_factory() as session:
        rows = session.execute(
            select(Code.code, Code.assigned_email, Code.assigned_discord_user_id)
            .where(Code.project_id == project_id, Code.assigned_at.is_not(None))
            .order_by(Code.code)
        )
        return [tuple(row) for row in rows]


def test_an_email_gets_a_code_of_the_batch_reserved_for_it(session, session_factory, project, clock):
    codes = make_batch(session_factory, project.id)
    result = assign_code(session, project.id, " beta ", email=" Ada@Example.com")
    session.commit()
    record = result.code
    assert result.new and record.code in codes
    assert (record.batch, record.assigned_email, record.reserved_for) == (
        "beta",
        "ada@example.com",
        "ada@example.com",
    )
    assert record.assigned_at == T0 and record.assigned_discord_user_id is None
    # Reserved: only that address can claim it.
    with pytest.raises(CodeReserved):
        claim_code(session, project.id, record.code, email="eve@example.com")
    session.rollback()
    assert claim_code(session, project.id, record.code, email="ada@example.com").code.claims == 1


def test_asking_again_gives_the_same_code(session, session_factory, project):
    make_batch(session_factory, project.id)
    first = assign_code(session, project.id, "beta", email="ada@example.com")
    session.commit()
    again = assign_code(session, project.id, "beta", email="ADA@example.com")
    session.commit()
    assert (again.new, again.code.code) == (False, first.code.code)
    assert len(assigned(session_factory, project.id)) == 1


def test_a_discord_member_is_recorded_by_id_and_the_code_stays_unreserved(session, session_factory, project):
    make_batch(session_factory, project.id)
    result = assign_code(session, project.id, "beta", discord_user_id=42)
    session.commit()
    assert (result.code.assigned_discord_user_id, result.code.reserved_for) == (42, None)
    assert assign_code(session, project.id, "beta", discord_user_id=42).code.code == result.code.code
    assert assign_code(session, project.id, "beta", discord_user_id=43).code.code != result.code.code


def test_each_person_once_per_batch_and_then_the_batch_is_exhausted(session, session_factory, project):
    make_batch(session_factory, project.id, amount=2)
    make_batch(session_factory, project.id, name="other", amount=1)
    given = {assign_code(session, project.id, "beta", email=f"u{n}@example.com").code.code for n in range(2)}
    session.commit()
    assert len(given) == 2
    with pytest.raises(BatchExhausted):
        assign_code(session, project.id, "beta", email="late@example.com")
    session.rollback()
    # One code in each batch for the same person.
    assert assign_code(session, project.id, "other", email="u0@example.com").new


def test_only_free_codes_are_handed_out(session, session_factory, project, clock):
    free = make_batch(session_factory, project.id, amount=1)[0]
    make_batch(session_factory, project.id, amount=1, reserved_for="someone@example.com")
    expiring = make_batch(session_factory, project.id, amount=1, valid_until=T0 + dt.timedelta(hours=1))[0]
    claimed = make_batch(session_factory, project.id, amount=1)[0]
    claim_code(session, project.id, claimed, email="taker@example.com")
    session.commit()
    clock.advance(hours=2)  # ``expiring`` has expired
    assert assign_code(session, project.id, "beta", email="a@example.com").code.code == free
    with pytest.raises(BatchExhausted):
        assign_code(session, project.id, "beta", email="b@example.com")
    assert expiring != free


def test_a_batch_not_yet_valid_is_handed_out_for_later(session, session_factory, project, clock):
    make_batch(session_factory, project.id, amount=1, valid_from=T0 + dt.timedelta(days=1))
    assert assign_code(session, project.id, "beta", email="a@example.com").new


def test_unknown_batches_and_bad_input(session, session_factory, project, make_project):
    make_batch(session_factory, make_project("other").id)  # another project's "beta"
    with pytest.raises(BatchNotFound):
        assign_code(session, project.id, "beta", email="a@example.com")
    session.rollback()
    with pytest.raises(InvalidInput) as refused:
        assign_code(session, project.id, "", email="not-an-email")
    assert set(refused.value.errors) == {"batch", "email"}
    with pytest.raises(InvalidInput):
        assign_code(session, project.id, "beta")
    with pytest.raises(InvalidInput):
        assign_code(session, project.id, "beta", email="a@example.com", discord_user_id=42)


def test_imported_codes_are_handed_out_too(session, project):
    import_codes(session, project.id, ["KEY-1"], batch="steam")
    session.commit()
    assert assign_code(session, project.id, "steam", email="a@example.com").code.code == "key-1"


def test_many_people_racing_for_a_small_batch_get_one_code_each(session_factory, project):
    make_batch(session_factory, project.id, amount=10)
    outcomes = run_at_once(
        session_factory,
        lambda session, n: assign_code(session, project.id, "beta", email=f"user{n}@example.com"),
        range(THREADS),
    )
    assert outcomes.count("ok") == 10 and outcomes.count("batch_exhausted") == THREADS - 10
    rows = assigned(session_factory, project.id)
    assert len(rows) == 10 and len({email for _, email, _ in rows}) == 10


def test_one_person_racing_themself_gets_one_code(session_factory, project):
    make_batch(session_factory, project.id, amount=THREADS)
    given = []

    def work(session, _):
        given.append(assign_code(session, project.id, "beta", email="same@example.com").code.code)

    outcomes = run_at_once(session_factory, work, range(THREADS))
    assert outcomes == ["ok"] * THREADS
    assert len(set(given)) == 1
    assert assigned(session_factory, project.id) == [(given[0], "same@example.com", None)]


# --- batches ----------------------------------------------------------------------------------


def test_batches_are_listed_by_name_with_their_counts(session, session_factory, project, clock):
    make_batch(session_factory, project.id, amount=4)
    make_batch(session_factory, project.id, name="alpha", amount=1)
    generate_codes(session, project.id, amount=2)  # no batch: not listed
    session.commit()
    [code, *_] = [assign_code(session, project.id, "beta", email=f"u{n}@example.com").code for n in range(2)]
    session.commit()
    claim_code(session, project.id, code.code, email="u0@example.com")
    session.commit()
    page = list_batches(session, project.id)
    assert [(b.name, b.total, b.unclaimed, b.assigned, b.claimed, b.available) for b in page.items] == [
        ("alpha", 1, 1, 0, 0, 1),
        ("beta", 4, 3, 2, 1, 2),
    ]
    # Expired codes are no longer available.
    session.commit()
    begin_write(session)
    session.execute(
        update(Code).where(Code.batch == "alpha").values(valid_until=T0 - dt.timedelta(seconds=1))
    )
    session.commit()
    assert get_batch(session, project.id, "alpha").available == 0


def test_batches_page_by_name(session, session_factory, project):
    for name in ("c", "a", "b"):
        make_batch(session_factory, project.id, name=name, amount=1)
    first = list_batches(session, project.id, limit=2)
    assert [b.name for b in first.items] == ["a", "b"] and first.next_cursor
    second = list_batches(session, project.id, limit=2, cursor=first.next_cursor)
    assert ([b.name for b in second.items], second.next_cursor) == (["c"], None)
    with pytest.raises(InvalidInput) as refused:
        list_batches(session, project.id, limit=0, cursor="nope")
    assert set(refused.value.errors) == {"limit", "cursor"}
    with pytest.raises(BatchNotFound):
        get_batch(session, project.id, "zzz")


def test_the_listing_filters_by_batch(session, session_factory, project):
    beta = set(make_batch(session_factory, project.id, amount=3))
    make_batch(session_factory, project.id, name="Beta", amount=2)  # names compare exactly
    assert {c.code for c in list_codes(session, project.id, batch="beta").items} == beta
    with pytest.raises(InvalidInput):
        list_codes(session, project.id, batch="?")
    with session_factory() as other:
        assert other.scalar(select(func.count()).select_from(Code)) == 5


def test_two_requests_for_one_person_that_both_took_a_code_end_with_one(
    session_factory, project, monkeypatch, database
):
    """The window the unique index closes: the first request has taken a code and not committed;
    the second finds no code for the person and takes another. Its UPDATE waits for the first and
    is refused; it answers with the first one's code. (SQLite's single writer never opens the
    window: the second request waits to begin, then finds the code.)"""
    make_batch(session_factory, project.id, amount=5)
    held_or_taken = assign_module._held_or_taken
    refused = []

    def recording(session, person, params):
        try:
            return held_or_taken(session, person, params)
        except IntegrityError:
            refused.append(params["email"])
            raise

    monkeypatch.setattr(assign_module, "_held_or_taken", recording)
    with session_factory() as first, ThreadPoolExecutor(max_workers=1) as pool:
        begin_write(first)
        mine = assign_code(first, project.id, "beta", email="same@example.com").code.code

        def second():
            with session_factory() as session:
                result = assign_code(session, project.id, "beta", email="same@example.com")
                session.commit()
                return result

        pending = pool.submit(second)
        time.sleep(0.5)
        assert not pending.done()
        first.commit()
        result = pending.result(timeout=10)
    assert (result.code.code, result.new) == (mine, False)
    assert refused == (["same@example.com"] if database.backend == "postgresql" else [])
    assert assigned(session_factory, project.id) == [(mine, "same@example.com", None)]


def test_a_code_held_by_a_request_that_gives_up_is_handed_out_not_called_exhausted(session_factory, project):
    [only] = make_batch(session_factory, project.id, amount=1)
    with session_factory() as first, ThreadPoolExecutor(max_workers=1) as pool:
        begin_write(first)  # a caller's transaction: the code stays locked until it ends
        assert assign_code(first, project.id, "beta", email="first@example.com").code.code == only

        def second():
            with session_factory() as session:
                result = assign_code(session, project.id, "beta", email="second@example.com")
                session.commit()
                return result.code.code

        pending = pool.submit(second)
        time.sleep(0.5)
        assert not pending.done()  # waiting for the first, not answering "exhausted"
        first.rollback()
        assert pending.result(timeout=10) == only
    assert assigned(session_factory, project.id) == [(only, "second@example.com", None)]


def test_taking_a_free_code_uses_the_unassigned_index_whatever_the_statistics(
    session_factory, project, database
):
    """With statistics that still say nothing is handed out (a big batch handed out faster than
    autovacuum analyses), no plan may walk the handed-out codes: only the index of free codes
    gives the order the statement asks for."""
    if database.backend != "postgresql":
        pytest.skip("SQLite's plan is checked by EXPLAIN QUERY PLAN below")
    for _ in range(3):
        make_batch(session_factory, project.id, amount=5_000, code_type="alphanumeric")
    with session_factory() as session:
        session.execute(text("ANALYZE codes"))
        session.execute(
            text(
                "UPDATE codes SET assigned_email = 'bulk' || id || '@example.com', assigned_at = created_at "
                "WHERE id IN (SELECT id FROM codes ORDER BY id LIMIT 10000)"
            )
        )
        session.commit()
        params = {
            "project_id": project.id,
            "batch": "beta",
            "email": "a@example.com",
            "discord_user_id": None,
        }
        plan = session.execute(
            text(f"EXPLAIN {assign_module._HELD_OR_TAKEN['email'].element.text}"), {**params, "now": T0}
        ).scalars()
        assert "Index Scan using ix_codes_unassigned" in "\n".join(plan)


def test_sqlite_takes_a_free_code_through_the_unassigned_index(session_factory, project, database):
    if database.backend != "sqlite":
        pytest.skip("PostgreSQL's plan is checked above")
    make_batch(session_factory, project.id, amount=50)
    with session_factory() as session:
        params = {
            "project_id": project.id,
            "batch": "beta",
            "email": "a@example.com",
            "discord_user_id": None,
        }
        plan = session.execute(
            text(f"EXPLAIN QUERY PLAN {assign_module._TAKE_SQLITE.element.text}"), {**params, "now": T0}
        ).all()
    assert any("USING INDEX ix_codes_unassigned" in row[-1] for row in plan), plan


def test_a_request_that_waited_for_the_last_code_answers_with_it_when_it_went_to_the_same_person(
    session_factory, project
):
    """The second request for one email finds no free code while the first holds the last one;
    once the first commits, the second answers with that code, not "exhausted"."""
    [only] = make_batch(session_factory, project.id, amount=1)
    with session_factory() as first, ThreadPoolExecutor(max_workers=1) as pool:
        begin_write(first)
        assert assign_code(first, project.id, "beta", email="same@example.com").new

        def second():
            with session_factory() as session:
                result = assign_code(session, project.id, "beta", email="same@example.com")
                session.commit()
                return result

        pending = pool.submit(second)
        time.sleep(0.5)
        assert not pending.done()
        first.commit()
        result = pending.result(timeout=10)
    assert (result.code.code, result.new) == (only, False)
    assert assigned(session_factory, project.id) == [(only, "same@example.com", None)]
