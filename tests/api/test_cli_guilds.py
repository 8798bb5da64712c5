"""The operator CLI for Discord servers: flask --app wsgi guilds link|unlink|list."""

from __future__ import annotations

import json

import pytest

from shared.guilds import get_guild_link

GUILD = "123456789012345678"


def test_link_then_list_shows_the_server_and_its_project(runner, project, session_factory):
    result = runner.invoke(args=["guilds", "link", GUILD, "acme"])
    assert result.exit_code == 0, result.output
    assert f"Linked Discord server {GUILD} to project 'acme'." in result.output
    with session_factory() as session:
        assert get_guild_link(session, int(GUILD)).project_id == project.id

    table = runner.invoke(args=["guilds", "list"])
    assert GUILD in table.output and "acme" in table.output
    [row] = json.loads(runner.invoke(args=["guilds", "list", "--json"]).output)
    assert row["guildId"] == GUILD and row["project"] == "acme" and row["managerRoleId"] is None


def test_link_moves_a_server_to_another_project(runner, project, make_project, session_factory):
    other = make_project("other")
    runner.invoke(args=["guilds", "link", GUILD, "acme"])
    result = runner.invoke(args=["guilds", "link", GUILD, "other"])
    assert result.exit_code == 0
    with session_factory() as session:
        assert get_guild_link(session, int(GUILD)).project_id == other.id


def test_link_to_an_unknown_project_fails_clearly(runner, project):
    result = runner.invoke(args=["guilds", "link", GUILD, "nope"])
    assert result.exit_code != 0 and "project_not_found" in result.output
    assert "No Discord servers are linked" in runner.invoke(args=["guilds", "list"]).output


def test_unlink(runner, project):
    runner.invoke(args=["guilds", "link", GUILD, "acme"])
    assert runner.invoke(args=["guilds", "unlink", GUILD]).exit_code == 0
    assert json.loads(runner.invoke(args=["guilds", "list", "--json"]).output) == []
    result = runner.invoke(args=["guilds", "unlink", GUILD])
    assert result.exit_code != 0 and "guild_not_linked" in result.output


@pytest.mark.parametrize("command", [["link", "GUILD_ID", "acme"], ["unlink", "GUILD_ID"]])
def test_a_placeholder_pasted_as_the_server_id_says_what_the_id_is(runner, project, command):
    result = runner.invoke(args=["guilds", *command])
    assert result.exit_code == 2
    assert "GUILD_ID must be a number (the server's id: in Discord, turn on Developer Mode" in result.output
    assert "not 'GUILD_ID'." in result.output
    assert "is not a valid integer" not in result.output


@pytest.mark.parametrize("typed", ["0", "-1", "12x", "１２", str(2**63)])
def test_a_server_id_is_a_positive_64_bit_number(runner, project, typed):
    result = runner.invoke(args=["guilds", "link", "--", typed, "acme"])
    assert result.exit_code == 2 and "GUILD_ID must be a number" in result.output, result.output
    assert json.loads(runner.invoke(args=["guilds", "list", "--json"]).output) == []
