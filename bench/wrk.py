"""Run wrk (Debian's ``wrk`` package) against a loopback server and read its results."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

SCRIPT = Path(__file__).resolve().parent / "lua" / "codes.lua"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class WrkMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    errors: dict[str, int]
    p50_ms: float
    p99_ms: float

    @property
    def ok_requests(self) -> int:
        return self.requests - self.errors.get("status_errors", 0)

    @property
    def rps(self) -> float:
        return self.ok_requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing(
            "wrk is not installed. On Debian or Ubuntu: apt-get install -y wrk "
            "(`make bench` does this itself when it runs as root)."
        )
    return path


def parse_output(stdout: str) -> WrkRun:
    """The ``WRK_JSON`` line that ``codes.lua``'s done() prints."""
    for line in stdout.splitlines():
        if line.startswith("WRK_JSON "):
            data = json.loads(line.removeprefix("WRK_JSON "))
            errors = {
                name: data[name]
                for name in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
            }
            return WrkRun(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                errors=errors,
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
            )
    raise RuntimeError(f"wrk printed no results:\n{stdout[-2000:]}")


def run(
    url: str,
    *,
    mode: str,
    codes_file: Path,
    email_prefix: str = "x",
    key: str = "",
    connections: int = 32,
    threads: int = 2,
    seconds: float = 10,
) -> WrkRun:
    """Load ``url`` (loopback only) for ``seconds`` with ``connections`` concurrent clients."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"the benchmark only sends traffic to loopback, not to {host!r}")
    command = [
        wrk_path(),
        "--connections",
        str(connections),
        "--threads",
        str(min(threads, connections)),
        "--duration",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--script",
        str(SCRIPT),
        url,
        "--",
        mode,
        str(codes_file),
        email_prefix,
        key,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return parse_output(completed.stdout)
