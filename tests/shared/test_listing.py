"""list_codes and list_claims: newest first, cursor pages without gaps or repeats, every filter."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from shared.clock import utcnow
from shared.codes import claim_code, generate_codes, list_claims, list_codes
from shared.errors import CodeNotFound, InvalidInput
from shared.records import encode_cursor
from tests.shared.conftest import T0, ScriptedGenerator

HOUR = dt.timedelta(hours=1)


def every_page(fetch, **options) -> list[list]:
    """Follow the cursors from the first page to the last; each page's items."""
    pages, cursor = [], None
    while True:
        page = fetch(cursor=cursor, **options)
        pages.append(page.items)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def codes_of(items) -> list[str]:
    return [item.code for item in items]


# --- order and pages --------------------------------------------------------------------------


def test_codes_are_listed_newest_first(session, project):
    batches = [generate_codes(session, project.id, amount=3) for _ in range(3)]
    items = list_codes(session, project.id).items
    assert [item.id for item in items] == sorted((r.id for b in batches for r in b), reverse=True)
    assert set(codes_of(items[:3])) == set(codes_of(batches[-1]))


def test_cursor_pages_cover_every_code_once(session, project):
    created = generate_codes(session, project.id, amount=25)
    pages = every_page(lambda **kw: list_codes(session, project.id, **kw), limit=10)
    assert [len(page) for page in pages] == [10, 10, 5]
    listed = [item.id for page in pages for item in page]
    assert listed == sorted((r.id for r in created), reverse=True)


def test_an_exactly_full_last_page_has_no_next_cursor(session, project):
    generate_codes(session, project.id, amount=20)
    pages = every_page(lambda **kw: list_codes(session, project.id, **kw), limit=10)
    assert [len(page) for page in pages] == [10, 10]


def test_codes_created_between_pages_do_not_shift_the_next_page(session, project):
    older = generate_codes(session, project.id, amount=4)
    first = list_codes(session, project.id, limit=2)
    generate_codes(session, project.id, amount=3)
    second = list_codes(session, project.id, limit=2, cursor=first.next_cursor)
    assert [item.id for item in first.items + second.items] == sorted((r.id for r in older), reverse=True)
    assert second.next_cursor is None


def test_the_default_page_holds_twenty(session, project):
    generate_codes(session, project.id, amount=21)
    page = list_codes(session, project.id)
    assert len(page.items) == 20 and page.next_cursor is not None


def test_another_projects_codes_are_not_listed(session, project, make_project):
    generate_codes(session, make_project("other").id, amount=3)
    mine = generate_codes(session, project.id, amount=2)
    assert sorted(codes_of(list_codes(session, project.id).items)) == sorted(codes_of(mine))


# --- filters ----------------------------------------------------------------------------------


@pytest.fixture
def codes_in_every_status(session, project, clock):
    """Codes created at T0, looked at from T0 + 2h: each name is the status it should have."""

    def make(**options):
        [record] = generate_codes(session, project.id, amount=1, **options)
        return record.code

    codes = {
        "active": make(),
        "active_window": make(valid_from=T0 + HOUR, valid_until=T0 + 10 * HOUR),
        "expired": make(valid_until=T0 + HOUR),
        "expired_and_full": make(valid_until=T0 + HOUR),
        "full": make(),
        "full_and_started": make(valid_from=T0 + HOUR, allowed_claims=2),
        "not_yet_valid": make(valid_from=T0 + 5 * HOUR),
    }
    claim_code(session, project.id, codes["expired_and_full"], email="alice@example.com")
    claim_code(session, project.id, codes["full"], email="alice@example.com")
    clock.advance(hours=1)
    for email in ("alice@example.com", "bob@example.com"):
        claim_code(session, project.id, codes["full_and_started"], email=email)
    clock.advance(hours=1)
    return codes


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("active", {"active", "active_window"}),
        ("expired", {"expired", "expired_and_full"}),
        ("fully_claimed", {"full", "full_and_started"}),
        ("not_yet_valid", {"not_yet_valid"}),
    ],
)
def test_status_filter(session, project, codes_in_every_status, status, expected):
    items = list_codes(session, project.id, status=status).items
    assert set(codes_of(items)) == {codes_in_every_status[name] for name in expected}
    assert {item.status(utcnow()) for item in items} == {status}


def test_the_status_filter_pages_like_the_unfiltered_list(session, project, codes_in_every_status):
    pages = every_page(lambda **kw: list_codes(session, project.id, **kw), limit=1, status="expired")
    assert [len(page) for page in pages] == [1, 1]


def test_a_code_expires_at_valid_until_and_starts_at_valid_from(session, project, clock):
    [ending] = generate_codes(session, project.id, amount=1, valid_until=T0 + HOUR)
    [starting] = generate_codes(session, project.id, amount=1, valid_from=T0 + HOUR)
    clock.advance(hours=1)
    assert codes_of(list_codes(session, project.id, status="expired").items) == [ending.code]
    assert codes_of(list_codes(session, project.id, status="active").items) == [starting.code]


