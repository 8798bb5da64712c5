"""Times as managers type them: ISO 8601 (``2025-01-31T18:00``) or relative to now (``30m``, ``2h``, ``7d``).

Relative forms may combine units (``1d12h``). Every result is naive UTC, as the domain stores times.
"""

from __future__ import annotations

import datetime as dt
import re

from bot.i18n import t
from shared.clock import utcnow
from shared.errors import InvalidInput
from shared.validation import parse_timestamp

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RELATIVE = re.compile(r"(?:\d+[smhdw])+")
_PART = re.compile(r"(\d+)([smhdw])")
# Far enough for any code; keeps timedelta and the database's timestamps in range.
_MAX_RELATIVE = dt.timedelta(days=3650)


def parse_when(value: str, field: str, *, now: dt.datetime | None = None, locale=None) -> dt.datetime:
    """``value`` as naive UTC; ``field`` names the option in the error."""
    text = value.strip().lower().replace(" ", "")
    if _RELATIVE.fullmatch(text):
        delta = dt.timedelta()
        for amount, unit in _PART.findall(text):
            if len(amount) > 7:  # 10**7 of any unit is past _MAX_RELATIVE (and int() of 5,000 digits fails)
                raise InvalidInput({field: [t(locale, "time.too_far")]})
            delta += dt.timedelta(**{_UNITS[unit]: int(amount)})
        if delta > _MAX_RELATIVE:
            raise InvalidInput({field: [t(locale, "time.too_far")]})
        return (now or utcnow()) + delta
    try:
        return parse_timestamp(value, field)
    except InvalidInput:
        if _is_iso_8601(value):
            raise  # a well-formed time out of the supported range: the domain's message names the range
        raise InvalidInput({field: [t(locale, "time.format")]}) from None


def _is_iso_8601(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
