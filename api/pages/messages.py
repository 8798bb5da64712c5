"""What the claim page and the widget say to a person, written once for both.

Keys are the API's error codes (the widget reads them from ``POST /codes/claim``'s answers), plus
a few of the page's and the widget's own. The page adds dates where it knows them.
"""

from __future__ import annotations

import datetime as dt

from shared import errors

REFUSALS = {
    "code_not_found": "We couldn't find that code. Check it for typos and try again.",
    "code_reserved": "This code is reserved for another email address. Use the address it was sent to.",
    "code_already_claimed": "You have already claimed this code with this email address.",
    "code_not_yet_valid": "This code can't be claimed yet.",
    "code_expired": "This code has expired.",
    "code_fully_claimed": "This code has already been claimed as many times as it allows.",
    "rate_limited": "Too many attempts. Wait {wait}, then try again.",
    "form_expired": "This form was open too long or your browser blocked its cookie. Press Claim again.",
    "network": "We couldn't reach the code service. Check your connection and try again.",
    "not_set_up": "This form isn't set up correctly, so codes can't be claimed here yet.",
    "unexpected": "Something went wrong on our side. Try again in a moment.",
}

FIELDS = {
    "code": {"missing": "Enter your code.", "invalid": "Codes are at most 64 characters. Check your code."},
    "email": {
        "missing": "Enter your email address.",
        "invalid": "Enter an email address like name@example.com.",
    },
}

SUCCESS = "Code claimed. It's yours."

# The page's sentences when it knows the date.
NOT_YET_VALID_FROM = "This code can't be claimed yet. You can claim it from {date}."
EXPIRED_ON = "This code expired on {date}."


def field_error(field: str, value: str | None) -> str:
    return FIELDS[field]["missing" if not (value or "").strip() else "invalid"]


def refusal(error: errors.DomainError) -> str:
    return REFUSALS.get(error.code, REFUSALS["unexpected"])


def rate_limited(seconds: int | None) -> str:
    return REFUSALS["rate_limited"].format(wait=wait_phrase(seconds))


def wait_phrase(seconds: int | None) -> str:
    """``45 seconds``, ``a minute``, ``5 minutes`` (the widget's ``waitPhrase`` says the same)."""
    if seconds is None or seconds <= 0:
        return "a minute"
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def format_date(value: dt.datetime) -> str:
    """``1 January 2031 at 09:00 UTC``: a date nobody reads the wrong way round."""
    return f"{value.day} {value:%B %Y} at {value:%H:%M} UTC"


def for_widget() -> dict:
    """Every sentence the widget may show, as it receives them (``api.pages.widget``)."""
    return {"refusals": REFUSALS, "fields": FIELDS, "success": SUCCESS}
