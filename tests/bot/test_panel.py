"""/codes panel: a Redeem button in a channel whose form claims like /claim, across a restart."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from shared.codes import generate_codes, get_code, list_claims
from shared.models import DiscordPanel
from tests.bot.harness import (
    CHANNEL_ID,
    GUILD_ID,
    LOG_CHANNEL_ID,
    MANAGER,
    MEMBER,
    OTHER_MEMBER,
    ROLE_MANAGER_MEMBER,
    ROLE_REWARD,
    Harness,
    last_text,
    replies,
)

REDEEM = "Redeem a code"


def make_code(session_factory, project_id, **options) -> str:
    with session_factory() as session:
        [code] = generate_codes(session, project_id, amount=1, **options)
        session.commit()
    return code.code


def panels(session_factory) -> list[tuple[int, int | None, str]]:
    with session_factory() as session:
        rows = session.execute(select(DiscordPanel.channel_id, DiscordPanel.message_id, DiscordPanel.title))
        return [tuple(row) for row in rows]


async def post_panel(harness, **options):
    calls = await harness.invoke("codes panel", MANAGER, **options)
    assert "Posted a redeem panel" in last_text(calls), last_text(calls)
    return harness.posts[-1]


async def redeem(harness, panel, person, values, **locales):
    """Press the panel's button, fill in the form, submit: the answers the member saw."""
    [opened] = await harness.click(panel, REDEEM, person, **locales)
    assert opened.kind == "modal"
    return opened, await harness.submit(opened, person, values, **locales)


async def test_a_panel_is_posted_with_a_redeem_button(harness, linked, session_factory):
    panel = await post_panel(harness, title="Beta keys", description="Press the button to get in.")
    assert panel.channel_id == CHANNEL_ID
    [embed] = panel.data["embeds"]
    assert (embed["title"], embed["description"]) == ("Beta keys", "Press the button to get in.")
    assert set(panel.buttons) == {REDEEM}
    assert panels(session_factory) == [(CHANNEL_ID, panel.message_id, "Beta keys")]


async def test_the_button_opens_a_form_that_claims_and_grants_the_role(harness, linked, session_factory):
    value = make_code(session_factory, linked.id, discord_guild_id=GUILD_ID, discord_role_id=ROLE_REWARD)
    panel = await post_panel(harness)
    opened, calls = await redeem(harness, panel, MEMBER, {"code": f" {value.upper()} "})
    form = opened.modal
    assert form["title"] == "Redeem a code"
    assert [label["label"] for label in form["components"]] == ["Code", "Email (optional)"]
    assert calls[0].kind == "defer" and calls[0].ephemeral
    assert f"You claimed `{value}`" in last_text(calls) and f"<@&{ROLE_REWARD}>" in last_text(calls)
    assert replies(calls)[-1].ephemeral
    assert harness.role_changes == [("add", GUILD_ID, MEMBER.id, ROLE_REWARD)]
    with session_factory() as session:
        [claim] = list_claims(session, linked.id, value).items
    assert claim.discord_user_id == MEMBER.id


async def test_the_form_refuses_like_claim(harness, linked, session_factory):
    reserved = make_code(session_factory, linked.id, reserved_for="alice@example.com")
    panel = await post_panel(harness)
    _, calls = await redeem(harness, panel, MEMBER, {"code": "no-such-code"})
    assert "couldn't find that code" in last_text(calls)
    _, calls = await redeem(harness, panel, MEMBER, {"code": reserved})
    assert "reserved for an email address" in last_text(calls)
    _, calls = await redeem(harness, panel, MEMBER, {"code": reserved, "email": "alice@example.com"})
    assert "You claimed" in last_text(calls)
    with session_factory() as session:
        assert get_code(session, linked.id, reserved).claims == 1


