"""/codes delete: the confirmation (confirm, cancel, someone else, timeout) and the roles taken back."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.codes import claim_code, generate_codes, get_code
from shared.errors import CodeNotFound
from tests.bot.harness import (
    CHANNEL_ID,
    GUILD_ID,
    MANAGER,
    MEMBER,
    OTHER_GUILD_ID,
    OTHER_MEMBER,
    ROLE_MANAGER_MEMBER,
    ROLE_REWARD,
    last_text,
    replies,
)


def make_code(session_factory, project_id, claimants=(), **options) -> str:
    with session_factory() as session:
        [code] = generate_codes(session, project_id, amount=1, allowed_claims=5, **options)
        for user_id in claimants:
            claim_code(session, project_id, code.code, discord_user_id=user_id)
        session.commit()
    return code.code


def exists(session_factory, project_id, value) -> bool:
    with session_factory() as session:
        try:
            get_code(session, project_id, value)
        except CodeNotFound:
            return False
        return True


async def ask(harness, value):
    calls = await harness.invoke("codes delete", MANAGER, code=value)
    question = replies(calls)[-1]
    assert question.ephemeral and set(question.buttons) == {"Delete", "Cancel"}
    return question


async def test_confirm_deletes_the_code_and_takes_back_its_role(harness, linked, session_factory):
    value = make_code(
        session_factory,
        linked.id,
        claimants=[MEMBER.id, OTHER_MEMBER.id],
        discord_guild_id=GUILD_ID,
        discord_role_id=ROLE_REWARD,
    )
    # OTHER_MEMBER also holds the role through another code: they keep it.
    make_code(
        session_factory,
        linked.id,
        claimants=[OTHER_MEMBER.id],
        discord_guild_id=GUILD_ID,
        discord_role_id=ROLE_REWARD,
    )
    question = await ask(harness, value)
    assert "Delete `" in question.content and "lose that role" in question.content
    assert exists(session_factory, linked.id, value)

    calls = await harness.click(question, "Delete", MANAGER)
    assert calls[0].kind == "update" and all(b["disabled"] for b in calls[0].buttons.values())
    assert f"Deleted `{value}`: 2 claims removed, role taken back from 1 member." in last_text(calls)
    assert not exists(session_factory, linked.id, value)
    assert harness.role_changes == [("remove", GUILD_ID, MEMBER.id, ROLE_REWARD)]


async def test_cancel_deletes_nothing(harness, linked, session_factory):
    value = make_code(session_factory, linked.id, claimants=[MEMBER.id])
    calls = await harness.click(await ask(harness, value), "Cancel", MANAGER)
    assert "Cancelled. Nothing was changed." in last_text(calls)
    assert exists(session_factory, linked.id, value)


async def test_only_the_invoker_can_press(harness, linked, session_factory):
    value = make_code(session_factory, linked.id)
    question = await ask(harness, value)
    calls = await harness.click(question, "Delete", ROLE_MANAGER_MEMBER)
    assert "Only the person who ran this command" in last_text(calls)
    assert replies(calls)[-1].ephemeral
    assert exists(session_factory, linked.id, value)
    # The invoker still can.
    await harness.click(question, "Delete", MANAGER)
    assert not exists(session_factory, linked.id, value)


async def test_the_confirmation_disables_itself_on_timeout(harness, linked, session_factory):
    harness.bot.confirm_timeout = 0.05
    value = make_code(session_factory, linked.id)
    question = await ask(harness, value)
    await harness.wait_for(lambda: harness.wire[-1].kind == "edit")
    edit = harness.wire[-1]
    assert edit.message_id == question.message_id
    assert "No answer in time" in edit.content
    assert all(button["disabled"] for button in edit.buttons.values())
    assert exists(session_factory, linked.id, value)
    # A late press finds nothing listening.
    assert await harness.click(question, "Delete", MANAGER) == []
    assert exists(session_factory, linked.id, value)


@pytest.mark.parametrize("value", ["no-such-code", "   "])
async def test_deleting_an_unknown_code_asks_nothing(harness, linked, value):
    calls = await harness.invoke("codes delete", MANAGER, code=value)
    assert not replies(calls)[-1].buttons
    assert "couldn't find that code" in last_text(calls) or "**code**" in last_text(calls)


async def test_a_code_whose_role_lives_in_another_server_is_not_deleted_here(
    harness, linked, session_factory
):
    value = make_code(
        session_factory,
        linked.id,
        claimants=[MEMBER.id],
        discord_guild_id=OTHER_GUILD_ID,
        discord_role_id=ROLE_REWARD,
    )
    calls = await harness.invoke("codes delete", MANAGER, code=value)
    assert "grants a role in another server" in last_text(calls)
    assert not replies(calls)[-1].buttons
    assert exists(session_factory, linked.id, value) and harness.role_changes == []


async def test_taking_roles_back_shows_progress(harness, linked, session_factory):
    harness.bot.progress_interval = 0
    members = [MEMBER.id, OTHER_MEMBER.id, ROLE_MANAGER_MEMBER.id]
    value = make_code(
        session_factory, linked.id, claimants=members, discord_guild_id=GUILD_ID, discord_role_id=ROLE_REWARD
    )
    calls = await harness.click(await ask(harness, value), "Delete", MANAGER)
    shown = [call.content for call in replies(calls)]
    assert shown[0] == "Working on it…"
    assert [text for text in shown if "taking the role back" in text] == [
        f"Deleted `{value}`; taking the role back: {done} of 3 members…" for done in (1, 2, 3)
    ]
    assert shown[-1] == f"Deleted `{value}`: 3 claims removed, role taken back from 3 members."


async def test_a_delete_that_outlives_its_token_reports_in_the_channel(
    harness, linked, session_factory, clock_at
):
    clock = clock_at(dt.datetime.now(dt.UTC))
    harness.bot.progress_interval = 0
    members = [MEMBER.id, OTHER_MEMBER.id, ROLE_MANAGER_MEMBER.id]
    value = make_code(
        session_factory, linked.id, claimants=members, discord_guild_id=GUILD_ID, discord_role_id=ROLE_REWARD
    )
    question = await ask(harness, value)
    remove = harness.bot.http.remove_role.side_effect

    async def slow_remove(*args, **kwargs):
        await remove(*args, **kwargs)
        # Discord's rate limits stretch a big delete past the button token's 15 minutes.
        clock.advance(minutes=8)

    harness.bot.http.remove_role.side_effect = slow_remove
    calls = await harness.click(question, "Delete", MANAGER)
    assert not exists(session_factory, linked.id, value)
    assert len([c for c in harness.role_changes if c[0] == "remove"]) == 3
    # The token was never used once spent, and the result is where the manager can read it.
    assert harness.refused_tokens == []
    assert [call.content for call in replies(calls)] == [
        "Working on it…",
        f"Deleted `{value}`; taking the role back: 1 of 3 members…",
    ]
    [(channel, result)] = harness.channel_messages
    assert channel == CHANNEL_ID
    assert result["content"] == (
        f"<@{MANAGER.id}> Deleted `{value}`: 3 claims removed, role taken back from 3 members."
    )
    assert result["allowed_mentions"] == {"parse": [], "users": [MANAGER.id]}


async def test_a_confirmed_delete_that_fails_replaces_working_on_it(
    harness, linked, session_factory, monkeypatch
):
    import bot.cogs.codes.delete as delete_module

    value = make_code(session_factory, linked.id)
    question = await ask(harness, value)

    def broken(*_args, **_kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(delete_module, "delete_code", broken)
    calls = await harness.click(question, "Delete", MANAGER)
    assert [call.kind for call in calls] == ["update", "edit"]
    assert "Something went wrong on my side" in calls[-1].content
    assert calls[-1].buttons == {} and exists(session_factory, linked.id, value)
