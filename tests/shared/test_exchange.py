"""exchange_token: a claim token is verified once, within 60 seconds, by the project that claimed."""

from __future__ import annotations

import pytest

from shared.codes import claim_code, exchange_token
from shared.errors import TokenNotFound
from tests.shared.conftest import T0


@pytest.fixture
def claimed(session, project, make_code, clock):
    """A code claimed by alice at T0 and committed; the claim result."""
    code = make_code(allowed_claims=2)
    result = claim_code(session, project.id, code.code, email="Alice@example.com")
    session.commit()
    return result


def test_a_token_is_exchanged_once(session, project, claimed):
    exchanged = exchange_token(session, project.id, claimed.token)
    assert (exchanged.email, exchanged.discord_user_id) == ("alice@example.com", None)
    assert exchanged.claimed_at == T0
    assert exchanged.code.code == claimed.code.code
    session.commit()
    with pytest.raises(TokenNotFound):
        exchange_token(session, project.id, claimed.token)


def test_the_exchange_shows_the_code_as_it_is_now(session, project, claimed):
    claim_code(session, project.id, claimed.code.code, email="bob@example.com")
    session.commit()
    assert exchange_token(session, project.id, claimed.token).code.claims == 2


def test_a_token_lives_sixty_seconds(session, project, claimed, clock):
    clock.advance(seconds=60)
    exchange_token(session, project.id, claimed.token)


def test_a_token_older_than_sixty_seconds_is_not_found(session, project, claimed, clock):
    clock.advance(seconds=61)
    with pytest.raises(TokenNotFound):
        exchange_token(session, project.id, claimed.token)


def test_another_projects_attempt_is_not_found_and_leaves_the_token_usable(
    session, project, make_project, claimed
):
    other = make_project("other")
    with pytest.raises(TokenNotFound):
        exchange_token(session, other.id, claimed.token)
    session.commit()
    assert exchange_token(session, project.id, claimed.token).email == "alice@example.com"


@pytest.mark.parametrize("token", ["", "0" * 32, "not-a-token"])
def test_an_unknown_token_is_not_found(session, project, claimed, token):
    with pytest.raises(TokenNotFound):
        exchange_token(session, project.id, token)


def test_surrounding_whitespace_is_ignored(session, project, claimed):
    assert exchange_token(session, project.id, f"  {claimed.token}\n").email == "alice@example.com"


def test_a_discord_claim_exchanges_its_member(session, project, make_code):
    code = make_code()
    result = claim_code(session, project.id, code.code, discord_user_id=42)
    session.commit()  # each unit of work commits before the next
    exchanged = exchange_token(session, project.id, result.token)
    assert (exchanged.email, exchanged.discord_user_id) == (None, 42)
