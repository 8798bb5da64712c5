"""generate_codes: validation, what is stored, uniqueness, all-or-nothing, bounded exhaustion."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from sqlalchemy import select

from shared.codes import generate_codes
from shared.errors import CodeSpaceExhausted, InvalidInput
from shared.models import CODE_TYPES, Code
from tests.shared.conftest import T0, ScriptedGenerator

FORMATS = {
    "creative": re.compile(r"[a-z]+-[a-z]+"),
    "alphanumeric": re.compile(r"[a-z0-9]{6}"),
    "numeric": re.compile(r"[0-9]{6}"),
}


def stored_codes(session_factory, project_id) -> list[Code]:
    with session_factory() as session:
        return list(session.scalars(select(Code).where(Code.project_id == project_id)))


@pytest.mark.parametrize("amount", [0, -1, 10_001])
def test_amount_outside_1_to_10000_is_invalid(session, project, amount):
    with pytest.raises(InvalidInput) as raised:
        generate_codes(session, project.id, amount=amount)
    assert set(raised.value.errors) == {"amount"}


def test_every_bad_field_is_named_at_once(session, project, clock):
    with pytest.raises(InvalidInput) as raised:
        generate_codes(
            session,
            project.id,
            amount=0,
            code_type="emoji",
            allowed_claims=0,
            valid_until=T0 - dt.timedelta(seconds=1),
            reserved_for="not-an-email",
        )
    assert set(raised.value.errors) == {
        "amount",
        "code_type",
        "allowed_claims",
        "valid_until",
        "reserved_for",
    }


def test_valid_until_in_the_past_is_invalid(session, project, clock):
    with pytest.raises(InvalidInput) as raised:
        generate_codes(session, project.id, amount=1, valid_until=T0)
    assert set(raised.value.errors) == {"valid_until"}


def test_valid_until_before_valid_from_is_invalid(session, project, clock):
    with pytest.raises(InvalidInput) as raised:
        generate_codes(
            session,
            project.id,
            amount=1,
            valid_from=T0 + dt.timedelta(days=2),
            valid_until=T0 + dt.timedelta(days=1),
        )
    assert set(raised.value.errors) == {"valid_until"}


def test_valid_from_may_be_in_the_past(session, project, clock):
    [record] = generate_codes(session, project.id, amount=1, valid_from=T0 - dt.timedelta(days=30))
    assert record.valid_from == T0 - dt.timedelta(days=30)


def test_every_field_is_stored(session, session_factory, project, clock):
    valid_from = T0 - dt.timedelta(hours=1)
    valid_until = T0 + dt.timedelta(days=7)
    records = generate_codes(
        session,
        project.id,
        amount=3,
        code_type="alphanumeric",
        allowed_claims=4,
        valid_from=valid_from,
        valid_until=valid_until,
        reserved_for="  Alice@Example.COM ",
        discord_guild_id=2**62,
        discord_role_id=2**61,
    )
    session.commit()

    stored = {code.code: code for code in stored_codes(session_factory, project.id)}
    assert sorted(stored) == sorted(record.code for record in records)
    for record in records:
        row = stored[record.code]
        assert (row.id, row.type, row.allowed_claims, row.claims) == (record.id, "alphanumeric", 4, 0)
        assert (row.valid_from, row.valid_until) == (valid_from, valid_until)
        assert row.reserved_for == record.reserved_for == "alice@example.com"
        assert (row.discord_guild_id, row.discord_role_id) == (2**62, 2**61)
        assert row.created_at == row.updated_at == record.created_at == T0


def test_defaults_are_creative_single_claim_without_window(session, project):
    [record] = generate_codes(session, project.id, amount=1)
    assert (record.type, record.allowed_claims, record.claims) == ("creative", 1, 0)
    assert record.valid_from is record.valid_until is record.reserved_for is None


@pytest.mark.parametrize("code_type", CODE_TYPES)
def test_each_type_stores_codes_of_its_format(session, session_factory, project, code_type):
    generate_codes(session, project.id, amount=50, code_type=code_type)
    session.commit()
    stored = stored_codes(session_factory, project.id)
    assert len(stored) == 50
    assert all(FORMATS[code_type].fullmatch(code.code) and code.type == code_type for code in stored)


def test_ten_thousand_codes_in_one_call(session, session_factory, project):
    started = time.perf_counter()
    records = generate_codes(session, project.id, amount=10_000, code_type="alphanumeric")
    session.commit()
    elapsed = time.perf_counter() - started

    assert len({record.code for record in records}) == 10_000
    assert len(stored_codes(session_factory, project.id)) == 10_000
    # One bulk statement takes well under a second; one INSERT per row would take several.
    assert elapsed < 5


def test_a_new_code_never_repeats_a_code_of_another_type(session, project):
    [numeric] = generate_codes(
        session, project.id, amount=1, code_type="numeric", generator=ScriptedGenerator(["123456"])
    )
    # The alphanumeric draw offers the numeric code first; it is skipped for a fresh one.
    generator = ScriptedGenerator(["123456", "abc123"])
    records = generate_codes(session, project.id, amount=1, code_type="alphanumeric", generator=generator)
    assert numeric.code == "123456"
    assert [record.code for record in records] == ["abc123"]


def test_codes_drawn_concurrently_by_another_request_are_replaced(session, project):
    generate_codes(
        session,
        project.id,
        amount=2,
        code_type="alphanumeric",
        generator=ScriptedGenerator(["aaaaaa", "bbbbbb"]),
    )
    # A generator that does not know about existing codes: ON CONFLICT skips them, later rounds refill.
    generator = ScriptedGenerator(["aaaaaa", "bbbbbb", "cccccc", "dddddd"])
    records = generate_codes(session, project.id, amount=2, code_type="alphanumeric", generator=generator)
    assert sorted(record.code for record in records) == ["cccccc", "dddddd"]


def test_the_same_code_may_exist_in_two_projects(session, project, make_project):
    other = make_project("other")
    for project_id in (project.id, other.id):
        [record] = generate_codes(
            session, project_id, amount=1, generator=ScriptedGenerator(["curious-pineapple"])
        )
        assert record.code == "curious-pineapple"


def test_a_request_that_cannot_be_filled_writes_nothing(session, session_factory, project):
    # Every draw repeats one code: the first round inserts it, later rounds find nothing new.
    generator = ScriptedGenerator(["aaaaaa"])
    with pytest.raises(CodeSpaceExhausted):
        generate_codes(session, project.id, amount=3, code_type="alphanumeric", generator=generator)
    session.rollback()
    assert stored_codes(session_factory, project.id) == []


def test_exhausted_space_is_answered_at_once_without_drawing(session, project):
    generator = ScriptedGenerator(alphanumeric=5)
    generate_codes(
        session,
        project.id,
        amount=3,
        code_type="alphanumeric",
        generator=ScriptedGenerator(["aaaaaa", "bbbbbb", "cccccc"]),
    )
    with pytest.raises(CodeSpaceExhausted) as raised:
        generate_codes(session, project.id, amount=3, code_type="alphanumeric", generator=generator)
    assert raised.value.code == "code_space_exhausted"
    assert "Only 2" in raised.value.message
    assert generator.draws == 0


def test_numeric_space_is_shared_with_six_digit_alphanumeric_codes(session, project):
    generate_codes(
        session,
        project.id,
        amount=2,
        code_type="alphanumeric",
        generator=ScriptedGenerator(["000001", "000002"]),
    )
    with pytest.raises(CodeSpaceExhausted):
        generate_codes(
            session, project.id, amount=9, code_type="numeric", generator=ScriptedGenerator(numeric=10)
        )


def test_a_nearly_full_numeric_space_yields_exactly_its_free_codes(session, session_factory, project):
    small = ScriptedGenerator(numeric=1_000)  # the codes 000000 .. 000999
    first = generate_codes(session, project.id, amount=990, code_type="numeric", generator=small)
    rest = generate_codes(session, project.id, amount=10, code_type="numeric", generator=small)
    with pytest.raises(CodeSpaceExhausted):
        generate_codes(session, project.id, amount=1, code_type="numeric", generator=small)
    session.rollback()

    codes = {record.code for record in first + rest}
    assert codes == {f"{i:06d}" for i in range(1_000)}
    assert stored_codes(session_factory, project.id) == []  # never committed


def test_max_amount_lowers_the_bound(session, project):
    with pytest.raises(InvalidInput) as raised:
        generate_codes(session, project.id, amount=11, max_amount=10)
    assert set(raised.value.errors) == {"amount"}


def test_aware_timestamps_are_stored_as_utc(session, project, clock):
    paris = dt.timezone(dt.timedelta(hours=1))
    until = dt.datetime(2100, 1, 1, 13, 0, tzinfo=paris)
    [code] = generate_codes(session, project.id, amount=1, valid_until=until)
    assert code.valid_until == dt.datetime(2100, 1, 1, 12, 0)


def test_numeric_room_is_not_taken_by_alphanumeric_codes(session, project):
    """Only numeric codes fill the numeric space: a project full of letters can still get digits."""
    generate_codes(
        session,
        project.id,
        amount=2,
        code_type="alphanumeric",
        generator=ScriptedGenerator(["ab12cd", "ef34gh"], numeric=2),
    )
    numeric = generate_codes(
        session, project.id, amount=2, code_type="numeric", generator=ScriptedGenerator(numeric=2)
    )
    assert sorted(c.code for c in numeric) == ["000000", "000001"]
