"""Field rules shared by both front ends. Each check returns the cleaned value or raises InvalidInput."""

from __future__ import annotations

import datetime as dt
import functools
import re

import email_validator
from email_validator import EmailNotValidError, validate_email

from shared.clock import to_naive_utc
from shared.errors import InvalidInput
from shared.models import BATCH_LENGTH, CODE_LENGTH, EMAIL_LENGTH, GENERATED_TYPES

MAX_GENERATE = 10_000
MAX_IMPORT = 10_000
MAX_SEND = 1_000
# Claims one code may admit: within a 32-bit integer column.
MAX_ALLOWED_CLAIMS = 2_000_000_000


# Characters no value of ours may hold: NUL (PostgreSQL's text refuses it) and unpaired surrogates
# (UTF-8 cannot encode them; a JSON body can carry one as "\ud800"). Refused before any lookup,
# so neither reaches a database (a paired surrogate escape decodes to one ordinary character).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_RULE = "Must not contain NUL or unpaired surrogate characters."


def is_storable(value: str) -> bool:
    """Whether ``value`` can be encoded as UTF-8 and stored in any text column of both databases."""
    return _UNSTORABLE.search(value) is None


def normalize_code(value: str, field: str = "code") -> str:
    """Codes compare trimmed and case-insensitively; they are stored lowercase."""
    cleaned = value.strip().lower()
    if not is_storable(cleaned):
        raise InvalidInput({field: [UNSTORABLE_RULE]})
    if not cleaned:
        raise InvalidInput({field: ["Must not be empty."]})
    if len(cleaned) > CODE_LENGTH:
        raise InvalidInput({field: [f"Must be at most {CODE_LENGTH} characters."]})
    return cleaned


# An imported (custom) code, once trimmed and lowercased: letters, digits, '-' and '_', starting and
# ending with a letter or digit. Typeable anywhere, safe in a URL path and in a CSV cell.
CUSTOM_CODE = re.compile(rf"[a-z0-9](?:[a-z0-9_-]{{0,{CODE_LENGTH - 2}}}[a-z0-9])?", re.ASCII)
CUSTOM_CODE_RULE = (
    f"Must be 1 to {CODE_LENGTH} letters, digits, '-' or '_', starting and ending with a letter or digit."
)
# A batch name: like a project's name, so it reads well in a URL, a file name and Discord.
BATCH_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9 _.-]{{0,{BATCH_LENGTH - 1}}}", re.ASCII)
BATCH_RULE = (
    f"Must be 1 to {BATCH_LENGTH} letters, digits, spaces, '_', '.' or '-', starting with a letter or digit."
)


def normalize_custom_code(value: str, field: str = "code") -> str:
    """A code a team brings (an import): normalized like every code, within the documented charset."""
    cleaned = value.strip().lower()
    if not CUSTOM_CODE.fullmatch(cleaned):
        raise InvalidInput({field: [CUSTOM_CODE_RULE]})
    return cleaned


def normalize_batch(value: str, field: str = "batch") -> str:
    """A batch name, trimmed; names compare exactly (``Beta`` and ``beta`` are two batches)."""
    cleaned = value.strip()
    if not BATCH_NAME.fullmatch(cleaned):
        raise InvalidInput({field: [BATCH_RULE]})
    return cleaned


# Most addresses are plain ASCII: local part letters, digits and ._+- in dot-separated runs, a
# hostname of letters, digits and single hyphens, a letters-only top-level domain. For those the
# answer is the address lowercased, without email-validator's Unicode and IDNA machinery (most of
# a claim's validation time). The pattern accepts nothing email-validator refuses
# (tests/shared/test_validation.py checks it against email-validator); anything else goes to it.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@((?:[a-z0-9]+(?:-[a-z0-9]+)*\.)+[a-z]{2,63})",
    re.ASCII | re.IGNORECASE,
)


