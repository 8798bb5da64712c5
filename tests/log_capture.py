"""Capture what a process would log, as the JSON lines its handler writes (shared.logging)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Callable, Iterator

from shared.logging import JsonFormatter, RedactingFilter


@contextlib.contextmanager
def json_log_lines(service: str = "api") -> Iterator[Callable[[], list[dict]]]:
    """Within the block, every record that reaches the root logger is formatted like in
    production; the yielded function returns the lines written so far, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
