"""A code sent by DM links to where it can be claimed on the web, as an email does."""

from __future__ import annotations

import pytest

from shared.config import Settings
from shared.mail.services import set_claim_url
from tests.bot.harness import GUILD_ID, MANAGER, MEMBER, ROLE_REWARD, Harness
from tests.bot.test_send import make_code


@pytest.fixture
def public_harness(session_factory, database) -> Harness:
    settings = Settings(database_url=database.url, public_url="https://codes.example")
    return Harness(session_factory, settings=settings)


async def _dm_text(harness: Harness, code: str) -> str:
    await harness.invoke("codes send", MANAGER, code=code, member=MEMBER)
    [(_user, dm)] = harness.dms[-1:]
    return dm["embeds"][0]["description"]


async def test_the_dm_links_to_the_projects_claim_page(public_harness, linked, session_factory):
    code = make_code(session_factory, linked.id)
    text = await _dm_text(public_harness, code)
    assert f"`/claim code:{code}`." in text
    assert text.endswith(f"\nOr claim it on the web: https://codes.example/p/acme?code={code}")


async def test_the_projects_own_claim_url_wins(public_harness, linked, session_factory):
    with session_factory() as session:
        set_claim_url(session, "acme", "https://acme.example/claim/{code}")
        session.commit()
    code = make_code(session_factory, linked.id)
    assert (await _dm_text(public_harness, code)).endswith(f"on the web: https://acme.example/claim/{code}")


async def test_a_code_that_grants_a_role_is_claimed_in_discord_only(public_harness, linked, session_factory):
    # A claim on the web could not grant the role.
    code = make_code(session_factory, linked.id, discord_guild_id=GUILD_ID, discord_role_id=ROLE_REWARD)
    text = await _dm_text(public_harness, code)
    assert "http" not in text and text.endswith(f"`/claim code:{code}`.")


async def test_without_public_url_there_is_no_link(harness, linked, session_factory):
    code = make_code(session_factory, linked.id)
    assert "http" not in await _dm_text(harness, code)
