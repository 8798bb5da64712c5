"""Every reply arrives: each reply path fed the largest data it can meet, and the fitting itself.

The fake wire refuses, as Discord does, any message over a limit (2,000 characters of content,
4,096 of an embed description, 1,024 of a field, 6,000 in a message's embeds, 25 fields, 10
files), and the harness fails a test whose bot sent one. Discord's client enforces option lengths;
a payload that skips it (as these do) meets the bot's own checks.
"""

from __future__ import annotations

import csv
import io

import discord
import pytest
from sqlalchemy import insert

from bot import replies
from shared.clock import utcnow
from shared.codes import claim_code, generate_codes
from shared.errors import InvalidInput
from shared.models import Code
from tests.bot import discord_limits
from tests.bot.harness import GUILD_ID, MANAGER, MEMBER, ROLE_REWARD, Upload, last_text
from tests.bot.harness import replies as shown

BIG = 10_000


def long_address(number: int) -> str:
    """An address near the 254 characters email allows."""
    local = f"{'a' * 58}{number:06d}"
    return f"{local}@{'b' * 63}.{'c' * 63}.{'d' * 50}.com"


def make_code(session_factory, project_id, **options) -> str:
    with session_factory() as session:
        [code] = generate_codes(session, project_id, amount=1, **options)
        session.commit()
    return code.code


def within_limits(call) -> None:
    assert discord_limits.message_problems(call.data, call.files, size_limit=25 * 1024 * 1024) == []


async def test_a_send_skipping_a_thousand_long_addresses(harness, linked, session_factory):
    value = make_code(session_factory, linked.id, allowed_claims=5, reserved_for="vip@example.com")
    addresses = [long_address(n) for n in range(1000)]
    upload = Upload("leads.csv", ("email\n" + "\n".join(addresses)).encode(), "text/csv")
    calls = await harness.invoke("codes send", MANAGER, code=value, file=upload)
    reply = shown(calls)[-1]
    within_limits(reply)
    assert "Received **1000** addresses; queued **0** emails." in reply.content
    assert "…and 990 more" in reply.content
    rows = list(csv.DictReader(io.StringIO(reply.files["skipped.csv"].decode())))
    assert [row["email"] for row in rows] == addresses
    assert {row["reason"] for row in rows} == {"code_reserved"}


async def test_a_send_of_a_thousand_bad_addresses(harness, linked, session_factory):
    value = make_code(session_factory, linked.id)
    bad = " ".join(f"not-an-address-{'x' * 300}-{n}" for n in range(1000))
    calls = await harness.invoke("codes send", MANAGER, code=value, emails=bad)
    within_limits(shown(calls)[-1])
    assert "Not valid email addresses:" in last_text(calls) and "and 990 more" in last_text(calls)


async def test_a_send_of_too_many_addresses(harness, linked, session_factory):
    value = make_code(session_factory, linked.id)
    calls = await harness.invoke(
        "codes send", MANAGER, code=value, emails=" ".join(f"a{n}@example.com" for n in range(1001))
    )
    assert "**emails**: Must hold between 1 and 1000 addresses." in last_text(calls)


async def test_claims_pages_of_long_addresses(harness, linked, session_factory):
    value = make_code(session_factory, linked.id, allowed_claims=30)
    with session_factory() as session:
        for number in range(25):
            claim_code(session, linked.id, value, email=long_address(number), discord_user_id=10**17 + number)
        session.commit()
    calls = await harness.invoke("codes claims", MANAGER, code=value, csv=True)
    reply = shown(calls)[-1]
    within_limits(reply)
    assert len(reply.embeds[0]["description"].splitlines()) == 10
    assert len(reply.files["claims.csv"].decode().splitlines()) == 26
    calls = await harness.click(reply, "Next", MANAGER)
    within_limits(shown(calls)[-1])


async def test_generate_and_info_at_their_largest(harness, linked, session_factory):
    address = long_address(1)
    calls = await harness.invoke(
        "codes generate",
        MANAGER,
        amount=20,
        allowed_claims=2_000_000_000,
        valid_from="1h",
        valid_until="9d",
        reserved_for=address,
        role=ROLE_REWARD,
    )
    reply = shown(calls)[-1]
    within_limits(reply)
    value = reply.content.split("```")[1].split()[0]
    calls = await harness.invoke("codes info", MANAGER, code=value)
    within_limits(shown(calls)[-1])
    assert address in last_text(calls)


