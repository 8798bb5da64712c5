"""Browser tests: headless Chromium (Debian's, driven by Playwright) against a real gunicorn.

One gunicorn per database serves every browser test (``site``), with PUBLIC_URL set to its own
address as ``make run`` does, the real rate limits (loose, but for anti-guessing, which a test
trips) and their counters in Redis shared by its two workers; without Redis it runs one worker,
whose memory counters are exact too. Counters name a project by its row id, and SQLite gives the
next test's project the id of the last one, so each test starts with no counters: the site's
keys are deleted from Redis after each test (without Redis, the one worker is restarted).

Pages that embed the widget are served from two more loopback origins (``hosts``): one the
project allows, one it does not.

Chromium missing: these tests skip on a laptop and fail under CI (``CI=true``), as PostgreSQL's
do; ``.ci/run`` installs it. ``apt-get install -y chromium`` (Debian) provides it.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support import ROOT, Gunicorn, free_port, subprocess_env

CHROMIUM = "/usr/bin/chromium"
# Loose limits: every test comes from 127.0.0.1. Anti-guessing is the one a test trips.
LIMITS = {
    "RATELIMIT_PER_IP": "100000/minute",
    "RATELIMIT_PER_KEY": "100000/minute",
    "RATELIMIT_CLAIM_PER_IP": "100000/minute",
    "RATELIMIT_CLAIM_GUESSES": "3/minute",
}
GUESSES_PER_MINUTE = 3
# What a person reads once they have tripped a limit.
RATE_LIMITED = re.compile(r"Too many attempts\. Wait (\d+ seconds|a minute), then try again\.")


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (browser tests must run under CI: .ci/run installs chromium)")
    pytest.skip(reason)


def _chromium() -> str:
    path = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if path is None:
        _unavailable("chromium is not installed: apt-get install -y chromium")
    return path


@pytest.fixture(scope="package")
def browser():
    """Headless Chromium for this package's tests; each opens its own context (cookies, storage).

    Package-scoped, not session-scoped: while Playwright's sync API runs, its event loop is the
    thread's running loop, and the bot tests' ``asyncio.run`` would fail beside it.
    """
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing: pip install -r requirements-dev.txt")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


# --- the service --------------------------------------------------------------------------------


@dataclass
class Site:
    url: str
    env: dict[str, str]
    mail_dir: Path
    server: Gunicorn
    redis_url: str | None
    counters_prefix: str

    def forget_counters(self) -> None:
        """No rate limit counter left from one test to the next."""
        if self.redis_url is None:
            self.server.stop()
            self.server.start()
            return
        import redis

        client = redis.Redis.from_url(self.redis_url)
        names = list(client.scan_iter(match=f"\\{{{self.counters_prefix}\\}}:*", count=1000))
        if names:
            client.delete(*names)
        client.close()

    def api(self, method: str, path: str, key: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {key}"}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def generate(self, key: str, **body) -> str:
        response = self.api("POST", "/codes/generate", key, json={"amount": 1, **body})
        assert response.status_code == 200, response.text
        return response.json()["data"][0]["code"]

    def claim(self, key: str, code: str, email: str) -> requests.Response:
        return self.api("POST", "/codes/claim", key, json={"code": code, "email": email})

    def exchange(self, key: str, token: str) -> requests.Response:
        return self.api("POST", "/claims/exchange", key, json={"token": token})

    def claims(self, key: str, code: str) -> list[str]:
        response = self.api("GET", f"/codes/{code}/claims", key)
        assert response.status_code == 200, response.text
        return [claim["email"] for claim in response.json()["data"]["items"]]

    def flask(self, *args: str) -> str:
        """``flask --app wsgi ARGS`` as an operator runs it, on the site's database."""
        command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
        done = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout


def _redis_url() -> str | None:
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return None
    return url


@pytest.fixture(scope="session")
def site(database, tmp_path_factory) -> Iterator[Site]:
    """gunicorn on the test database, on a free loopback port, for every browser test."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    instance = tmp_path_factory.mktemp("site")
    redis_url = _redis_url()
    prefix = f"codes-browser-{uuid.uuid4().hex}"
    env = subprocess_env(
        DATABASE_URL=database.url,
        INSTANCE_DIR=str(instance),
        MAIL_DIR=str(instance / "mail"),
        PUBLIC_URL=url,
        REDIS_URL=redis_url or "",
        BROWSER_TESTS_RATELIMIT_PREFIX=prefix,
        **LIMITS,
    )
    for name in ("SMTP_HOST", "SECRET_KEY", "TRUSTED_PROXIES", "RATELIMIT_ENABLED", "GUNICORN_CMD_ARGS"):
        env.pop(name, None)
    workers = "2" if redis_url else "1"  # without Redis, one process's memory counts exactly
    args = ("--workers", workers, "--threads", "4", "--worker-class", "gthread")
    server = Gunicorn(
        env=env, log_path=instance / "gunicorn.log", args=args, port=port, app="tests.browser.served:app"
    )
    with server:
        site = Site(url, env, instance / "mail", server, redis_url, prefix)
        yield site
        if redis_url:
            site.forget_counters()


@pytest.fixture(autouse=True)
def _no_counters_from_earlier_tests(request):
    yield
    if "site" in request.fixturenames:
        request.getfixturevalue("site").forget_counters()


# --- other origins, for the widget ---------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@dataclass
class Host:
    """A static web server on a loopback port of its own: another origin."""

    origin: str
    directory: Path

    def page(self, name: str, html: str) -> str:
        (self.directory / name).write_text(html, encoding="utf-8")
        return f"{self.origin}/{name}"


@pytest.fixture(scope="session")
def hosts(tmp_path_factory) -> Iterator[tuple[Host, Host]]:
    """Two origins serving one directory of pages: (one a project allows, one it does not)."""
    directory = tmp_path_factory.mktemp("hosts")
    (directory / "welcome.html").write_text(
        '<!doctype html><html lang="en"><head><title>Welcome</title></head>'
        "<body><main><h1>Welcome aboard</h1></main></body></html>",
        encoding="utf-8",
    )
    servers = []
    for _ in range(2):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        yield tuple(Host(f"http://127.0.0.1:{s.server_address[1]}", directory) for s in servers)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def widget_page(site: Site, public_key: str, *, attributes: str = "", style: str = "") -> str:
    """A host page that embeds the widget as the README shows, recording its events."""
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Join the beta</title>
  <style>body {{ font-family: Georgia, serif; margin: 2rem; }} {style}</style>
</head>
<body>
  <main>
    <h1>Join the beta</h1>
    <div id="claim" data-codes-claim data-public-key="{public_key}" data-api="{site.url}" {attributes}>
      <a href="{site.url}/p/acme">Claim your code on our page</a>
    </div>
  </main>
  <script>
    window.claimed = [];
    document.addEventListener("codes:claimed", function (event) {{ window.claimed.push(event.detail); }});
  </script>
  <script src="{site.url}/widget.js" defer></script>
</body>
</html>
"""


def horizontal_overflow(page) -> int:
    """Pixels of horizontal scrolling: none when the page reflows to the viewport."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