def test_type_filter(session, project):
    numeric = generate_codes(session, project.id, amount=2, code_type="numeric")
    generate_codes(session, project.id, amount=2, code_type="alphanumeric")
    generate_codes(session, project.id, amount=2)
    items = list_codes(session, project.id, code_type="numeric").items
    assert sorted(codes_of(items)) == sorted(codes_of(numeric))


def test_reserved_for_filter_ignores_case(session, project):
    reserved = generate_codes(session, project.id, amount=2, reserved_for="alice@example.com")
    generate_codes(session, project.id, amount=1, reserved_for="bob@example.com")
    generate_codes(session, project.id, amount=1)
    items = list_codes(session, project.id, reserved_for=" ALICE@example.com").items
    assert sorted(codes_of(items)) == sorted(codes_of(reserved))


def test_prefix_filter_is_case_insensitive_and_literal(session, project):
    names = ["spring-sale", "spring-fling", "summer-sale", "s_ring-thing", "100%-off"]
    generate_codes(session, project.id, amount=len(names), generator=ScriptedGenerator(names))

    def listed(prefix):
        return sorted(codes_of(list_codes(session, project.id, prefix=prefix).items))

    assert listed(" SPRING") == ["spring-fling", "spring-sale"]
    assert listed("s_") == ["s_ring-thing"]  # "_" is not a wildcard
    assert listed("100%") == ["100%-off"]
    assert listed("%") == []
    assert len(listed("")) == len(names)


def test_filters_combine(session, project):
    wanted = generate_codes(
        session, project.id, amount=2, code_type="numeric", reserved_for="alice@example.com"
    )
    generate_codes(session, project.id, amount=2, code_type="numeric")
    generate_codes(session, project.id, amount=2, reserved_for="alice@example.com")
    items = list_codes(
        session, project.id, code_type="numeric", reserved_for="alice@example.com", status="active"
    ).items
    assert sorted(codes_of(items)) == sorted(codes_of(wanted))


# --- bad input --------------------------------------------------------------------------------

forged_cursor = base64.urlsafe_b64encode(b"v2:5").decode()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"cursor": "***"}, "cursor"),
        ({"cursor": forged_cursor}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b"v1:x").decode()}, "cursor"),
        ({"status": "bogus"}, "status"),
        ({"code_type": "emoji"}, "code_type"),
        ({"reserved_for": "not-an-email"}, "reserved_for"),
    ],
)
def test_bad_list_input_is_invalid(session, project, options, field):
    with pytest.raises(InvalidInput) as raised:
        list_codes(session, project.id, **options)
    assert set(raised.value.errors) == {field}


def test_limit_100_is_allowed(session, project):
    generate_codes(session, project.id, amount=101)
    assert len(list_codes(session, project.id, limit=100).items) == 100


# --- claims -----------------------------------------------------------------------------------


@pytest.fixture
def claimed_five_times(session, project, clock):
    [code] = generate_codes(session, project.id, amount=1, allowed_claims=10)
    for number in range(5):
        clock.advance(seconds=1)
        claim_code(session, project.id, code.code, email=f"user{number}@example.com")
    claim_code(session, project.id, code.code, discord_user_id=42)
    session.commit()  # other sessions may write next (SQLite has one writer at a time)
    return code


def test_claims_are_listed_newest_first(session, project, claimed_five_times):
    items = list_claims(session, project.id, claimed_five_times.code).items
    assert [(c.email, c.discord_user_id) for c in items[:2]] == [(None, 42), ("user4@example.com", None)]
    assert [c.email for c in items[1:]] == [f"user{n}@example.com" for n in reversed(range(5))]
    assert [c.claimed_at for c in items[2:]] == sorted((c.claimed_at for c in items[2:]), reverse=True)


def test_claim_pages_cover_every_claim_once(session, project, claimed_five_times):
    pages = every_page(
        lambda **kw: list_claims(session, project.id, f" {claimed_five_times.code.upper()}", **kw), limit=4
    )
    assert [len(page) for page in pages] == [4, 2]
    emails = [claim.email for page in pages for claim in page]
    assert emails == [None] + [f"user{n}@example.com" for n in reversed(range(5))]


def test_a_code_without_claims_lists_none(session, project):
    [code] = generate_codes(session, project.id, amount=1)
    page = list_claims(session, project.id, code.code)
    assert (page.items, page.next_cursor) == ([], None)


@pytest.mark.parametrize(
    ("options", "field"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"cursor": "***"}, "cursor")],
)
def test_bad_claim_list_input_is_invalid(session, project, claimed_five_times, options, field):
    with pytest.raises(InvalidInput) as raised:
        list_claims(session, project.id, claimed_five_times.code, **options)
    assert set(raised.value.errors) == {field}


def test_claims_of_an_unknown_or_foreign_code_are_not_found(session, make_project, claimed_five_times):
    other = make_project("other")
    for code in ("no-such-code", claimed_five_times.code):
        with pytest.raises(CodeNotFound):
            list_claims(session, other.id, code)


def test_a_cursor_is_opaque_and_stable(session, project):
    assert encode_cursor(12345) == encode_cursor(12345)
    assert "12345" not in encode_cursor(12345)