async def test_lists_and_suggestions_of_the_longest_codes(harness, linked, session_factory):
    now = utcnow()
    with session_factory() as session:
        session.execute(
            insert(Code),
            [
                {
                    "project_id": linked.id,
                    "code": f"{n:02d}" + "z" * 62,
                    "type": "alphanumeric",
                    "allowed_claims": 2_000_000_000,
                    "claims": 0,
                    "reserved_for": long_address(n),
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(30)
            ],
        )
        session.commit()
    calls = await harness.invoke("codes list", MANAGER)
    within_limits(shown(calls)[-1])
    choices = await harness.autocomplete("codes info", MANAGER, "code", code="")
    assert len(choices) == 25 and all(len(choice["name"]) <= 100 for choice in choices)


async def test_an_error_with_a_huge_message_is_cut_into_a_file(harness, linked, monkeypatch):
    import bot.cogs.codes.browse as browse

    errors = {f"field_{n}": [f"Problem number {n} " * 20] for n in range(300)}

    def refuse(*_args, **_kwargs):
        raise InvalidInput(errors)

    monkeypatch.setattr(browse, "get_code", refuse)
    calls = await harness.invoke("codes info", MANAGER, code="anything")
    reply = shown(calls)[-1]
    within_limits(reply)
    assert reply.content.startswith("Please check:")
    assert "full text is in the attached details.txt" in reply.content
    assert "Problem number 299" in reply.files["details.txt"].decode()


@pytest.mark.parametrize("path", ["claim", "codes info", "codes delete", "codes regrant", "codes send"])
async def test_a_code_longer_than_any_is_refused_in_a_sentence(harness, linked, path):
    options = {"emails": "a@example.com"} if path == "codes send" else {}
    person = MEMBER if path == "claim" else MANAGER
    calls = await harness.invoke(path, person, code="x" * BIG, **options)
    within_limits(shown(calls)[-1])
    assert "**code**: Must be at most 64 characters." in last_text(calls)


async def test_a_panel_at_its_largest_and_beyond(harness, linked, session_factory):
    calls = await harness.invoke("codes panel", MANAGER, title="T" * 256, description="D" * 2000)
    assert "Posted a redeem panel" in last_text(calls)
    calls = await harness.invoke("codes panel", MANAGER, title="T" * 300)
    assert "**title**: Must be 1 to 256 characters." in last_text(calls)


async def test_a_dm_from_a_server_with_the_longest_name(harness, linked, session_factory):
    guild = harness.bot.get_guild(GUILD_ID)
    guild.name = "N" * 100
    value = make_code(session_factory, linked.id)
    calls = await harness.invoke("codes send", MANAGER, code=value, member=MEMBER)
    assert "by DM" in last_text(calls)
    [(_, dm)] = harness.dms
    assert discord_limits.embed_problems(dm["embeds"]) == []


# --- the fitting on its own ---------------------------------------------------------------------


def _files(fitted) -> dict[str, bytes]:
    return {file.filename: file.fp.read() for file in fitted.files}


def test_long_content_is_cut_at_a_line_and_kept_whole_in_a_file():
    content = "\n".join(f"line {n} " + "x" * 50 for n in range(200))
    fitted = replies.fit("en-US", content)
    assert len(fitted.content) <= 2000
    assert fitted.content.endswith(
        "(Too long for one message: the full text is in the attached details.txt.)"
    )
    assert "…\n" in fitted.content
    assert _files(fitted)["details.txt"].decode() == content


def test_every_part_of_an_embed_is_fitted():
    embed = discord.Embed(title="T" * 300, description="D" * 5000)
    for number in range(30):
        embed.add_field(name=f"N{number}" * 100, value=f"V{number}" * 1000)
    embed.set_footer(text="F" * 3000)
    embed.set_author(name="A" * 300)
    fitted = replies.fit("es-ES", None, embeds=[embed] * 3)
    data = [e.to_dict() for e in fitted.embeds]
    assert discord_limits.embed_problems(data) == []
    assert fitted.embeds and "adjunto details.txt" in fitted.content
    details = _files(fitted)["details.txt"].decode()
    assert "D" * 5000 in details and "V29" * 1000 in details and "F" * 3000 in details


def test_at_most_ten_embeds_go_in_a_message():
    fitted = replies.fit("en-US", None, embeds=[discord.Embed(title=f"e{n}") for n in range(12)])
    assert [embed.title for embed in fitted.embeds] == [f"e{n}" for n in range(10)]
    assert "e11" in _files(fitted)["details.txt"].decode()


def test_a_message_within_limits_is_left_alone_and_empty_is_never_sent():
    embed = discord.Embed(title="ok", description="fine")
    fitted = replies.fit("en-US", "short", embeds=[embed])
    assert (fitted.content, fitted.files, fitted.overflow) == ("short", [], [])
    assert fitted.embeds[0].to_dict() == embed.to_dict()
    assert replies.fit("en-US", "").content == "Done."


def test_files_over_the_size_limit_are_replaced_by_a_note():
    big = discord.File(io.BytesIO(b"x" * 2000), filename="codes.csv")
    fitted = replies.fit("en-US", "Here.", files=[big], size_limit=1000)
    assert [file.filename for file in fitted.files] == ["details.txt"]
    assert "codes.csv" in _files(fitted)["details.txt"].decode()
