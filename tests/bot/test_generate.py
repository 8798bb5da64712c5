"""/codes generate: inline or as codes.csv, times in two forms, the domain's validation, roles."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from shared.codes import get_code, list_codes
from shared.models import Code
from tests.bot.harness import (
    GUILD_ID,
    MANAGE_GUILD,
    MANAGE_ROLES,
    MANAGER,
    ROLE_ABOVE_BOT,
    ROLE_MANAGED,
    ROLE_MANAGER,
    ROLE_REWARD,
    SEND_MESSAGES,
    Person,
    last_text,
    replies,
)

NOW = dt.datetime(2025, 3, 1, 12, 0, 0)


def _codes(session_factory, project_id):
    with session_factory() as session:
        return list_codes(session, project_id, limit=100).items


async def test_up_to_twenty_codes_answer_inline_and_privately(harness, linked, session_factory):
    calls = await harness.invoke("codes generate", MANAGER, amount=20, type="numeric")
    reply = replies(calls)[-1]
    assert reply.ephemeral and not reply.files
    stored = _codes(session_factory, linked.id)
    assert len(stored) == 20
    assert all(code.code in reply.content and code.type == "numeric" for code in stored)


async def test_more_than_twenty_codes_come_as_a_csv_attachment(harness, linked, session_factory, clock_at):
    clock_at(NOW.replace(tzinfo=dt.UTC))
    calls = await harness.invoke(
        "codes generate",
        MANAGER,
        amount=21,
        type="alphanumeric",
        allowed_claims=3,
        valid_until="7d",
        reserved_for="Someone@Example.com",
    )
    reply = replies(calls)[-1]
    assert reply.ephemeral and set(reply.files) == {"codes.csv"}
    rows = list(csv.DictReader(io.StringIO(reply.files["codes.csv"].decode())))
    assert list(rows[0]) == ["code", "type", "allowedClaims", "validFrom", "validUntil", "reservedFor"]
    assert len(rows) == 21
    assert {row["code"] for row in rows} == {code.code for code in _codes(session_factory, linked.id)}
    assert rows[0]["allowedClaims"] == "3" and rows[0]["type"] == "alphanumeric"
    assert rows[0]["validUntil"] == "2025-03-08T12:00:00.000Z" and rows[0]["validFrom"] == ""
    assert rows[0]["reservedFor"] == "someone@example.com"
    assert not any(row["code"] in reply.content for row in rows)


async def test_a_batch_of_a_thousand_is_the_bot_maximum(harness, linked, session_factory):
    calls = await harness.invoke("codes generate", MANAGER, amount=1000, type="alphanumeric")
    assert len(replies(calls)[-1].files["codes.csv"].decode().splitlines()) == 1001
    # Discord enforces the range in its client; a payload that skips it meets the domain's check.
    calls = await harness.invoke("codes generate", MANAGER, amount=1001)
    assert "**amount**: Must be between 1 and 1000." in last_text(calls)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Code)) == 1000


async def test_relative_and_iso_times_set_the_validity_window(harness, linked, session_factory, clock_at):
    clock_at(NOW.replace(tzinfo=dt.UTC))
    await harness.invoke(
        "codes generate", MANAGER, amount=1, valid_from="30m", valid_until="2025-03-02T00:00Z"
    )
    code = _codes(session_factory, linked.id)[0]
    assert code.valid_from == NOW + dt.timedelta(minutes=30)
    assert code.valid_until == dt.datetime(2025, 3, 2)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"valid_until": "soon"}, "**valid_until**: Use a relative time such as 30m"),
        ({"valid_until": "2020-01-01T00:00:00Z"}, "**valid_until**: Must be in the future."),
        (
            {"valid_from": "2d", "valid_until": "1d"},
            "**valid_until**: Must be after the time the code becomes valid.",
        ),
        ({"reserved_for": "not-an-email"}, "**reserved_for**: Not a valid email address."),
        ({"allowed_claims": 0}, "**allowed_claims**: Must be at least 1."),
    ],
)
async def test_invalid_input_is_refused_with_the_option_named(
    harness, linked, session_factory, options, expected
):
    calls = await harness.invoke("codes generate", MANAGER, amount=2, **options)
    assert expected in last_text(calls)
    assert replies(calls)[-1].ephemeral
    assert _codes(session_factory, linked.id) == []


async def test_a_role_is_attached_to_the_codes_when_the_bot_can_grant_it(harness, linked, session_factory):
    calls = await harness.invoke("codes generate", MANAGER, amount=2, role=ROLE_REWARD)
    assert f"claiming grants <@&{ROLE_REWARD}>" in last_text(calls)
    for code in _codes(session_factory, linked.id):
        assert (code.discord_guild_id, code.discord_role_id) == (GUILD_ID, ROLE_REWARD)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (GUILD_ID, "@everyone can't be granted"),
        (ROLE_MANAGED, "is managed by an integration"),
        (ROLE_ABOVE_BOT, "is above my highest role"),
    ],
)
async def test_a_role_the_bot_cannot_grant_is_refused(harness, linked, session_factory, role, expected):
    calls = await harness.invoke("codes generate", MANAGER, amount=1, role=role)
    assert expected in last_text(calls)
    assert _codes(session_factory, linked.id) == []


async def test_a_role_needs_the_manage_roles_permission(harness, linked, session_factory):
    harness.reload_guild(bot_permissions=SEND_MESSAGES)
    calls = await harness.invoke("codes generate", MANAGER, amount=1, role=ROLE_REWARD)
    assert "I need the **Manage Roles** permission" in last_text(calls)
    assert _codes(session_factory, linked.id) == []


async def test_generated_codes_are_the_api_codes(harness, linked, session_factory):
    calls = await harness.invoke("codes generate", MANAGER, amount=1)
    value = replies(calls)[-1].content.split("```")[1].strip()
    with session_factory() as session:
        assert get_code(session, linked.id, value.upper()).code == value


@pytest.mark.parametrize(
    ("person", "expected"),
    [
        (
            Person(1, "helper", roles=(ROLE_MANAGER,), permissions=MANAGE_GUILD),
            "You need the **Manage Roles**",
        ),
        (Person(2, "newcomer", permissions=MANAGE_GUILD | MANAGE_ROLES), "is not below your highest role"),
        (Person(3, "moderator", roles=(ROLE_MANAGER,), permissions=MANAGE_GUILD | MANAGE_ROLES), None),
    ],
)
async def test_a_manager_attaches_only_roles_they_could_grant_themselves(
    harness, linked, session_factory, person, expected
):
    calls = await harness.invoke("codes generate", person, amount=1, role=ROLE_REWARD)
    if expected is None:
        assert "Generated **1**" in last_text(calls)
    else:
        assert expected in last_text(calls)
        assert _codes(session_factory, linked.id) == []
