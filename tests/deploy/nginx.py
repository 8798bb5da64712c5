"""The proxy of docker-compose.yml, run here: docker/nginx/templates/default.conf.template rendered
as the official nginx image renders it, and served by Debian's nginx as this (unprivileged or not)
user, with every path it writes under a temporary prefix."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import ROOT, free_port

TEMPLATE = ROOT / "docker" / "nginx" / "templates" / "default.conf.template"
# The variables compose gives the proxy (NGINX_ENVSUBST_FILTER=^CODES_).
TEMPLATE_VARIABLES = ("CODES_LISTEN", "CODES_UPSTREAM", "CODES_MAX_BODY_SIZE")
_REFERENCE = re.compile(r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


def render(text: str, variables: dict[str, str]) -> str:
    """What the image's entrypoint does: ``envsubst`` with the list of defined variables, which
    replaces ``$NAME`` and ``${NAME}`` for those names only (nginx's own ``$host`` stays)."""

    def substitute(match: re.Match) -> str:
        name = match["braced"] or match["bare"]
        return variables[name] if name in variables else match[0]

    return _REFERENCE.sub(substitute, text)


def nginx_binary() -> str:
    """Debian's nginx (.ci/run installs it); skipped on a laptop without it, a failure under CI."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing: apt-get install -y nginx")
        pytest.skip("nginx is not installed (Debian/Ubuntu: apt-get install nginx)")
    return binary


# The official image's /etc/nginx/nginx.conf, with its paths moved under the prefix.
MAIN_CONF = """\
daemon off;
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
{user}
events {{
    worker_connections 1024;
}}
http {{
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    sendfile on;
    keepalive_timeout 65;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/conf.d/*.conf;
}}
"""


class Nginx:
    """The proxy config in front of ``upstream`` (host:port), on a free loopback port."""

    def __init__(self, prefix: Path, *, upstream: str, max_body_size: int, port: int | None = None):
        self.prefix = prefix
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.variables = {
            "CODES_LISTEN": f"127.0.0.1:{self.port}",
            "CODES_UPSTREAM": upstream,
            "CODES_MAX_BODY_SIZE": str(max_body_size),
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> Nginx:
        (self.prefix / "conf.d").mkdir(parents=True, exist_ok=True)
        rendered = render(TEMPLATE.read_text(), self.variables)
        (self.prefix / "conf.d" / "default.conf").write_text(rendered)
        # Workers run as the test's user too (as root, nginx would otherwise switch them to nobody,
        # who may not enter the temporary prefix).
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
        (self.prefix / "nginx.conf").write_text(MAIN_CONF.format(prefix=self.prefix, user=user))
        command = [nginx_binary(), "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")]
        command += ["-e", str(self.prefix / "error.log")]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"nginx did not start: {self.error_log()[-2000:]}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()
