"""Batches in Discord: the hand-out panel's Get a code button, /codes import, /codes send from a
batch, and the batch in generate, list and info."""

from __future__ import annotations

from sqlalchemy import select

from shared.codes import generate_codes, import_codes
from shared.guilds import set_guild_config
from shared.models import Code, Delivery, DiscordPanel
from tests.bot.harness import (
    CHANNEL_ID,
    GUILD_ID,
    LOG_CHANNEL_ID,
    MANAGER,
    MEMBER,
    OTHER_MEMBER,
    Harness,
    Person,
    Upload,
    last_text,
    replies,
)

GET = "Get a code"
REDEEM = "Redeem a code"


def make_batch(session_factory, project_id, amount: int, name: str = "beta") -> set[str]:
    with session_factory() as session:
        codes = generate_codes(session, project_id, amount=amount, batch=name)
        session.commit()
    return {code.code for code in codes}


def held_by(session_factory) -> dict[int, str]:
    with session_factory() as session:
        rows = session.execute(
            select(Code.assigned_discord_user_id, Code.code).where(Code.assigned_discord_user_id.is_not(None))
        )
        return dict(rows.all())


def log_to_channel(session_factory):
    with session_factory() as session:
        set_guild_config(session, GUILD_ID, log_channel_id=LOG_CHANNEL_ID)
        session.commit()


def logged(harness) -> list[str]:
    return [post.content for post in harness.posts if post.channel_id == LOG_CHANNEL_ID]


async def post_hand_out_panel(harness, **options):
    calls = await harness.invoke("codes panel", MANAGER, **options)
    assert "Posted a redeem panel" in last_text(calls), last_text(calls)
    panel = next(post for post in reversed(harness.posts) if post.channel_id == CHANNEL_ID)
    return panel, last_text(calls)


# --- the hand-out panel ---------------------------------------------------------------------------


async def test_a_hand_out_panel_gives_each_member_one_code_privately(harness, linked, session_factory):
    batch = make_batch(session_factory, linked.id, 2)
    log_to_channel(session_factory)
    panel, said = await post_hand_out_panel(harness, batch="beta")
    assert "one code of **beta** to each member" in said
    assert set(panel.buttons) == {GET}
    [embed] = panel.data["embeds"]
    assert embed["title"] == "Get a code" and "shown only to you" in embed["description"]

    calls = await harness.click(panel, GET, MEMBER)
    assert calls[0].kind == "defer" and calls[0].ephemeral
    shown = replies(calls)[-1]
    assert shown.ephemeral and "🎁 Your code:" in shown.text
    mine = held_by(session_factory)[MEMBER.id]
    assert mine in batch and f"`{mine}`" in shown.text

    again = await harness.click(panel, GET, MEMBER)
    assert last_text(again) == f"You already got your code: `{mine}`"
    other = await harness.click(panel, GET, OTHER_MEMBER)
    theirs = held_by(session_factory)[OTHER_MEMBER.id]
    assert theirs != mine and f"`{theirs}`" in last_text(other)

    late = await harness.click(panel, GET, Person(700_000_000_000_000_009, "carol"))
    assert "no codes left to hand out" in last_text(late) and replies(late)[-1].ephemeral
    # The log names who got a code, masked, and says when the batch ran out; never a full code.
    first, second = logged(harness)[-2:]
    assert f"<@{MEMBER.id}> got a code from batch **beta**" in first and mine not in first
    assert "That was the last code of **beta**" in second and theirs not in second
    assert all(mine not in post.content and theirs not in post.content for post in harness.posts)


async def test_the_hand_out_button_survives_a_restart(harness, linked, session_factory):
    make_batch(session_factory, linked.id, 1)
    panel, _ = await post_hand_out_panel(harness, batch="beta")
    await harness.__aexit__(None, None, None)
    async with Harness(session_factory, settings=harness.settings, shared=harness) as restarted:
        calls = await restarted.click(panel, GET, MEMBER)
        assert "Your code" in last_text(calls)
    assert list(held_by(session_factory)) == [MEMBER.id]
    await harness.__aenter__()


