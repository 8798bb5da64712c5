"""/codes info, /codes list with its pages, autocomplete, and the error reference for the unexpected."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time

from shared.codes import claim_code, generate_codes, send_code
from shared.guilds import set_guild_config
from tests.bot.harness import (
    GUILD_ID,
    MANAGER,
    MEMBER,
    ROLE_MANAGER,
    ROLE_MANAGER_MEMBER,
    ROLE_REWARD,
    last_text,
    replies,
)

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def make_codes(session_factory, project_id, amount=1, **options) -> list[str]:
    with session_factory() as session:
        codes = generate_codes(session, project_id, amount=amount, **options)
        session.commit()
    return [code.code for code in codes]


async def test_info_shows_the_code(harness, linked, session_factory, clock_at):
    clock_at(NOW)
    [value] = make_codes(
        session_factory,
        linked.id,
        allowed_claims=3,
        reserved_for="vip@example.com",
        valid_until=dt.datetime(2025, 3, 8),
        discord_guild_id=GUILD_ID,
        discord_role_id=ROLE_REWARD,
    )
    calls = await harness.invoke("codes info", MANAGER, code=value.upper())
    assert {f["name"]: f["value"] for f in replies(calls)[-1].embeds[0]["fields"]}["Email deliveries"] == (
        "None sent"
    )
    with session_factory() as session:
        send_code(session, linked.id, value, ["vip@example.com"])
        claim_code(session, linked.id, value, email="vip@example.com")
        session.commit()
    calls = await harness.invoke("codes info", MANAGER, code=value.upper())
    reply = replies(calls)[-1]
    assert reply.ephemeral
    [embed] = reply.embeds
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert embed["title"] == value
    assert fields["Claims"] == "1 / 3"
    assert fields["Status"] == "🟢 active"
    assert fields["Type"] == "Creative (word-word)"
    assert fields["Reserved for"] == "vip@example.com"
    assert fields["Role"] == f"<@&{ROLE_REWARD}>"
    assert "<t:1741392000:f>" in fields["Valid"]
    assert fields["Email deliveries"] == "1 queued"


async def test_list_pages_forward_and_back_with_filters(harness, linked, session_factory):
    numeric = make_codes(session_factory, linked.id, amount=12, code_type="numeric")
    make_codes(session_factory, linked.id, amount=3, code_type="creative")
    calls = await harness.invoke("codes list", MANAGER, type="numeric")
    first = replies(calls)[-1]
    assert first.ephemeral
    assert first.buttons["Previous"]["disabled"] and not first.buttons["Next"].get("disabled")
    newest_first = list(reversed(numeric))
    assert re.findall(r"`(\d{6})`", first.text) == newest_first[:10]
    assert "Page 1 · numeric" in first.text

    calls = await harness.click(first, "Next", MANAGER)
    second = replies(calls)[-1]
    assert re.findall(r"`(\d{6})`", second.text) == newest_first[10:]
    assert "Page 2" in second.text
    assert second.buttons["Next"]["disabled"] and not second.buttons["Previous"].get("disabled")

    calls = await harness.click(second, "Previous", MANAGER)
    assert re.findall(r"`(\d{6})`", replies(calls)[-1].text) == newest_first[:10]


async def test_list_by_status_and_an_empty_list(harness, linked, session_factory):
    [value] = make_codes(session_factory, linked.id)
    with session_factory() as session:
        claim_code(session, linked.id, value, email="x@example.com")
        session.commit()
    make_codes(session_factory, linked.id, amount=2)
    calls = await harness.invoke("codes list", MANAGER, status="fully_claimed")
    assert re.findall(r"`([a-z-]+)`", last_text(calls)) == [value]
    calls = await harness.invoke("codes list", MANAGER, status="expired")
    assert "No codes match." in last_text(calls)
    assert all(button["disabled"] for button in replies(calls)[-1].buttons.values())


async def test_autocomplete_offers_the_project_codes_by_prefix(
    harness, linked, session_factory, make_project
):
    values = make_codes(session_factory, linked.id, amount=30, code_type="numeric")
    make_codes(session_factory, make_project("other").id, amount=3, code_type="alphanumeric")
    choices = await harness.autocomplete("codes info", MANAGER, "code", code="")
    assert len(choices) == 25
    assert [choice["value"] for choice in choices] == list(reversed(values))[:25]
    assert choices[0]["name"].startswith(f"{values[-1]} · active · 0/1")
    prefix = values[0][:4]
    expected = [v for v in reversed(values) if v.startswith(prefix)]
    choices = await harness.autocomplete("codes delete", MANAGER, "code", code=prefix.upper())
    assert [choice["value"] for choice in choices] == expected
    choices = await harness.autocomplete("codes send", MANAGER, "code", code=values[0])
    assert [choice["value"] for choice in choices] == [values[0]]


async def test_autocomplete_offers_nothing_to_members_or_unlinked_servers(harness, project, session_factory):
    choices = await harness.autocomplete("codes info", MANAGER, "code", code="")
    assert choices == []
    from shared.guilds import link_guild_to_project

    with session_factory() as session:
        link_guild_to_project(session, GUILD_ID, project.name)
        set_guild_config(session, GUILD_ID, manager_role_id=ROLE_MANAGER)
        session.commit()
    make_codes(session_factory, project.id, amount=2)
    assert await harness.autocomplete("codes info", MEMBER, "code", code="") == []
    assert len(await harness.autocomplete("codes info", ROLE_MANAGER_MEMBER, "code", code="")) == 2


async def test_an_unexpected_error_shows_a_reference_that_is_in_the_log(harness, linked, monkeypatch, caplog):
    import bot.cogs.codes.browse as browse

    def broken(*_args, **_kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(browse, "get_code", broken)
    calls = await harness.invoke("codes info", MANAGER, code="whatever")
    text = last_text(calls)
    assert "database on fire" not in text and replies(calls)[-1].ephemeral
    reference = re.search(r"reference `([0-9a-f]{8})`", text).group(1)
    [record] = [r for r in caplog.records if r.name == "bot" and r.levelno == logging.ERROR]
    assert reference in record.getMessage() and "codes info" in record.getMessage()
    assert record.exc_info[0] is RuntimeError


async def test_slow_suggestions_give_way_to_an_empty_list_in_time(
    harness, linked, session_factory, monkeypatch
):
    import bot.cogs.codes.base as base

    assert harness.bot.autocomplete_timeout == 2.0  # Discord drops suggestions after 3 s.
    make_codes(session_factory, linked.id, amount=2)
    release = threading.Event()
    fast = base._codes_for_autocomplete

    def slow(*args):
        release.wait(timeout=10)  # a database stuck behind a lock
        return fast(*args)

    monkeypatch.setattr(base, "_codes_for_autocomplete", slow)
    harness.bot.autocomplete_timeout = 0.2
    started = time.monotonic()
    try:
        assert await harness.autocomplete("codes info", MANAGER, "code", code="") == []
        assert time.monotonic() - started < 1.5
    finally:
        release.set()
    monkeypatch.setattr(base, "_codes_for_autocomplete", fast)
    assert len(await harness.autocomplete("codes info", MANAGER, "code", code="")) == 2