def _plain_email(value: str) -> str | None:
    """``value`` lowercased if it is a plain address email-validator would accept as it is."""
    match = _PLAIN_EMAIL.fullmatch(value)
    if match is None or len(value) > 254:
        return None
    domain = match[1].lower()
    local_length = match.start(1) - 1
    if local_length > 64 or len(domain) > 253 or any(len(label) > 63 for label in domain.split(".")):
        return None
    for special in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        if domain == special or domain.endswith("." + special):
            return None
    return value.lower()


@functools.lru_cache(maxsize=4096)
def _normalize_email_cached(value: str) -> str | None:
    plain = _plain_email(value)
    if plain is not None:
        return plain
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized.lower()


def normalize_email(value: str, field: str = "email") -> str:
    """A syntactically valid address, lowercased (addresses compare case-insensitively here)."""
    cleaned = value.strip()
    fits = len(cleaned) <= EMAIL_LENGTH and is_storable(cleaned)
    normalized = _normalize_email_cached(cleaned) if fits else None
    if normalized is None:
        raise InvalidInput({field: ["Not a valid email address."]})
    return normalized


def clean_each(values: list[str], rule, field: str) -> list[str]:
    """Apply ``rule`` to every value, in order, without duplicates; every bad one is named."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, None] = {}
    for index, value in enumerate(values):
        try:
            cleaned[rule(value, f"{field}.{index}")] = None
        except InvalidInput as exc:
            errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    return list(cleaned)


# Timestamps are stored as naive UTC datetimes: years 1 to 9999 once the offset is applied.
TIMESTAMP_RANGE_RULE = "Must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z once converted to UTC."


def parse_timestamp(value: str | dt.datetime, field: str) -> dt.datetime:
    """ISO 8601 to naive UTC; a timestamp without an offset is taken as UTC."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except (ValueError, AttributeError):
            raise InvalidInput({field: ["Not a valid ISO 8601 timestamp."]}) from None
    try:
        return to_naive_utc(parsed)
    except OverflowError:  # 9999-12-31T23:59:59-05:00 is in year 10000 in UTC
        raise InvalidInput({field: [TIMESTAMP_RANGE_RULE]}) from None


def generate_errors(
    *,
    amount: int,
    code_type: str,
    allowed_claims: int,
    valid_from: dt.datetime | None,
    valid_until: dt.datetime | None,
    now: dt.datetime,
    max_amount: int = MAX_GENERATE,
) -> dict[str, list[str]]:
    """Every rule of a generate request that a value can break, keyed by field name."""
    errors: dict[str, list[str]] = {}
    if not 1 <= amount <= max_amount:
        errors["amount"] = [f"Must be between 1 and {max_amount}."]
    if code_type not in GENERATED_TYPES:
        errors["code_type"] = [f"Must be one of: {', '.join(GENERATED_TYPES)}."]
    errors.update(settings_errors(allowed_claims, valid_from, valid_until, now))
    return errors


def settings_errors(
    allowed_claims: int, valid_from: dt.datetime | None, valid_until: dt.datetime | None, now: dt.datetime
) -> dict[str, list[str]]:
    """The rules of the settings new codes share, generated or imported."""
    errors: dict[str, list[str]] = {}
    if allowed_claims < 1:
        errors["allowed_claims"] = ["Must be at least 1."]
    elif allowed_claims > MAX_ALLOWED_CLAIMS:
        errors["allowed_claims"] = [f"Must be at most {MAX_ALLOWED_CLAIMS}."]
    errors.update(window_errors(valid_from, valid_until, now))
    return errors


def window_errors(
    valid_from: dt.datetime | None, valid_until: dt.datetime | None, now: dt.datetime
) -> dict[str, list[str]]:
    messages: list[str] = []
    if valid_until is not None:
        if valid_from is not None and valid_until <= valid_from:
            messages.append("Must be after the time the code becomes valid.")
        if valid_until <= now:
            messages.append("Must be in the future.")
    return {"valid_until": messages} if messages else {}
