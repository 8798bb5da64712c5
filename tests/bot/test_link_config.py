"""/codes link and /codes config, the manager check, and what an unlinked server answers."""

from __future__ import annotations

import logging

import pytest

from shared.guilds import get_guild_link, set_guild_config
from tests.bot.harness import (
    CHANNEL_ID,
    GUILD_ID,
    LOG_CHANNEL_ID,
    MANAGER,
    MEMBER,
    ROLE_MANAGER,
    ROLE_MANAGER_MEMBER,
    Channel,
    last_text,
    replies,
)


def _link_of(session_factory):
    with session_factory() as session:
        return get_guild_link(session, GUILD_ID)


async def test_link_with_the_secret_key_links_the_server_and_never_echoes_it(
    harness, project, session_factory, caplog
):
    caplog.set_level(logging.DEBUG)
    calls = await harness.invoke("codes link", MANAGER, secret_key=project.keys.secret_key)
    assert calls[0].kind == "defer" and calls[0].ephemeral
    assert "Linked this server to the project **acme**" in last_text(calls)
    assert all(call.ephemeral for call in replies(calls))
    assert _link_of(session_factory).project_id == project.id
    everything = repr([call.body for call in harness.wire]) + caplog.text + repr(harness.channel_messages)
    assert project.keys.secret_key not in everything


@pytest.mark.parametrize("which", ["public", "unknown", "malformed"])
async def test_link_refuses_anything_but_a_valid_secret_key(harness, project, session_factory, which):
    key = {"public": project.keys.public_key, "unknown": "sk_" + "0" * 48, "malformed": "hello"}[which]
    calls = await harness.invoke("codes link", MANAGER, secret_key=key)
    text = last_text(calls)
    assert ("secret key" in text) and key not in text
    assert replies(calls)[-1].ephemeral
    with pytest.raises(Exception, match="not linked"):
        _link_of(session_factory)


async def test_link_needs_manage_server(harness, project, session_factory):
    calls = await harness.invoke("codes link", ROLE_MANAGER_MEMBER, secret_key=project.keys.secret_key)
    assert "Manage Server" in last_text(calls)
    with pytest.raises(Exception, match="not linked"):
        _link_of(session_factory)


@pytest.mark.parametrize(
    ("path", "options"),
    [
        ("codes generate", {"amount": 1}),
        ("codes info", {"code": "anything"}),
        ("codes list", {}),
        ("codes delete", {"code": "anything"}),
        ("codes send", {"code": "anything", "emails": "a@example.com"}),
        ("codes config", {}),
        ("claim", {"code": "anything"}),
    ],
)
async def test_an_unlinked_server_is_told_how_to_link(harness, project, path, options):
    calls = await harness.invoke(path, MANAGER, **options)
    assert calls[0].kind == "defer"
    assert "isn't linked" in last_text(calls) and "/codes link" in last_text(calls)
    assert replies(calls)[-1].ephemeral


async def test_a_member_who_is_not_a_manager_is_refused(harness, linked):
    for path, options in (("codes generate", {"amount": 1}), ("codes list", {}), ("codes config", {})):
        calls = await harness.invoke(path, MEMBER, **options)
        assert "Only members with **Manage Server**" in last_text(calls), path


async def test_config_sets_a_manager_role_who_may_then_manage_codes(harness, linked, session_factory):
    assert "Only members" in last_text(await harness.invoke("codes generate", ROLE_MANAGER_MEMBER, amount=1))
    calls = await harness.invoke("codes config", MANAGER, manager_role=ROLE_MANAGER)
    assert "Saved." in last_text(calls) and f"<@&{ROLE_MANAGER}>" in last_text(calls)
    assert _link_of(session_factory).manager_role_id == ROLE_MANAGER
    calls = await harness.invoke("codes generate", ROLE_MANAGER_MEMBER, amount=1)
    assert "Generated **1**" in last_text(calls)
    # The manager role manages codes, not the settings.
    calls = await harness.invoke("codes config", ROLE_MANAGER_MEMBER, clear="manager_role")
    assert "Manage Server" in last_text(calls)
    assert _link_of(session_factory).manager_role_id == ROLE_MANAGER


