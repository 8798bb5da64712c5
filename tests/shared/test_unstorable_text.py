"""NUL and unpaired surrogates never reach a database: every domain call that takes a code (the
API, the claim page and the bot all go through them) refuses it as InvalidInput without a single
statement; an exchanged token holding one is simply unknown. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from shared import codes
from shared.errors import InvalidInput, TokenNotFound
from shared.mail.services import list_deliveries
from shared.records import decode_cursor
from shared.validation import TIMESTAMP_RANGE_RULE, UNSTORABLE_RULE, parse_timestamp

UNSTORABLE = ["abc\x00", "\x00", "a\ud800b", "\udfff"]

CALLS = {
    "get": lambda s, p, code: codes.get_code(s, p, code),
    "claim by email": lambda s, p, code: codes.claim_code(s, p, code, email="a@example.com"),
    "claim by member": lambda s, p, code: codes.claim_code(s, p, code, discord_user_id=42, source="bot"),
    "claim with that email": lambda s, p, code: codes.claim_code(
        s, p, "some-code", email=code + "@example.com"
    ),
    "send": lambda s, p, code: codes.send_code(s, p, code, ["a@example.com"]),
    "delete": lambda s, p, code: codes.delete_code(s, p, code),
    "claims": lambda s, p, code: codes.list_claims(s, p, code),
    "deliveries": lambda s, p, code: list_deliveries(s, p, code),
}


@pytest.fixture
def statements(engine):
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("value", UNSTORABLE, ids=["nul", "only-nul", "surrogate", "low-surrogate"])
@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_a_code_with_nul_or_a_lone_surrogate_is_refused_before_the_database(
    call, value, session, project, statements
):
    with pytest.raises(InvalidInput) as refused:
        CALLS[call](session, project.id, value)
    assert UNSTORABLE_RULE in str(refused.value.errors) or "Not a valid email address." in str(
        refused.value.errors
    )
    assert statements == []


@pytest.mark.parametrize("token", ["a\ud800", "\x00" * 32])
def test_an_unstorable_token_is_unknown_without_a_statement(token, session, project, statements):
    with pytest.raises(TokenNotFound):
        codes.exchange_token(session, project.id, token)
    assert statements == []


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"])
def test_timestamps_outside_years_1_to_9999_in_utc_are_invalid_input(value):
    with pytest.raises(InvalidInput) as refused:
        parse_timestamp(value, "valid_until")
    assert refused.value.errors == {"valid_until": [TIMESTAMP_RANGE_RULE]}


@pytest.mark.parametrize(
    "cursor",
    ["djE6OTIyMzM3MjAzNjg1NDc3NTgwOA", "djE6MA", "djE6LTE", "djE6KzE", "djE6IDE", "djE6" + "OTk5" * 2000],
    ids=["2**63", "zero", "negative", "plus-sign", "space", "10,000 digits"],
)
def test_cursors_outside_row_ids_are_invalid(cursor):
    with pytest.raises(InvalidInput) as refused:
        decode_cursor(cursor)
    assert refused.value.errors == {"cursor": ["Not a valid cursor."]}
