"""``python -m bot`` that cannot start says why in one line on stderr and exits 1: no traceback,
no voice warnings (PyNaCl, davey) for a bot that never joins voice."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading

import discord
import pytest

from bot import __main__ as entry
from tests.support import ROOT, free_port, subprocess_env


def run_bot(tmp_path, **env: str) -> subprocess.CompletedProcess:
    environment = subprocess_env(DATABASE_URL=f"sqlite:///{tmp_path / 'bot.sqlite3'}", **env)
    return subprocess.run(
        [sys.executable, "-m", "bot"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def failure_lines(stderr: str) -> list[str]:
    """The lines that are not the structured log (JSON objects)."""
    return [line for line in stderr.splitlines() if not line.startswith("{")]


def test_shard_ids_without_a_shard_count_is_one_line_and_status_1(tmp_path):
    result = run_bot(tmp_path, DISCORD_TOKEN="bogus", DISCORD_SHARD_IDS="0,1", DISCORD_SHARD_COUNT="")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("python -m bot: DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT"), line


def test_a_malformed_setting_is_one_line_and_status_1(tmp_path):
    result = run_bot(tmp_path, DISCORD_TOKEN="bogus", DISCORD_SHARD_COUNT="two")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "python -m bot: DISCORD_SHARD_COUNT='two' is not a valid value."
    ]


def test_discord_out_of_reach_is_one_line_and_status_1_without_voice_warnings(tmp_path):
    # Every request to Discord goes through a proxy on a loopback port where nothing listens.
    result = run_bot(tmp_path, DISCORD_TOKEN="bogus", DISCORD_PROXY=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "PyNaCl" not in result.stderr and "davey" not in result.stderr
    [line] = failure_lines(result.stderr)
    assert line.startswith("python -m bot: Cannot reach Discord (ClientProxyConnectionError:"), line


class RefusingDiscord(http.server.BaseHTTPRequestHandler):
    """Discord's API as an invalid token sees it: 401 on every route."""

    def do_GET(self):
        body = json.dumps({"message": "401: Unauthorized", "code": 0}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_discord(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RefusingDiscord)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # discord.py builds every API URL on Route.BASE: here, the local stand-in.
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{server.server_port}/api/v10")
    yield
    server.shutdown()
    server.server_close()


def test_a_token_discord_refuses_is_one_line_and_status_1(refusing_discord, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(entry, "configure_logging", lambda *_args, **_kwargs: None)
    monkeypatch.setenv("DISCORD_TOKEN", "bogus")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    for name in ("DISCORD_SHARD_IDS", "DISCORD_SHARD_COUNT", "DISCORD_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert entry.main(["run"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "python -m bot: Discord refused DISCORD_TOKEN: reset the token in the Developer Portal (docs/bot.md)."
    ]


def test_a_bug_still_raises_with_its_traceback():
    assert entry.start_failure(RuntimeError("a bug")) is None