async def test_the_panel_keeps_working_after_a_restart(harness, linked, session_factory):
    value = make_code(session_factory, linked.id)
    panel = await post_panel(harness)
    await harness.__aexit__(None, None, None)
    # A new bot process: nothing in memory but what setup_hook registers.
    async with Harness(session_factory, settings=harness.settings, shared=harness) as restarted:
        _, calls = await redeem(restarted, panel, OTHER_MEMBER, {"code": value})
        assert "You claimed" in last_text(calls)
    with session_factory() as session:
        assert get_code(session, linked.id, value).claims == 1
    await harness.__aenter__()


async def test_one_panel_per_channel_edited_in_place_then_removed(harness, linked, session_factory):
    panel = await post_panel(harness, title="Keys")
    calls = await harness.invoke("codes panel", MANAGER, description="New text.")
    assert "Updated the redeem panel" in last_text(calls)
    [still] = harness.posts
    assert still.message_id == panel.message_id
    assert still.data["embeds"][0]["title"] == "Keys"
    assert still.data["embeds"][0]["description"] == "New text."

    # Someone deleted the message by hand: the next /codes panel posts it again.
    harness.posts.clear()
    calls = await harness.invoke("codes panel", MANAGER)
    assert "Posted a redeem panel" in last_text(calls)
    [again] = harness.posts
    assert panels(session_factory) == [(CHANNEL_ID, again.message_id, "Keys")]

    calls = await harness.invoke("codes panel", MANAGER, remove=True)
    assert "Removed the redeem panel" in last_text(calls)
    assert harness.posts == [] and panels(session_factory) == []
    calls = await harness.invoke("codes panel", MANAGER, remove=True)
    assert "There is no redeem panel in that channel." in last_text(calls)


async def test_a_panel_in_another_channel_and_where_the_bot_cannot_post(harness, linked, session_factory):
    await post_panel(harness, channel=LOG_CHANNEL_ID)
    assert harness.posts[-1].channel_id == LOG_CHANNEL_ID
    harness.forbidden_channels.add(CHANNEL_ID)
    calls = await harness.invoke("codes panel", MANAGER, channel=CHANNEL_ID)
    assert "I can't post in" in last_text(calls) and "Embed Links" in last_text(calls)
    assert [channel for channel, _, _ in panels(session_factory)] == [LOG_CHANNEL_ID]


async def test_an_abandoned_panel_is_taken_over(harness, linked, session_factory, clock_at):
    clock = clock_at(dt.datetime.now(dt.UTC))
    with session_factory() as session:
        # The bot stopped between taking the channel and posting the message.
        session.add(
            DiscordPanel(
                guild_id=GUILD_ID, channel_id=CHANNEL_ID, title="Old", description="Old", created_by=1
            )
        )
        session.commit()
    calls = await harness.invoke("codes panel", MANAGER)
    assert "being set up in that channel" in last_text(calls)
    clock.advance(minutes=2)
    await post_panel(harness)
    assert panels(session_factory) == [(CHANNEL_ID, harness.posts[-1].message_id, "Old")]


async def test_only_managers_post_panels(harness, linked, session_factory):
    calls = await harness.invoke("codes panel", MEMBER)
    assert "Only members with **Manage Server**" in last_text(calls)
    calls = await harness.invoke("codes panel", ROLE_MANAGER_MEMBER)
    assert "Only members" in last_text(calls)
    assert harness.posts == []


async def test_the_panel_and_its_form_speak_the_server_and_member_language(harness, linked, session_factory):
    value = make_code(session_factory, linked.id)
    await harness.invoke("codes panel", MANAGER, guild_locale="es-ES")
    panel = harness.posts[-1]
    assert set(panel.buttons) == {"Canjear un código"}
    assert panel.data["embeds"][0]["title"] == "Canjea un código"
    [opened] = await harness.click(panel, "Canjear un código", MEMBER, locale="es-419")
    assert opened.modal["title"] == "Canjear un código"
    calls = await harness.submit(opened, MEMBER, {"code": value}, locale="es-419")
    assert f"Canjeaste `{value}`" in last_text(calls)
