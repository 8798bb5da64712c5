"""The bot's parts on their own: times, the DM throttle, the runner, error sentences, ``python -m bot``."""

from __future__ import annotations

import asyncio
import datetime as dt

import aiohttp
import discord
import pytest

from bot import __main__ as entry
from bot.client import CodesBot
from bot.errors import CodesTree, describe
from bot.runner import Runner
from bot.throttle import DMThrottle, DMThrottled
from bot.times import parse_when
from shared.errors import CodeExpired, CodeReserved, InvalidInput
from shared.guilds import TooManyFailedClaims

NOW = dt.datetime(2025, 3, 1, 12, 0, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW + dt.timedelta(minutes=30)),
        ("2h", NOW + dt.timedelta(hours=2)),
        (" 7D ", NOW + dt.timedelta(days=7)),
        ("1d12h", NOW + dt.timedelta(days=1, hours=12)),
        ("2w", NOW + dt.timedelta(weeks=2)),
        ("2025-03-02T10:00:00Z", dt.datetime(2025, 3, 2, 10)),
        ("2025-03-02T10:00:00+02:00", dt.datetime(2025, 3, 2, 8)),
        ("2025-03-02", dt.datetime(2025, 3, 2)),
    ],
)
def test_parse_when_reads_relative_and_iso_times(text, expected):
    assert parse_when(text, "valid_until", now=NOW) == expected


@pytest.mark.parametrize("text", ["soon", "-5m", "5 minutes", "m", "9999999999d", "9" * 5000 + "d"])
def test_parse_when_refuses_anything_else_naming_the_option(text):
    with pytest.raises(InvalidInput) as caught:
        parse_when(text, "valid_from", now=NOW)
    assert list(caught.value.errors) == ["valid_from"]


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"])
def test_a_well_formed_time_out_of_range_says_the_range_not_the_format(text):
    with pytest.raises(InvalidInput) as caught:
        parse_when(text, "valid_until", now=NOW)
    [message] = caught.value.errors["valid_until"]
    assert "9999" in message and "format" not in message.lower()


def test_dm_throttle_counts_per_server_within_a_window():
    now = [100.0]
    throttle = DMThrottle(per_guild=2, window=60, clock=lambda: now[0])
    throttle.reserve(1)
    now[0] += 10
    throttle.reserve(1)
    throttle.reserve(2)
    with pytest.raises(DMThrottled) as caught:
        throttle.reserve(1)
    assert caught.value.retry_after == 50
    now[0] += 50
    throttle.reserve(1)


def test_dm_throttle_spaces_dms_in_a_process():
    async def scenario():
        throttle = DMThrottle(spacing=0.05)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(3):
            await throttle.pace()
        return loop.time() - started

    assert asyncio.run(scenario()) >= 0.1


def test_runner_commits_on_success_and_rolls_back_on_error(session_factory, make_project):
    from shared.projects import list_projects

    runner = Runner(session_factory)

    def create(session, name, fail):
        from shared.projects import create_project

        create_project(session, name)
        if fail:
            raise CodeExpired()

    asyncio.run(runner.run(create, "kept", False))
    with pytest.raises(CodeExpired):
        asyncio.run(runner.run(create, "dropped", True))
    names = [p.name for p in asyncio.run(runner.read(list_projects))]
    assert names == ["kept"]


def test_describe_prefers_a_service_message_over_the_generic_sentence():
    assert describe(CodeReserved()) == "This code is reserved for someone else."
    assert describe(CodeReserved("Send it by email.")) == "Send it by email."
    assert describe(TooManyFailedClaims(12)) == "Too many failed attempts. Try again in 12 seconds."
    assert describe(InvalidInput({"valid_until": ["Must be in the future."]})) == (
        "Please check:\n**valid_until**: Must be in the future."
    )
    assert describe(RuntimeError("boom")) is None


def test_python_m_bot_refuses_to_start_without_a_token(monkeypatch, capsys):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert entry.main(["run"]) == 1
    assert "DISCORD_TOKEN is not set" in capsys.readouterr().err


def test_python_m_bot_sync_registers_the_tree_without_the_gateway(monkeypatch, tmp_path):
    synced: list = []

    async def login(self, token):
        assert token == "token-123"
        await self.setup_hook()

    async def sync(self, *, guild=None):
        synced.append((guild.id if guild else None, sorted(c.name for c in self.get_commands(guild=guild))))
        return self.get_commands(guild=guild)

    async def no_gateway(self, *args, **kwargs):
        raise AssertionError("sync must not connect to the gateway")

    monkeypatch.setattr(entry, "configure_logging", lambda *_args, **_kwargs: None)
    monkeypatch.setenv("DISCORD_TOKEN", "token-123")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    monkeypatch.setattr(CodesBot, "login", login)
    monkeypatch.setattr(CodesBot, "connect", no_gateway)
    monkeypatch.setattr(CodesTree, "sync", sync)
    assert entry.main(["sync"]) == 0
    assert entry.main(["sync", "--guild", "42"]) == 0
    assert synced == [(None, ["claim", "codes"]), (42, ["claim", "codes"])]


@pytest.mark.parametrize("typed", ["ID", "GUILD_ID", "12x", "0", "-5", str(2**63)])
def test_python_m_bot_sync_says_what_a_server_id_is(typed, monkeypatch, capsys):
    monkeypatch.setenv("DISCORD_TOKEN", "token-123")
    with pytest.raises(SystemExit) as caught:
        entry.main(["sync", "--guild", typed])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --guild: ID must be a number (the server's id: in Discord, turn on Developer Mode" in err
    assert f"not {typed!r}." in err


@pytest.mark.parametrize(
    ("failure", "sentence"),
    [
        (
            discord.LoginFailure("Improper token has been passed."),
            "python -m bot: Discord refused DISCORD_TOKEN",
        ),
        (
            aiohttp.ClientConnectionError("Cannot connect to host discord.com:443"),
            "python -m bot: Cannot reach Discord",
        ),
    ],
)
def test_python_m_bot_sync_says_in_one_sentence_why_discord_could_not_be_used(
    failure, sentence, monkeypatch, tmp_path, capsys
):
    async def login(self, token):
        raise failure

    monkeypatch.setattr(entry, "configure_logging", lambda *_args, **_kwargs: None)
    monkeypatch.setenv("DISCORD_TOKEN", "not-a-token")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    monkeypatch.setattr(CodesBot, "login", login)
    assert entry.main(["sync"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(sentence) and "Traceback" not in err
