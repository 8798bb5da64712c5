"""/codes send: by email (queued like the API), or by DM; a code never reaches a channel."""

from __future__ import annotations

import discord
import pytest
from sqlalchemy import select

from shared.codes import claim_code, generate_codes
from shared.guilds import set_guild_config
from shared.models import Delivery
from tests.bot.harness import (
    GUILD_ID,
    LOG_CHANNEL_ID,
    MANAGER,
    MEMBER,
    OTHER_MEMBER,
    ROLE_REWARD,
    Upload,
    last_text,
    replies,
)


def make_code(session_factory, project_id, **options) -> str:
    with session_factory() as session:
        [code] = generate_codes(session, project_id, amount=1, **options)
        session.commit()
    return code.code


def log_to_channel(session_factory):
    with session_factory() as session:
        set_guild_config(session, GUILD_ID, log_channel_id=LOG_CHANNEL_ID)
        session.commit()


def queued(session_factory) -> list[str]:
    with session_factory() as session:
        return sorted(session.scalars(select(Delivery.email).where(Delivery.status == "queued")))


async def test_send_by_email_queues_and_reports_skips(harness, linked, session_factory):
    value = make_code(session_factory, linked.id, allowed_claims=5)
    with session_factory() as session:
        claim_code(session, linked.id, value, email="done@example.com")
        session.commit()
    calls = await harness.invoke(
        "codes send",
        MANAGER,
        code=value,
        emails="a@example.com, B@example.com  b@example.com;done@example.com",
    )
    text = last_text(calls)
    assert "Received **3** addresses; queued **2** emails." in text
    assert "done@example.com: already claimed it" in text
    assert replies(calls)[-1].ephemeral
    assert queued(session_factory) == ["a@example.com", "b@example.com"]


async def test_send_by_email_refuses_invalid_addresses_and_queues_nothing(harness, linked, session_factory):
    value = make_code(session_factory, linked.id)
    calls = await harness.invoke("codes send", MANAGER, code=value, emails="ok@example.com nope")
    assert "Not valid email addresses: `nope`. Nothing was queued." in last_text(calls)
    assert queued(session_factory) == []


async def test_send_refuses_a_code_that_cannot_be_claimed(harness, linked, session_factory):
    value = make_code(session_factory, linked.id)
    with session_factory() as session:
        claim_code(session, linked.id, value, email="x@example.com")
        session.commit()
    calls = await harness.invoke("codes send", MANAGER, code=value, emails="a@example.com")
    assert "no claims left" in last_text(calls)
    calls = await harness.invoke("codes send", MANAGER, code="missing", emails="a@example.com")
    assert "couldn't find that code" in last_text(calls)


async def test_send_needs_exactly_one_kind_of_recipient(harness, linked, session_factory):
    value = make_code(session_factory, linked.id)
    for options in ({}, {"emails": "a@example.com", "member": MEMBER}):
        calls = await harness.invoke("codes send", MANAGER, code=value, **options)
        assert "give `emails` or `file`, or `member`" in last_text(calls)
    assert queued(session_factory) == [] and harness.dms == []


async def test_send_to_a_member_by_dm_keeps_the_code_out_of_every_channel(harness, linked, session_factory):
    log_to_channel(session_factory)
    value = make_code(session_factory, linked.id, discord_guild_id=GUILD_ID, discord_role_id=ROLE_REWARD)
    calls = await harness.invoke("codes send", MANAGER, code=value, member=MEMBER)
    assert f"Sent the code to <@{MEMBER.id}> by DM." in last_text(calls)
    [(user_id, dm)] = harness.dms
    assert user_id == MEMBER.id
    [embed] = dm["embeds"]
    assert f"`{value}`" in embed["description"] and "/claim" in embed["description"]
    assert "Supporter" in embed["fields"][0]["value"]
    assert all(value not in call.text for call in harness.wire)
    assert harness.channel_messages and all(value not in m["content"] for _, m in harness.channel_messages)


async def test_closed_dms_are_reported_to_the_manager_and_nothing_is_posted(harness, linked, session_factory):
    value = make_code(session_factory, linked.id)
    harness.dms_closed.add(MEMBER.id)
    calls = await harness.invoke("codes send", MANAGER, code=value, member=MEMBER)
    assert "doesn't accept DMs from me" in last_text(calls)
    assert replies(calls)[-1].ephemeral
    assert harness.dms == [] and harness.channel_messages == []
    assert all(value not in call.text for call in harness.wire)