async def test_a_redeem_panel_becomes_a_hand_out_panel_and_unknown_batches_are_refused(
    harness, linked, session_factory
):
    make_batch(session_factory, linked.id, 1)
    calls = await harness.invoke("codes panel", MANAGER, batch="gamma")
    assert "No code is in a batch with that name" in last_text(calls)
    assert harness.posts == []
    await harness.invoke("codes panel", MANAGER)
    [panel] = harness.posts
    assert set(panel.buttons) == {REDEEM}
    calls = await harness.invoke("codes panel", MANAGER, batch=" beta ")
    assert "Updated the redeem panel" in last_text(calls) and "**beta**" in last_text(calls)
    [panel] = harness.posts
    assert set(panel.buttons) == {GET} and panel.data["embeds"][0]["title"] == "Get a code"
    # Editing its text later keeps it a hand-out panel.
    await harness.invoke("codes panel", MANAGER, title="Beta keys")
    [panel] = harness.posts
    assert set(panel.buttons) == {GET} and panel.data["embeds"][0]["title"] == "Beta keys"
    with session_factory() as session:
        assert session.get(DiscordPanel, CHANNEL_ID).batch == "beta"


async def test_a_removed_hand_out_panel_hands_out_nothing(harness, linked, session_factory):
    make_batch(session_factory, linked.id, 1)
    panel, _ = await post_hand_out_panel(harness, batch="beta")
    stale = panel
    await harness.invoke("codes panel", MANAGER, remove=True)
    calls = await harness.click(stale, GET, MEMBER)
    assert "taken down" in last_text(calls) or "no redeem panel" in last_text(calls)
    assert held_by(session_factory) == {}


async def test_batch_names_are_suggested_to_managers_only(harness, linked, session_factory):
    make_batch(session_factory, linked.id, 1, name="beta")
    make_batch(session_factory, linked.id, 1, name="alpha")
    choices = await harness.autocomplete("codes panel", MANAGER, "batch", batch="")
    assert [choice["value"] for choice in choices] == ["alpha", "beta"]
    assert [c["value"] for c in await harness.autocomplete("codes list", MANAGER, "batch", batch="b")] == [
        "beta"
    ]
    assert await harness.autocomplete("codes panel", MEMBER, "batch", batch="") == []


# --- /codes import --------------------------------------------------------------------------------


async def test_import_a_file_of_codes_into_a_batch(harness, linked, session_factory):
    log_to_channel(session_factory)
    upload = Upload("keys.csv", b"name,code\nann, STEAM-AAAA \nbob,steam-bbbb\n", "text/csv")
    calls = await harness.invoke("codes import", MANAGER, file=upload, batch="steam", allowed_claims=2)
    assert last_text(calls) == "Imported **2** codes into batch **steam**."
    with session_factory() as session:
        stored = session.execute(select(Code.code, Code.type, Code.batch, Code.allowed_claims)).all()
    assert sorted(map(tuple, stored)) == [
        ("steam-aaaa", "custom", "steam", 2),
        ("steam-bbbb", "custom", "steam", 2),
    ]
    assert "imported 2 code(s) into batch **steam**" in logged(harness)[-1]


async def test_import_refuses_existing_and_repeated_codes_naming_their_lines(
    harness, linked, session_factory
):
    with session_factory() as session:
        import_codes(session, linked.id, ["abc"])
        session.commit()
    upload = Upload("keys.txt", b"new-1\nABC\n\n new-1 \n")
    calls = await harness.invoke("codes import", MANAGER, file=upload)
    text = last_text(calls)
    assert "2 codes exist already or are repeated" in text
    assert "`ABC` (2), `new-1` (4)" in text and "Nothing was imported" in text  # as the file has them
    with session_factory() as session:
        assert session.scalars(select(Code.code)).all() == ["abc"]
    calls = await harness.invoke("codes import", MANAGER, file=upload, skip_existing=True)
    assert "Imported **1** code." in last_text(calls) and "Skipped 2" in last_text(calls)


