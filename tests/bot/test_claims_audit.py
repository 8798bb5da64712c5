"""/codes claims: who claimed a code and when, paged, with claims.csv on request; emails masked."""

from __future__ import annotations

import csv
import datetime as dt
import io

from shared.codes import claim_code, generate_codes
from tests.bot.harness import GUILD_ID, MANAGER, MEMBER, OTHER_MEMBER, ROLE_REWARD, last_text, replies

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def make_code(session_factory, project_id, **options) -> str:
    with session_factory() as session:
        [code] = generate_codes(session, project_id, amount=1, allowed_claims=30, **options)
        session.commit()
    return code.code


def claim_by_email(session_factory, project_id, value, count):
    with session_factory() as session:
        for number in range(count):
            claim_code(session, project_id, value, email=f"person{number}@example.com")
        session.commit()


async def test_claims_are_listed_newest_first_with_members_masked_emails_and_roles(
    harness, linked, session_factory, clock_at
):
    clock = clock_at(NOW)
    value = make_code(session_factory, linked.id, discord_guild_id=GUILD_ID, discord_role_id=ROLE_REWARD)
    claim_by_email(session_factory, linked.id, value, 1)
    clock.advance(minutes=1)
    await harness.invoke("claim", MEMBER, code=value)
    harness.failing_role_grants = True
    await harness.invoke("claim", OTHER_MEMBER, code=value, email="bob@example.com")

    calls = await harness.invoke("codes claims", MANAGER, code=value)
    reply = replies(calls)[-1]
    assert reply.ephemeral and not reply.files
    [embed] = reply.embeds
    assert embed["title"] == f"Claims of {value}"
    lines = embed["description"].splitlines()
    assert lines[0].startswith(f"<@{OTHER_MEMBER.id}> · b***@example.com · <t:")
    assert lines[0].endswith("role ⏳ pending")
    assert lines[1].startswith(f"<@{MEMBER.id}> · <t:") and lines[1].endswith("role ✅")
    assert lines[2] == f"p***@example.com · <t:{int(NOW.timestamp())}:R>"
    assert "person0@example.com" not in reply.text and "bob@example.com" not in reply.text
    assert "3 of 30 claims used" in embed["footer"]["text"]


async def test_claims_page_forward_and_back_and_all_come_as_csv(harness, linked, session_factory):
    value = make_code(session_factory, linked.id)
    claim_by_email(session_factory, linked.id, value, 23)
    calls = await harness.invoke("codes claims", MANAGER, code=value, csv=True)
    first = replies(calls)[-1]
    assert len(first.embeds[0]["description"].splitlines()) == 10
    assert "Every claim is in the attached claims.csv" in first.content
    rows = list(csv.DictReader(io.StringIO(first.files["claims.csv"].decode())))
    assert list(rows[0]) == ["claimedAt", "discordUserId", "email", "role"]
    assert [row["email"] for row in rows] == ["p***@example.com"] * 23

    second = replies(await harness.click(first, "Next", MANAGER))[-1]
    third = replies(await harness.click(second, "Next", MANAGER))[-1]
    assert len(third.embeds[0]["description"].splitlines()) == 3
    assert third.buttons["Next"]["disabled"] and "Page 3" in third.text
    back = replies(await harness.click(third, "Previous", MANAGER))[-1]
    assert "Page 2" in back.text


async def test_a_long_export_says_it_holds_the_newest(harness, linked, session_factory, monkeypatch):
    import bot.cogs.codes.claims as claims

    monkeypatch.setattr(claims, "EXPORT_LIMIT", 5)
    monkeypatch.setattr(claims, "_EXPORT_PAGE", 2)
    value = make_code(session_factory, linked.id)
    claim_by_email(session_factory, linked.id, value, 7)
    calls = await harness.invoke("codes claims", MANAGER, code=value, csv=True)
    reply = replies(calls)[-1]
    assert "The newest 5 claims are in the attached claims.csv" in reply.content
    assert len(reply.files["claims.csv"].decode().splitlines()) == 6


async def test_claims_of_an_unclaimed_or_unknown_code_and_for_members(harness, linked, session_factory):
    value = make_code(session_factory, linked.id)
    calls = await harness.invoke("codes claims", MANAGER, code=value)
    assert "Nobody has claimed this code yet." in last_text(calls)
    calls = await harness.invoke("codes claims", MANAGER, code="no-such-code")
    assert "couldn't find that code" in last_text(calls)
    calls = await harness.invoke("codes claims", MEMBER, code=value)
    assert "Only members with **Manage Server**" in last_text(calls)