async def test_a_reserved_or_already_claimed_code_is_not_sent_by_dm(harness, linked, session_factory):
    reserved = make_code(session_factory, linked.id, reserved_for="alice@example.com")
    calls = await harness.invoke("codes send", MANAGER, code=reserved, member=MEMBER)
    assert "send it by email instead" in last_text(calls)
    claimed = make_code(session_factory, linked.id, allowed_claims=2)
    with session_factory() as session:
        claim_code(session, linked.id, claimed, discord_user_id=MEMBER.id)
        session.commit()
    calls = await harness.invoke("codes send", MANAGER, code=claimed, member=MEMBER)
    assert "This member has already claimed this code." in last_text(calls)
    assert harness.dms == []


async def test_dms_are_throttled_per_server(harness, linked, session_factory):
    harness.bot.dm_throttle.per_guild = 2
    value = make_code(session_factory, linked.id, allowed_claims=10)
    for person in (MEMBER, OTHER_MEMBER):
        assert "by DM" in last_text(await harness.invoke("codes send", MANAGER, code=value, member=person))
    calls = await harness.invoke("codes send", MANAGER, code=value, member=MEMBER)
    assert "try again in 60 seconds" in last_text(calls)
    assert len(harness.dms) == 2


async def test_the_log_channel_masks_codes_and_never_shows_a_reserved_one(harness, linked, session_factory):
    log_to_channel(session_factory)
    open_code = make_code(session_factory, linked.id)
    reserved = make_code(session_factory, linked.id, reserved_for="a@example.com")
    await harness.invoke("codes send", MANAGER, code=open_code, emails="a@example.com")
    await harness.invoke("codes send", MANAGER, code=reserved, emails="a@example.com")
    first, second = (message["content"] for _, message in harness.channel_messages)
    assert f"`{open_code[:4]}…`" in first and open_code not in first
    assert reserved[:4] not in second and "a reserved code" in second

    # A server that wants full codes in its log turns it on; reserved codes still stay out.
    await harness.invoke("codes config", MANAGER, log_full_codes=True)
    await harness.invoke("codes send", MANAGER, code=open_code, emails="b@example.com")
    await harness.invoke("codes send", MANAGER, code=reserved, emails="a@example.com")
    *_, full, still_hidden = (message["content"] for _, message in harness.channel_messages)
    assert f"`{open_code}`" in full
    assert reserved not in still_hidden


async def test_addresses_from_a_text_file_and_the_option_together(harness, linked, session_factory):
    value = make_code(session_factory, linked.id, allowed_claims=5)
    upload = Upload("leads.txt", "\ufeffa@example.com\nb@example.com; <c@example.com>\n".encode())
    calls = await harness.invoke("codes send", MANAGER, code=value, emails="d@example.com", file=upload)
    assert "Received **4** addresses; queued **4** emails." in last_text(calls)
    assert queued(session_factory) == ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]


async def test_addresses_from_the_email_column_of_a_csv(harness, linked, session_factory):
    value = make_code(session_factory, linked.id, allowed_claims=5)
    upload = Upload(
        "Leads.CSV", b'name,Email\n"Doe, Jane",jane@example.com\nBob,bob@example.com\n', "text/csv"
    )
    calls = await harness.invoke("codes send", MANAGER, code=value, file=upload)
    assert "queued **2** emails" in last_text(calls)
    assert queued(session_factory) == ["bob@example.com", "jane@example.com"]


@pytest.mark.parametrize(
    ("upload", "expected"),
    [
        (Upload("leads.xlsx", b"PK\x03\x04"), "must be a .txt or a .csv file"),
        (Upload("leads.txt", b"a@example.com\n" * 40_000), "too large: at most 512 KB"),
        (Upload("leads.txt", "a@example.com\n".encode("utf-16")), "save it as UTF-8 text"),
        (Upload("leads.csv", b"email\n"), "no email addresses"),
        (Upload("leads.txt", b"a@example.com nope"), "Not valid email addresses: `nope`"),
    ],
)
async def test_a_file_that_cannot_be_used_is_refused_and_nothing_queued(
    harness, linked, session_factory, upload, expected
):
    value = make_code(session_factory, linked.id)
    calls = await harness.invoke("codes send", MANAGER, code=value, file=upload)
    assert expected in last_text(calls)
    assert queued(session_factory) == []


async def test_a_file_that_cannot_be_downloaded(harness, linked, session_factory):
    value = make_code(session_factory, linked.id)
    upload = Upload("leads.txt", b"a@example.com")
    harness.bot.http.get_from_cdn.side_effect = harness.http_error(
        discord.HTTPException, 503, 0, "Unavailable"
    )
    calls = await harness.invoke("codes send", MANAGER, code=value, file=upload)
    assert "couldn't download the file" in last_text(calls)
    calls = await harness.invoke("codes send", MANAGER, code=value, file=upload, member=MEMBER)
    assert "not both kinds" in last_text(calls)
