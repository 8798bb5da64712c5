"""The README's quickstart and CLI blocks run as written, after a real ``make run``.

One ``make run`` serves this module: the Makefile's own target (its gunicorn, its email worker, its
demo project), on a free port, with ``instance/`` in a temporary directory that stands for a fresh
clone (``INSTANCE_DIR``; ``.venv`` there is this test run's virtualenv). Each block is taken from
README.md and run with ``bash -euo pipefail`` from that directory: any failing line fails the test,
and what it printed is checked too.
"""

from __future__ import annotations

import email
import json
import os
import re
import signal
import subprocess
import sys
import time
from email import policy
from pathlib import Path

import pytest
import requests

from tests.readme import readme
from tests.support import ROOT, free_port, subprocess_env

pytestmark = [pytest.mark.slow, pytest.mark.server]

VENV = Path(sys.prefix)
README_ADDRESS = "API=http://127.0.0.1:8000"
# What make run may print besides the servers' JSON log lines: sentences, never its shell.
MAKE_RUN_SAYS = [
    r"Created the demo project\. Its keys are saved in .*/instance/demo-keys\.json:",
    r"  public key: pk_[0-9a-f]+",
    r"  secret key: sk_[0-9a-f]+",
    r"Serving the Codes API on http://127\.0\.0\.1:\d+  \(docs: http://127\.0\.0\.1:\d+/docs\)",
    r"The demo project's claim page: http://127\.0\.0\.1:\d+/p/demo",
    r"Next: the README's quickstart, in another terminal; stop with Ctrl-C\.",
    r"No SMTP_HOST: messages are written as \.eml files under .*/instance/mail",
]
# The operator's own settings would not be a fresh clone's.
NOT_INHERITED = [
    *("DATABASE_URL", "REDIS_URL", "SMTP_HOST", "PUBLIC_URL", "PORT", "LOG_LEVEL", "MAIL_DIR"),
    *("SECRET_KEY", "FLASK_APP", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"),
]


class MakeRun:
    def __init__(self, home: Path):
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "make-run.log"
        self.env = subprocess_env(INSTANCE_DIR=str(home / "instance"))
        for name in NOT_INHERITED:
            self.env.pop(name, None)
        self.process: subprocess.Popen | None = None

    def start(self) -> MakeRun:
        # -o: the virtualenv is this test run's, already installed; make must not reinstall it.
        command = ["make", "-o", f"{VENV}/.runtime", "run", f"PORT={self.port}", f"VENV={VENV}"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"make run did not serve: {self.log()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Ctrl-C's signal to make run's process group (make, the worker, gunicorn), as a terminal does."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def bash(self, script: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    if not (VENV / "bin" / "flask").exists():
        pytest.fail(f"run the tests from the project's virtualenv (no flask in {VENV}): make test")
    home = tmp_path_factory.mktemp("fresh-clone")
    (home / ".venv").symlink_to(VENV)
    server = MakeRun(home).start()
    yield server
    started = time.monotonic()
    server.stop()
    # Ctrl-C stops make run promptly (a gunicorn worker hung on two quit signals: gunicorn.conf.py).
    assert time.monotonic() - started < 8, server.log()[-2000:]


def _succeeded(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, (
        f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )


def test_make_run_prints_sentences_not_its_shell(make_run):
    said = [line for line in make_run.log().splitlines() if not line.startswith("{")]
    unexpected = [line for line in said if not any(re.fullmatch(p, line) for p in MAKE_RUN_SAYS)]
    assert unexpected == []
    assert any(line.startswith(f"Serving the Codes API on {make_run.url} ") for line in said)


def test_the_quickstart_runs_as_written(make_run):
    script = readme.block("quickstart")
    assert script.count(README_ADDRESS) == 1
    result = make_run.bash(script.replace(README_ADDRESS, f"API={make_run.url}"))
    _succeeded(result)

    # One JSON line per answer (each body ends with a newline), in the order of the block.
    generated, looked_up, claimed, exchanged, sent, listed, claims, deliveries, deleted = [
        json.loads(line) for line in result.stdout.splitlines()
    ]
    assert all(answer["success"] is True for answer in (generated, looked_up, claimed, exchanged))
    first, second = generated["data"]
    code = first["code"]
    assert first["allowedClaims"] == 10 and first["validUntil"] == "2030-12-31T23:59:59.000Z"
    assert looked_up["data"]["code"] == code and looked_up["data"]["claims"] == 0
    assert claimed["data"]["code"]["code"] == code and claimed["data"]["email"] == "ada@example.com"
    assert exchanged["data"]["customer"] == {"email": "ada@example.com"}
    assert exchanged["data"]["code"]["claims"] == 1
    assert sent["data"]["receivedLeads"] == 2 and sent["data"]["skipped"] == []
    assert {c["code"] for c in listed["data"]["items"]} == {code, second["code"]}
    assert [c["email"] for c in claims["data"]["items"]] == ["ada@example.com"]
    assert sorted(d["email"] for d in deliveries["data"]["items"]) == [
        "alan@example.com",
        "grace@example.com",
    ]
    assert deleted["data"]["code"] == second["code"]
    keys = json.loads((make_run.home / "instance" / "demo-keys.json").read_text())
    gone = requests.get(
        f"{make_run.url}/codes/{second['code']}",
        headers={"Authorization": f"Bearer {keys['secretKey']}"},
        timeout=10,
    )
    assert gone.status_code == 404

    # make run's worker wrote both emails, linking to the demo project's claim page with the code.
    mail_dir = make_run.home / "instance" / "mail"
    deadline = time.monotonic() + 15
    while len(list(mail_dir.glob("*.eml"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    messages = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in mail_dir.glob("*.eml")
    ]
    assert sorted(m["To"] for m in messages) == ["alan@example.com", "grace@example.com"]
    html = messages[0].get_body(("html",)).get_content()
    assert f'href="{make_run.url}/p/demo?code={code}"' in html


def test_the_cli_block_runs_as_written(make_run):
    result = make_run.bash(readme.block("cli"))
    _succeeded(result)
    out = result.stdout
    created = json.loads([line for line in out.splitlines() if line.startswith('{"id"')][0])
    assert created["name"] == "shop" and created["secretKey"].startswith("sk_")
    assert "Linked Discord server 123456789012345678 to project 'shop'." in out
    exported = (make_run.home / "codes.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in exported[1:]] == ["key-aaaa-0001", "key-aaaa-0002"]
    page = requests.get(f"{make_run.url}/p/shop", timeout=10)
    assert page.status_code == 200 and "shop" in page.text
