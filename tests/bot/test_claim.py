"""/claim: by Discord identity or by email, the role it grants, every refusal, the limit, the race."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from shared.codes import claim_code, generate_codes, get_code, list_claims
from shared.guilds import set_guild_config
from tests.bot.harness import (
    GUILD_ID,
    LOG_CHANNEL_ID,
    MANAGER,
    MEMBER,
    OTHER_GUILD_ID,
    OTHER_MEMBER,
    ROLE_REWARD,
    last_text,
    replies,
)

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def make_code(session_factory, project_id, **options) -> str:
    with session_factory() as session:
        [code] = generate_codes(session, project_id, amount=1, **options)
        session.commit()
    return code.code


def code_of(session_factory, project_id, value):
    with session_factory() as session:
        return get_code(session, project_id, value)


async def test_a_member_claims_a_code_by_their_discord_identity(harness, linked, session_factory):
    value = make_code(session_factory, linked.id, allowed_claims=2)
    calls = await harness.invoke("claim", MEMBER, code=f"  {value.upper()} ")
    assert calls[0].kind == "defer" and calls[0].ephemeral
    assert f"You claimed `{value}`" in last_text(calls)
    assert replies(calls)[-1].ephemeral
    assert code_of(session_factory, linked.id, value).claims == 1
    with session_factory() as session:
        [claim] = list_claims(session, linked.id, value).items
    assert (claim.discord_user_id, claim.email) == (MEMBER.id, None)
    assert harness.role_changes == []


async def test_a_claim_with_an_email_is_a_claim_by_email(harness, linked, session_factory):
    value = make_code(session_factory, linked.id, reserved_for="alice@example.com")
    calls = await harness.invoke("claim", MEMBER, code=value, email="Alice@Example.com")
    assert "You claimed" in last_text(calls)
    with session_factory() as session:
        [claim] = list_claims(session, linked.id, value).items
    assert (claim.email, claim.discord_user_id) == ("alice@example.com", MEMBER.id)


async def test_claiming_grants_the_code_role_and_logs_it(harness, linked, session_factory):
    with session_factory() as session:
        set_guild_config(session, GUILD_ID, log_channel_id=LOG_CHANNEL_ID)
        session.commit()
    value = make_code(session_factory, linked.id, discord_guild_id=GUILD_ID, discord_role_id=ROLE_REWARD)
    calls = await harness.invoke("claim", MEMBER, code=value)
    assert f"You now have the <@&{ROLE_REWARD}> role" in last_text(calls)
    assert harness.role_changes == [("add", GUILD_ID, MEMBER.id, ROLE_REWARD)]
    [(channel, message)] = harness.channel_messages
    # The log channel names the code masked, so nobody reading it can redeem it.
    assert channel == LOG_CHANNEL_ID and f"claimed `{value[:4]}…` (1/1)" in message["content"]
    assert value not in message["content"]


async def test_a_role_from_another_server_is_not_granted_here(harness, linked, session_factory):
    value = make_code(
        session_factory, linked.id, discord_guild_id=OTHER_GUILD_ID, discord_role_id=ROLE_REWARD
    )
    calls = await harness.invoke("claim", MEMBER, code=value)
    assert "You claimed" in last_text(calls) and "role" not in last_text(calls)
    assert harness.role_changes == []


async def test_a_role_that_cannot_be_granted_keeps_the_claim_and_says_so(harness, linked, session_factory):
    value = make_code(session_factory, linked.id, discord_guild_id=GUILD_ID, discord_role_id=ROLE_REWARD)
    harness.failing_role_grants = True
    calls = await harness.invoke("claim", MEMBER, code=value)
    assert "You claimed" in last_text(calls) and "couldn't give you the" in last_text(calls)
    assert code_of(session_factory, linked.id, value).claims == 1


async def test_a_reserved_code_without_an_email_explains_how_to_claim_it(harness, linked, session_factory):
    value = make_code(session_factory, linked.id, reserved_for="alice@example.com")
    calls = await harness.invoke("claim", MEMBER, code=value)
    assert "reserved for an email address" in last_text(calls) and "`email`" in last_text(calls)
    assert "alice@example.com" not in last_text(calls)


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("unknown", "I couldn't find that code"),
        ("not_yet_valid", "can't be claimed yet"),
        ("expired", "has expired"),
        ("fully_claimed", "no claims left"),
        ("already_claimed", "already claimed this code"),
        ("reserved_other", "reserved for someone else"),
    ],
)
async def test_every_refusal_is_a_friendly_private_sentence(
    harness, linked, session_factory, clock_at, setup, expected
):
    clock = clock_at(NOW)
    options = {
        "not_yet_valid": {"valid_from": NOW.replace(tzinfo=None) + dt.timedelta(hours=1)},
        "expired": {"valid_until": NOW.replace(tzinfo=None) + dt.timedelta(hours=1)},
        "reserved_other": {"reserved_for": "bob@example.com"},
    }.get(setup, {})
    value = make_code(session_factory, linked.id, **options)
    email = None
    if setup == "unknown":
        value = "no-such-code"
    elif setup == "expired":
        clock.advance(hours=2)
    elif setup in ("fully_claimed", "already_claimed"):
        with session_factory() as session:
            claimant = OTHER_MEMBER.id if setup == "fully_claimed" else MEMBER.id
            claim_code(session, linked.id, value, discord_user_id=claimant)
            session.commit()
    elif setup == "reserved_other":
        email = "alice@example.com"
    calls = await harness.invoke("claim", MEMBER, code=value, **({"email": email} if email else {}))
    assert expected in last_text(calls)
    assert replies(calls)[-1].ephemeral


async def test_failed_attempts_are_limited_per_member(harness, linked, session_factory, clock_at):
    clock = clock_at(NOW)
    value = make_code(session_factory, linked.id)
    for attempt in range(5):
        calls = await harness.invoke("claim", MEMBER, code=f"guess-{attempt}")
        assert "couldn't find that code" in last_text(calls)
        clock.advance(seconds=5)
    # Even the right code waits: nobody learns whether a guess would have worked.
    calls = await harness.invoke("claim", MEMBER, code=value)
    assert "Too many failed attempts. Try again in 35 seconds." in last_text(calls)
    assert code_of(session_factory, linked.id, value).claims == 0
    # Another member is not affected.
    assert "couldn't find" in last_text(await harness.invoke("claim", OTHER_MEMBER, code="guess"))
    # Once the oldest failure is a minute old, the member may try again.
    clock.advance(seconds=35)
    assert "You claimed" in last_text(await harness.invoke("claim", MEMBER, code=value))


async def test_two_members_racing_for_the_last_claim_cannot_both_win(harness, linked, session_factory):
    value = make_code(session_factory, linked.id, allowed_claims=1)
    first, second = await asyncio.gather(
        harness.invoke("claim", MEMBER, code=value), harness.invoke("claim", OTHER_MEMBER, code=value)
    )
    outcomes = sorted([last_text(first), last_text(second)])
    assert "no claims left" in outcomes[0] and "You claimed" in outcomes[1]
    assert code_of(session_factory, linked.id, value).claims == 1


async def test_claim_answers_only_in_a_server(harness, linked):
    calls = await harness.invoke("claim", MEMBER, guild_id=None, code="anything")
    assert "only in a server" in last_text(calls)
    calls = await harness.invoke("codes info", MANAGER, guild_id=None, code="anything")
    assert "only in a server" in last_text(calls)


@pytest.mark.parametrize("value", ["abc\x00", "a\ud800b"], ids=["nul", "lone-surrogate"])
async def test_a_code_no_database_could_hold_is_a_private_sentence_not_an_error(harness, linked, value):
    calls = await harness.invoke("claim", MEMBER, code=value)
    assert "Must not contain NUL or unpaired surrogate characters." in last_text(calls)
    assert replies(calls)[-1].ephemeral
