"""claim_code: success, normalisation, every refusal in its documented order, Discord claimants,
and the API's sequence: authenticate (a read), then claim in the same session."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from sqlalchemy import select

from shared.codes import claim_code, generate_codes, get_code
from shared.errors import (
    CodeAlreadyClaimed,
    CodeExpired,
    CodeFullyClaimed,
    CodeNotFound,
    CodeNotYetValid,
    CodeReserved,
    InvalidInput,
)
from shared.models import Claim
from shared.projects import ApiKey, authenticate
from tests.shared.conftest import T0, ScriptedGenerator

HOUR = dt.timedelta(hours=1)


def claims_of(session_factory, code_id) -> list[Claim]:
    with session_factory() as session:
        return list(session.scalars(select(Claim).where(Claim.code_id == code_id)))


def counter(session_factory, project_id, code) -> int:
    with session_factory() as session:
        return get_code(session, project_id, code).claims


# --- success ----------------------------------------------------------------------------------


def test_a_claim_counts_and_returns_a_token(session, session_factory, project, make_code, clock):
    code = make_code(allowed_claims=2)
    result = claim_code(session, project.id, code.code, email="alice@example.com")
    session.commit()

    assert re.fullmatch(r"[0-9a-f]{32}", result.token)
    assert result.email == "alice@example.com" and result.discord_user_id is None
    assert result.claimed_at == T0
    assert (result.code.id, result.code.claims, result.code.updated_at) == (code.id, 1, T0)
    [claim] = claims_of(session_factory, code.id)
    assert (claim.email, claim.project_id, claim.claimed_at) == ("alice@example.com", project.id, T0)
    # Only the token's digest is stored.
    assert claim.token_digest == hashlib.sha256(result.token.encode()).hexdigest()
    assert counter(session_factory, project.id, code.code) == 1


def test_the_claimed_code_carries_its_window_as_datetimes(session, project, make_code, clock):
    code = make_code(valid_from=T0 - HOUR, valid_until=T0 + HOUR)
    result = claim_code(session, project.id, code.code, email="alice@example.com")
    assert (result.code.valid_from, result.code.valid_until) == (T0 - HOUR, T0 + HOUR)
    assert result.code.created_at == code.created_at


def test_code_and_email_are_trimmed_and_compared_case_insensitively(
    session, session_factory, project, make_code
):
    code = make_code(generator=ScriptedGenerator(["curious-pineapple"]), reserved_for="alice@example.com")
    result = claim_code(session, project.id, "  Curious-PINEAPPLE \n", email=" Alice@EXAMPLE.com ")
    session.commit()
    assert result.email == "alice@example.com"
    assert [claim.email for claim in claims_of(session_factory, code.id)] == ["alice@example.com"]


def test_each_claimant_gets_its_own_token(session, project, make_code):
    code = make_code(allowed_claims=2)
    first = claim_code(session, project.id, code.code, email="alice@example.com")
    second = claim_code(session, project.id, code.code, email="bob@example.com")
    assert first.token != second.token
    assert second.code.claims == 2


@pytest.mark.parametrize(
    ("email", "code", "field"),
    [("not-an-email", "some-code", "email"), ("alice@example.com", "   ", "code")],
)
def test_malformed_input_is_invalid(session, project, email, code, field):
    with pytest.raises(InvalidInput) as raised:
        claim_code(session, project.id, code, email=email)
    assert set(raised.value.errors) == {field}


def test_a_claim_needs_a_claimant(session, project, make_code):
    code = make_code()
    with pytest.raises(InvalidInput):
        claim_code(session, project.id, code.code)


# --- refusals, one at a time ------------------------------------------------------------------


def test_unknown_code_is_not_found(session, project):
    with pytest.raises(CodeNotFound):
        claim_code(session, project.id, "no-such-code", email="alice@example.com")


def test_another_projects_code_is_not_found(session, session_factory, project, make_project, make_code):
    other = make_project("other")
    code = make_code(project_id=other.id)
    with pytest.raises(CodeNotFound):
        claim_code(session, project.id, code.code, email="alice@example.com")
    session.rollback()
    assert counter(session_factory, other.id, code.code) == 0


def test_a_code_reserved_for_another_email_is_refused(session, project, make_code):
    code = make_code(reserved_for="alice@example.com")
    with pytest.raises(CodeReserved):
        claim_code(session, project.id, code.code, email="bob@example.com")
    assert claim_code(session, project.id, code.code, email="alice@example.com").code.claims == 1


def test_the_same_email_cannot_claim_twice(session, session_factory, project, make_code):
    code = make_code(allowed_claims=3)
    claim_code(session, project.id, code.code, email="alice@example.com")
    session.commit()
    # The counter has room: the unique constraint refuses, and the rollback undoes the increment.
    with pytest.raises(CodeAlreadyClaimed):
        claim_code(session, project.id, code.code, email="ALICE@example.com")
    session.rollback()
    assert counter(session_factory, project.id, code.code) == 1
    assert len(claims_of(session_factory, code.id)) == 1


def test_a_code_before_its_window_is_not_yet_valid(session, project, make_code, clock):
    code = make_code(valid_from=T0 + HOUR)
    with pytest.raises(CodeNotYetValid):
        claim_code(session, project.id, code.code, email="alice@example.com")
    clock.advance(hours=1)
    assert claim_code(session, project.id, code.code, email="alice@example.com").claimed_at == T0 + HOUR


def test_a_code_past_its_window_is_expired(session, project, make_code, clock):
    code = make_code(valid_until=T0 + HOUR)
    clock.advance(minutes=59, seconds=59)
    claim_code(session, project.id, code.code, email="alice@example.com")
    clock.advance(seconds=1)  # valid_until itself is past the window
    with pytest.raises(CodeExpired):
        claim_code(session, project.id, code.code, email="bob@example.com")


def test_a_code_without_claims_left_is_fully_claimed(session, project, make_code):
    code = make_code(allowed_claims=2)
    claim_code(session, project.id, code.code, email="alice@example.com")
    claim_code(session, project.id, code.code, email="bob@example.com")
    with pytest.raises(CodeFullyClaimed):
        claim_code(session, project.id, code.code, email="carol@example.com")


# --- refusals that overlap: the documented order decides ---------------------------------------


def test_reserved_comes_before_expired(session, project, make_code, clock):
    code = make_code(reserved_for="alice@example.com", valid_until=T0 + HOUR)
    clock.advance(hours=2)
    with pytest.raises(CodeReserved):
        claim_code(session, project.id, code.code, email="bob@example.com")
    with pytest.raises(CodeExpired):
        claim_code(session, project.id, code.code, email="alice@example.com")


def test_reserved_comes_before_not_yet_valid(session, project, make_code, clock):
    code = make_code(reserved_for="alice@example.com", valid_from=T0 + HOUR)
    with pytest.raises(CodeReserved):
        claim_code(session, project.id, code.code, email="bob@example.com")


def test_reserved_comes_before_fully_claimed(session, project, make_code):
    code = make_code(reserved_for="alice@example.com")
    claim_code(session, project.id, code.code, email="alice@example.com")
    with pytest.raises(CodeReserved):
        claim_code(session, project.id, code.code, email="bob@example.com")
    with pytest.raises(CodeAlreadyClaimed):
        claim_code(session, project.id, code.code, email="alice@example.com")


def test_already_claimed_comes_before_fully_claimed(session, project, make_code):
    code = make_code()
    claim_code(session, project.id, code.code, email="alice@example.com")
    with pytest.raises(CodeAlreadyClaimed):
        claim_code(session, project.id, code.code, email="alice@example.com")
    with pytest.raises(CodeFullyClaimed):
        claim_code(session, project.id, code.code, email="bob@example.com")


def test_already_claimed_comes_before_expired(session, project, make_code, clock):
    code = make_code(allowed_claims=5, valid_until=T0 + HOUR)
    claim_code(session, project.id, code.code, email="alice@example.com")
    clock.advance(hours=2)
    with pytest.raises(CodeAlreadyClaimed):
        claim_code(session, project.id, code.code, email="alice@example.com")


def test_already_claimed_comes_before_not_yet_valid(session, project, make_code, clock):
    code = make_code(allowed_claims=5, valid_from=T0 + HOUR)
    clock.advance(hours=2)
    claim_code(session, project.id, code.code, email="alice@example.com")
    clock.advance(hours=-2)  # the clock moves back before the window
    with pytest.raises(CodeAlreadyClaimed):
        claim_code(session, project.id, code.code, email="alice@example.com")


def test_not_yet_valid_comes_before_fully_claimed(session, project, make_code, clock):
    code = make_code(valid_from=T0 + HOUR)
    clock.advance(hours=2)
    claim_code(session, project.id, code.code, email="alice@example.com")
    clock.advance(hours=-2)
    with pytest.raises(CodeNotYetValid):
        claim_code(session, project.id, code.code, email="bob@example.com")


def test_expired_comes_before_fully_claimed(session, project, make_code, clock):
    code = make_code(valid_until=T0 + HOUR)
    claim_code(session, project.id, code.code, email="alice@example.com")
    clock.advance(hours=2)
    with pytest.raises(CodeExpired):
        claim_code(session, project.id, code.code, email="bob@example.com")


# --- Discord members --------------------------------------------------------------------------


def test_a_discord_member_claims_without_an_email(session, session_factory, project, make_code):
    code = make_code(allowed_claims=3)
    result = claim_code(session, project.id, code.code, discord_user_id=2**60)
    session.commit()
    assert (result.email, result.discord_user_id, result.code.claims) == (None, 2**60, 1)
    [claim] = claims_of(session_factory, code.id)
    assert (claim.email, claim.discord_user_id) == (None, 2**60)


def test_a_discord_member_claims_a_code_once(session, session_factory, project, make_code):
    code = make_code(allowed_claims=3)
    claim_code(session, project.id, code.code, discord_user_id=42)
    session.commit()
    with pytest.raises(CodeAlreadyClaimed):
        claim_code(session, project.id, code.code, discord_user_id=42)
    session.rollback()
    # Nor with an email added: the member is the same claimant.
    with pytest.raises(CodeAlreadyClaimed):
        claim_code(session, project.id, code.code, email="member@example.com", discord_user_id=42)
    session.rollback()
    assert counter(session_factory, project.id, code.code) == 1
    claim_code(session, project.id, code.code, discord_user_id=43)


def test_a_discord_member_and_an_email_claimant_are_different_claimants(session, project, make_code):
    code = make_code(allowed_claims=2)
    claim_code(session, project.id, code.code, email="alice@example.com")
    assert claim_code(session, project.id, code.code, discord_user_id=42).code.claims == 2


def test_a_reserved_code_needs_the_email_from_a_discord_member(session, project, make_code):
    code = make_code(reserved_for="alice@example.com")
    with pytest.raises(CodeReserved):
        claim_code(session, project.id, code.code, discord_user_id=42)
    result = claim_code(session, project.id, code.code, email="Alice@example.com", discord_user_id=42)
    assert (result.email, result.discord_user_id) == ("alice@example.com", 42)


def test_refusals_for_a_discord_member_follow_the_same_order(session, project, make_code, clock):
    code = make_code(valid_until=T0 + HOUR)
    claim_code(session, project.id, code.code, discord_user_id=42)
    with pytest.raises(CodeAlreadyClaimed):
        claim_code(session, project.id, code.code, discord_user_id=42)
    with pytest.raises(CodeFullyClaimed):
        claim_code(session, project.id, code.code, discord_user_id=43)
    clock.advance(hours=2)
    with pytest.raises(CodeExpired):
        claim_code(session, project.id, code.code, discord_user_id=43)


def test_a_refused_repeat_claim_leaves_the_session_usable_and_the_counter_right(session, project):
    """Even a caller that commits after the refusal never stores a claim-less counter increment."""
    [code] = generate_codes(session, project.id, amount=1, allowed_claims=3)
    claim_code(session, project.id, code.code, email="a@example.com")
    session.commit()
    with pytest.raises(CodeAlreadyClaimed):
        claim_code(session, project.id, code.code, email="a@example.com")
    if session.get_bind().dialect.name == "postgresql":
        session.rollback()  # the caller's part after a refusal: it may have aborted a transaction
    session.commit()
    assert get_code(session, project.id, code.code).claims == 1


# --- after authenticating in the same session (the API's claims and lookups) ------------------


def test_a_claim_after_authenticating_is_in_the_keys_project_and_lasts(
    session, session_factory, project, make_code, clock
):
    code = make_code(allowed_claims=2)
    key = authenticate(session, project.keys.public_key)
    assert key == ApiKey(project_id=project.id, project_name=project.name, is_secret=False)
    result = claim_code(session, key.project_id, f" {code.code.upper()} ", email="Alice@Example.com")
    session.commit()
    assert (result.code.id, result.code.claims, result.email, result.claimed_at) == (
        code.id,
        1,
        "alice@example.com",
        T0,
    )
    [claim] = claims_of(session_factory, code.id)
    assert claim.project_id == project.id
    assert claim.token_digest == hashlib.sha256(result.token.encode()).hexdigest()


def test_a_claim_with_another_projects_key_is_not_found_and_touches_nothing(
    session, session_factory, project, make_project, make_code
):
    other = make_project("other")
    code = make_code(project_id=other.id)
    key = authenticate(session, project.keys.public_key)
    with pytest.raises(CodeNotFound):
        claim_code(session, key.project_id, code.code, email="alice@example.com")
    session.rollback()
    assert counter(session_factory, other.id, code.code) == 0


def test_refusals_after_authenticating_come_in_the_documented_order(session, project, make_code, clock):
    code = make_code(allowed_claims=1, valid_until=T0 + HOUR)
    project_id = authenticate(session, project.keys.public_key).project_id
    claim_code(session, project_id, code.code, email="alice@example.com")
    session.commit()
    for email, refusal in (("ALICE@example.com", CodeAlreadyClaimed), ("bob@example.com", CodeFullyClaimed)):
        project_id = authenticate(session, project.keys.public_key).project_id
        with pytest.raises(refusal):
            claim_code(session, project_id, code.code, email=email)
        session.rollback()
    clock.advance(hours=2)
    with pytest.raises(CodeExpired):
        claim_code(session, project_id, code.code, email="bob@example.com")


def test_a_lookup_after_authenticating_reads_the_keys_project(session, project, make_project, make_code):
    code = make_code()
    other = make_project("other")
    key = authenticate(session, project.keys.secret_key)
    assert get_code(session, key.project_id, code.code.upper()).id == code.id
    with pytest.raises(CodeNotFound):
        get_code(session, authenticate(session, other.keys.secret_key).project_id, code.code)
