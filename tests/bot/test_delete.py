"""/codes delete: the confirmation (confirm, cancel, someone else, timeout) and the roles taken back."""

from __future__ import annotations

import pytest

from shared.codes import claim_code, generate_codes, get_code
from shared.errors import CodeNotFound
from tests.bot.harness import (
    GUILD_ID,
    MANAGER,
    MEMBER,
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