async def test_import_refuses_values_outside_the_charset_and_files_it_cannot_take(
    harness, linked, session_factory
):
    calls = await harness.invoke("codes import", MANAGER, file=Upload("keys.txt", b"ok\nhas space\n"))
    assert "1 value isn't a code" in last_text(calls) and "`has space` (2)" in last_text(calls)
    calls = await harness.invoke("codes import", MANAGER, file=Upload("keys.json", b"[]"))
    assert ".txt or a .csv file of codes" in last_text(calls)
    calls = await harness.invoke(
        "codes import", MANAGER, file=Upload("keys.txt", "ok\nclé\n".encode("latin-1"))
    )
    assert "(line 2): save it as UTF-8" in last_text(calls)
    calls = await harness.invoke("codes import", MANAGER, file=Upload("keys.txt", b"\n\n"))
    assert "no codes in that file" in last_text(calls)
    many = "".join(f"k{n}\n" for n in range(10_001)).encode()
    calls = await harness.invoke("codes import", MANAGER, file=Upload("keys.txt", many))
    assert "holds 10001 codes; one import takes at most 10000" in last_text(calls)
    calls = await harness.invoke("codes import", MEMBER, file=Upload("keys.txt", b"ok\n"))
    assert "Manage Server" in last_text(calls)
    with session_factory() as session:
        assert session.scalars(select(Code.code)).all() == []


# --- /codes send from a batch ----------------------------------------------------------------------


async def test_send_one_code_of_a_batch_to_each_address(harness, linked, session_factory):
    batch = make_batch(session_factory, linked.id, 2)
    calls = await harness.invoke(
        "codes send", MANAGER, batch="beta", emails="a@example.com, b@example.com c@example.com"
    )
    text = last_text(calls)
    assert "Received **3** addresses; queued **2** emails." in text
    assert "c@example.com: the batch ran out of codes" in text
    with session_factory() as session:
        sent = session.execute(select(Delivery.email, Delivery.code).order_by(Delivery.email)).all()
    assert [email for email, _ in sent] == ["a@example.com", "b@example.com"]
    assert {code for _, code in sent} == batch
    calls = await harness.invoke("codes send", MANAGER, batch="beta", emails="a@example.com")
    assert "their code of this batch was sent to them already" in last_text(calls)


async def test_send_takes_a_code_or_a_batch_and_a_batch_goes_by_email(harness, linked, session_factory):
    make_batch(session_factory, linked.id, 1)
    calls = await harness.invoke("codes send", MANAGER, emails="a@example.com")
    assert "give `code`" in last_text(calls)
    calls = await harness.invoke("codes send", MANAGER, code="x", batch="beta", emails="a@example.com")
    assert "not both" in last_text(calls)
    calls = await harness.invoke("codes send", MANAGER, batch="beta", member=MEMBER)
    assert "Codes of a batch go by email" in last_text(calls)
    calls = await harness.invoke("codes send", MANAGER, batch="gamma", emails="a@example.com")
    assert "No code is in a batch with that name" in last_text(calls)


# --- generate, list and info ---------------------------------------------------------------------


async def test_generate_into_a_batch_then_list_and_inspect_it(harness, linked, session_factory):
    calls = await harness.invoke("codes generate", MANAGER, amount=2, batch="beta")
    assert "in batch **beta**" in last_text(calls)
    make_batch(session_factory, linked.id, 3, name="other")
    calls = await harness.invoke("codes list", MANAGER, batch="beta")
    [embed] = replies(calls)[-1].embeds
    assert embed["description"].count("\n") == 1 and "batch beta" in embed["footer"]["text"]
    [value] = list(held_by(session_factory)) or [None]
    panel, _ = await post_hand_out_panel(harness, batch="beta")
    await harness.click(panel, GET, MEMBER)
    given = held_by(session_factory)[MEMBER.id]
    calls = await harness.invoke("codes info", MANAGER, code=given)
    text = last_text(calls)
    assert "Batch: beta" in text and f"Handed out to: <@{MEMBER.id}>" in text
    calls = await harness.invoke("codes list", MANAGER, batch="beta")
    assert "handed out" in replies(calls)[-1].embeds[0]["description"]
    assert value is None