async def test_config_log_channel_is_tested_logged_to_and_cleared(harness, linked, session_factory):
    calls = await harness.invoke("codes config", MANAGER, log_channel=LOG_CHANNEL_ID)
    assert f"<#{LOG_CHANNEL_ID}>" in last_text(calls)
    assert _link_of(session_factory).log_channel_id == LOG_CHANNEL_ID
    assert [channel for channel, _ in harness.channel_messages] == [LOG_CHANNEL_ID, LOG_CHANNEL_ID]

    await harness.invoke("codes generate", MANAGER, amount=2)
    assert "generated **2** creative codes" in harness.channel_messages[-1][1]["content"].lower()

    calls = await harness.invoke("codes config", MANAGER, clear="log_channel")
    assert "Log channel: none" in last_text(calls)
    assert _link_of(session_factory).log_channel_id is None


async def test_config_warns_when_the_bot_cannot_post_in_the_log_channel(harness, linked):
    harness.forbidden_channels.add(LOG_CHANNEL_ID)
    calls = await harness.invoke("codes config", MANAGER, log_channel=LOG_CHANNEL_ID)
    assert "I can't post in" in last_text(calls)


async def test_config_without_options_shows_the_settings(harness, linked):
    calls = await harness.invoke("codes config", MANAGER)
    text = last_text(calls)
    assert "Project: **acme**" in text and "Saved." not in text


async def test_config_refuses_everyone_as_manager_role(harness, linked, session_factory):
    calls = await harness.invoke("codes config", MANAGER, manager_role=GUILD_ID)
    assert "@everyone can't be the manager role" in last_text(calls)
    assert _link_of(session_factory).manager_role_id is None


async def test_the_manager_role_works_from_the_payload_while_the_server_is_not_cached(
    harness, linked, session_factory
):
    with session_factory() as session:
        set_guild_config(session, GUILD_ID, manager_role_id=ROLE_MANAGER)
        session.commit()
    harness.forget_guild()
    calls = await harness.invoke("codes generate", ROLE_MANAGER_MEMBER, amount=1)
    assert "Generated **1**" in last_text(calls)
    calls = await harness.invoke("codes list", ROLE_MANAGER_MEMBER)
    assert replies(calls)[-1].embeds
    assert len(await harness.autocomplete("codes info", ROLE_MANAGER_MEMBER, "code", code="")) == 1
    assert "Only members" in last_text(await harness.invoke("codes list", MEMBER))
    # Setting a log channel needs the channel's id only; who may read it is checked once cached.
    calls = await harness.invoke("codes config", MANAGER, log_channel=LOG_CHANNEL_ID)
    assert "Saved." in last_text(calls) and "couldn't check who can read" in last_text(calls)


async def test_setting_the_manager_role_says_how_to_show_codes_to_it(harness, linked):
    calls = await harness.invoke("codes config", MANAGER, manager_role=ROLE_MANAGER)
    text = last_text(calls)
    assert "Discord still hides `/codes`" in text
    assert "**Server Settings** → **Integrations** → this bot → **Manage**" in text
    assert "Under **Commands**, click `/codes`" in text
    assert f"**Add Roles or Members** → choose <@&{ROLE_MANAGER}>" in text


def test_docs_give_the_same_steps():
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "bot.md").read_text()
    assert "Server Settings** → **Integrations**" in docs and "Add Roles or Members" in docs


async def test_a_public_log_channel_is_flagged(harness, linked):
    calls = await harness.invoke("codes config", MANAGER, log_channel=CHANNEL_ID)
    assert "@everyone can read" in last_text(calls)
    calls = await harness.invoke("codes config", MANAGER, log_channel=LOG_CHANNEL_ID)
    assert "@everyone" not in last_text(calls)


async def test_a_wrong_option_value_names_the_option(harness, linked):
    voice = Channel(800_000_000_000_000_099, kind=2)
    calls = await harness.invoke("codes config", MANAGER, log_channel=voice)
    assert "I couldn't understand the value you gave for **log_channel**." in last_text(calls)


async def test_members_of_an_unlinked_server_are_not_shown_the_operator_command(harness, project):
    calls = await harness.invoke("claim", MEMBER, code="anything")
    assert "Codes aren't set up in this server yet" in last_text(calls)
    assert "flask" not in last_text(calls) and "/codes link" not in last_text(calls)
    calls = await harness.invoke("claim", MANAGER, code="anything")
    assert "flask" not in last_text(calls) and "/codes link" in last_text(calls)
