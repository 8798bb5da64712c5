"""What several test packages need, written once: a free port, the environment of a child process
that runs this project's code, and a real gunicorn serving the app until the test is done."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_url_or_skip() -> str:
    """``TEST_REDIS_URL`` (default: the local Redis), once it answers; skipped when it does not,
    except under CI (``CI=true``), where that fails the test."""
    import pytest
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis is unreachable under CI: {exc}")
        pytest.skip(f"Redis unreachable: {exc}")
    return url


def subprocess_env(**overrides: str) -> dict[str, str]:
    """The environment for a child process that runs this project's code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.update(overrides)
    return env


class Gunicorn:
    """``wsgi:app`` in a real gunicorn on a free loopback port, its output in ``log_path``.

    ``args`` are gunicorn's command-line options (``--config``, ``--workers`` ...); without
    ``--bind`` it binds the free port itself (with ``--config``, pass the port as ``PORT``).
    Use it as a context manager, or call ``start()`` and ``stop()``.
    """

    def __init__(
        self,
        *,
        env: dict[str, str],
        log_path: Path,
        args: tuple[str, ...] = ("--workers", "2", "--threads", "4", "--worker-class", "gthread"),
        port: int | None = None,
        ready_path: str = "/healthz",
        start_timeout: float = 60,
        app: str = "wsgi:app",
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log_path = log_path
        self.args = args
        self.ready_path = ready_path
        self.start_timeout = start_timeout
        self.app = app
        self.process: subprocess.Popen | None = None

    def start(self) -> Gunicorn:
        bind = () if "--config" in self.args else ("--bind", f"127.0.0.1:{self.port}")
        command = [sys.executable, "-m", "gunicorn", *bind, "--graceful-timeout", "2", *self.args, self.app]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                requests.get(self.url + self.ready_path, timeout=1)
                return self
            except requests.RequestException:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"gunicorn did not start: {self.log()[-2000:]}") from None
                time.sleep(0.1)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as an orchestrator stops it; returns the exit status."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=kwargs.pop("timeout", 30), **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return requests.post(self.url + path, timeout=kwargs.pop("timeout", 30), **kwargs)

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *_exc) -> None:
        try:
            self.stop()
        finally:
            self.kill()
