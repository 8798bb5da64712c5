"""The one place the domain reads the time, so tests can move the clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

UTC = dt.UTC

_now: Callable[[], dt.datetime] = lambda: dt.datetime.now(UTC)  # noqa: E731


def utcnow() -> dt.datetime:
    """The current time as a naive UTC datetime, the form every column stores."""
    return _now().astimezone(UTC).replace(tzinfo=None)


def set_clock(now: Callable[[], dt.datetime] | None) -> None:
    """Replace the clock (tests); ``None`` restores the system clock."""
    global _now
    _now = now if now is not None else (lambda: dt.datetime.now(UTC))


def to_naive_utc(value: dt.datetime) -> dt.datetime:
    """Normalise an aware or naive (taken as UTC) datetime to naive UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def isoformat_z(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and ``Z``: ``2021-11-29T17:42:07.647Z``."""
    if value is None:
        return None
    value = to_naive_utc(value)
    # isoformat, not strftime: strftime("%Y") drops the leading zeros of years before 1000.
    return value.isoformat(timespec="milliseconds") + "Z"
