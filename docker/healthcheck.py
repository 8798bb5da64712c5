"""The image's HEALTHCHECK: exit 0 when ``GET /healthz`` of this container's API answers 200.

Standard library only (the slim image has no curl); the port is the API's, ``PORT``.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.config import Settings  # noqa: E402


def main() -> int:
    url = f"http://127.0.0.1:{Settings.from_env().port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:  # refused, timed out, or an HTTP error status
        print(f"healthcheck: GET {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
