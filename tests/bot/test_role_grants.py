"""A role grant that failed is finished later: by the member's /claim again, or /codes regrant."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from shared.codes import claim_code, generate_codes, get_code
from shared.guilds import link_guild_to_project, set_guild_config
from shared.models import DiscordClaimFailure
from shared.role_grants import pending_role_grants
from tests.bot.harness import (
    GUILD_ID,
    LOG_CHANNEL_ID,
    MANAGER,
    MEMBER,
    OTHER_GUILD_ID,
    OTHER_MEMBER,
    ROLE_MANAGER_MEMBER,
    ROLE_REWARD,
    SEND_MESSAGES,
    last_text,
)

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
GRANT = ("add", GUILD_ID, MEMBER.id, ROLE_REWARD)


def make_code(session_factory, project_id, **options) -> str:
    options.setdefault("discord_guild_id", GUILD_ID)
    options.setdefault("discord_role_id", ROLE_REWARD)
    with session_factory() as session:
        [code] = generate_codes(session, project_id, amount=1, allowed_claims=5, **options)
        session.commit()
    return code.code


def owed(session_factory, project_id, value) -> list[int]:
    with session_factory() as session:
        return pending_role_grants(session, project_id, value)[1]


def failures(session_factory) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(DiscordClaimFailure))


def log_to_channel(session_factory):
    with session_factory() as session:
        set_guild_config(session, GUILD_ID, log_channel_id=LOG_CHANNEL_ID)
        session.commit()


async def test_claim_again_grants_the_role_a_failed_grant_owed(harness, linked, session_factory):
    value = make_code(session_factory, linked.id)
    harness.failing_role_grants = True  # 50013 Missing Permissions
    calls = await harness.invoke("claim", MEMBER, code=value)
    text = last_text(calls)
    assert "You claimed" in text and "couldn't give you the" in text
    # No log channel: nobody was told, so the member isn't told somebody was.
    assert "staff have been told" not in text
    assert "run `/claim` with this code again later" in text
    assert owed(session_factory, linked.id, value) == [MEMBER.id]

    harness.failing_role_grants = False
    calls = await harness.invoke("claim", MEMBER, code=value)
    assert f"You had already claimed `{value}`. You now have the <@&{ROLE_REWARD}> role." in last_text(calls)
    assert harness.role_changes == [GRANT]
    assert owed(session_factory, linked.id, value) == []
    with session_factory() as session:
        assert get_code(session, linked.id, value).claims == 1
    assert failures(session_factory) == 0

    # Once granted, another /claim is what it always was: already claimed, a failed attempt.
    calls = await harness.invoke("claim", MEMBER, code=value)
    assert "You've already claimed this code." in last_text(calls)
    assert failures(session_factory) == 1 and harness.role_changes == [GRANT]


async def test_staff_are_told_only_through_a_log_channel_that_took_the_message(
    harness, linked, session_factory
):
    log_to_channel(session_factory)
    value = make_code(session_factory, linked.id)
    harness.failing_role_grants = True
    calls = await harness.invoke("claim", MEMBER, code=value)
    assert "The server staff have been told." in last_text(calls)
    [(channel, line)] = harness.channel_messages
    assert channel == LOG_CHANNEL_ID
    assert "Missing Permissions (50013)" in line["content"] and "/codes regrant" in line["content"]

    harness.forbidden_channels.add(LOG_CHANNEL_ID)
    calls = await harness.invoke("claim", OTHER_MEMBER, code=value)
    assert "couldn't give you the" in last_text(calls) and "staff have been told" not in last_text(calls)


async def test_a_member_owed_a_role_gets_it_even_while_limited(harness, linked, session_factory, clock_at):
    clock_at(NOW)
    value = make_code(session_factory, linked.id)
    harness.failing_role_grants = True
    await harness.invoke("claim", MEMBER, code=value)
    for attempt in range(5):
        await harness.invoke("claim", MEMBER, code=f"guess-{attempt}")
    assert "Too many failed attempts" in last_text(await harness.invoke("claim", MEMBER, code="guess"))
    harness.failing_role_grants = False
    calls = await harness.invoke("claim", MEMBER, code=value)
    assert "You now have the" in last_text(calls)
    assert failures(session_factory) == 5


async def test_regrant_gives_the_role_to_everyone_missing_it(harness, linked, session_factory):
    log_to_channel(session_factory)
    value = make_code(session_factory, linked.id)
    harness.failing_role_grants = True
    for person in (MEMBER, OTHER_MEMBER):
        await harness.invoke("claim", person, code=value)
    with session_factory() as session:
        # Claimed through the API by email: no member to grant a role to.
        claim_code(session, linked.id, value, email="web@example.com")
        session.commit()
    assert owed(session_factory, linked.id, value) == [MEMBER.id, OTHER_MEMBER.id]

    # The bot still can't: nothing changes, the managers are told why.
    calls = await harness.invoke("codes regrant", MANAGER, code=value)
    assert "2 still could not get it" in last_text(calls) and "50013" in last_text(calls)
    assert owed(session_factory, linked.id, value) == [MEMBER.id, OTHER_MEMBER.id]

    harness.failing_role_grants = False
    calls = await harness.invoke("codes regrant", MANAGER, code=value)
    assert f"Granted <@&{ROLE_REWARD}> to 2 members who were missing it." in last_text(calls)
    assert harness.role_changes == [GRANT, ("add", GUILD_ID, OTHER_MEMBER.id, ROLE_REWARD)]
    assert owed(session_factory, linked.id, value) == []
    assert "granted <@&" in harness.channel_messages[-1][1]["content"]

    calls = await harness.invoke("codes regrant", MANAGER, code=value)
    assert "Everyone who claimed this code here has been given" in last_text(calls)


async def test_regrant_refuses_what_it_cannot_do(harness, linked, session_factory):
    no_role = make_code(session_factory, linked.id, discord_guild_id=None, discord_role_id=None)
    assert "grants no role" in last_text(await harness.invoke("codes regrant", MANAGER, code=no_role))
    elsewhere = make_code(session_factory, linked.id, discord_guild_id=OTHER_GUILD_ID)
    calls = await harness.invoke("codes regrant", MANAGER, code=elsewhere)
    assert "belongs to another server" in last_text(calls)
    value = make_code(session_factory, linked.id)
    harness.reload_guild(bot_permissions=SEND_MESSAGES)
    calls = await harness.invoke("codes regrant", MANAGER, code=value)
    assert "I need the **Manage Roles** permission" in last_text(calls)
    assert "Only members" in last_text(await harness.invoke("codes regrant", MEMBER, code=value))
    assert harness.role_changes == []


async def test_a_claim_in_another_server_owes_no_role_here(harness, linked, session_factory):
    value = make_code(session_factory, linked.id, discord_guild_id=OTHER_GUILD_ID)
    with session_factory() as session:
        link_guild_to_project(session, OTHER_GUILD_ID, linked.name)
        session.commit()
    calls = await harness.invoke("claim", MEMBER, code=value)
    assert "You claimed" in last_text(calls) and "role" not in last_text(calls)
    assert owed(session_factory, linked.id, value) == []
    assert "Only members" in last_text(await harness.invoke("codes regrant", ROLE_MANAGER_MEMBER, code=value))


async def test_a_claim_and_the_grant_it_owes_commit_together(harness, linked, session_factory, monkeypatch):
    import bot.claiming as claiming

    value = make_code(session_factory, linked.id)

    def broken(*_args):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(claiming, "open_role_grant", broken)
    calls = await harness.invoke("claim", MEMBER, code=value)
    assert "Something went wrong on my side" in last_text(calls)
    with session_factory() as session:
        assert get_code(session, linked.id, value).claims == 0
    assert harness.role_changes == []
