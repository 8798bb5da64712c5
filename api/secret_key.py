"""The key that signs the claim page's session cookie (where its CSRF token lives).

``SECRET_KEY`` when it is set (several machines or containers: set it, the same on each). Else a
random key kept in ``INSTANCE_DIR/secret_key``, made by whichever process starts first: every
gunicorn worker of ``make run`` reads the same file, and it survives restarts, so a page opened
before a restart can still be submitted after it.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

FILE_NAME = "secret_key"


def instance_secret_key(directory: Path) -> str:
    path = directory / FILE_NAME
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{FILE_NAME}.")  # mode 0600
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
            # A link is atomic and never replaces: when processes race, the first one's key wins
            # and every one reads that.
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable key: delete it, or set SECRET_KEY.")
    return key
