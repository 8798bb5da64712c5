"""Plain values the services return: no session attached, safe to hand to another thread."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from shared.errors import InvalidCursor, InvalidInput

T = TypeVar("T")

CODE_COLUMNS = (
    "id",
    "code",
    "type",
    "allowed_claims",
    "claims",
    "valid_from",
    "valid_until",
    "reserved_for",
    "discord_guild_id",
    "discord_role_id",
    "created_at",
    "updated_at",
    "batch",
    "assigned_email",
    "assigned_discord_user_id",
    "assigned_at",
)

# The columns above that hold times: a text() statement that returns codes types them with these.
CODE_DATETIME_COLUMNS = ("valid_from", "valid_until", "created_at", "updated_at", "assigned_at")

# What ``CodeRecord.status`` can answer, in the order it checks.
CODE_STATUSES = ("expired", "fully_claimed", "not_yet_valid", "active")


@dataclass(frozen=True, slots=True)
class CodeRecord:
    id: int
    code: str
    type: str
    allowed_claims: int
    claims: int
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    reserved_for: str | None
    discord_guild_id: int | None
    discord_role_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    batch: str | None = None
    # Handed out from its batch (shared.codes.assign): to an email address or a Discord member.
    assigned_email: str | None = None
    assigned_discord_user_id: int | None = None
    assigned_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row) -> CodeRecord:
        return cls(*(getattr(row, name) for name in CODE_COLUMNS))

    def status(self, now: dt.datetime) -> str:
        """expired, else fully_claimed, else not_yet_valid, else active."""
        if self.valid_until is not None and self.valid_until <= now:
            return "expired"
        if self.claims >= self.allowed_claims:
            return "fully_claimed"
        if self.valid_from is not None and self.valid_from > now:
            return "not_yet_valid"
        return "active"


@dataclass(frozen=True, slots=True)
class SkippedCode:
    code: str
    # code_exists: the project has it already; duplicate: it came earlier in the same import.
    reason: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int
    skipped: list[SkippedCode]


@dataclass(frozen=True, slots=True)
class AssignResult:
    code: CodeRecord
    # False when this person had been given the code before (assigning is idempotent).
    new: bool


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """A batch and how far its codes went. ``available``: what assigning can still hand out."""

    name: str
    total: int
    unclaimed: int
    assigned: int
    claimed: int
    available: int


@dataclass(frozen=True, slots=True)
class ClaimResult:
    token: str
    code: CodeRecord
    email: str | None
    discord_user_id: int | None
    claimed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ClaimRecord:
    email: str | None
    discord_user_id: int | None
    claimed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ExchangeResult:
    email: str | None
    discord_user_id: int | None
    code: CodeRecord
    claimed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class SkippedRecipient:
    email: str
    reason: str


@dataclass(frozen=True, slots=True)
class SendResult:
    received: int
    notified: int
    skipped: list[SkippedRecipient]
    delivery_ids: list[int]


@dataclass(frozen=True, slots=True)
class DeleteResult:
    code: CodeRecord
    claims_deleted: int
    deliveries_removed: int
    # Discord members who claimed a code that grants a role: the bot takes the role back.
    role_holders: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


# Row ids are positive 64-bit integers on both databases; a cursor past them is no position.
_MAX_ROW_ID = 2**63 - 1


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        version, _, value = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        if version != "v1" or not value.isascii() or not value.isdigit() or not 0 < int(value) <= _MAX_ROW_ID:
            raise ValueError
        return int(value)
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidInput({"cursor": ["Not a valid cursor."]}) from None


MAX_PAGE = 100


def invalid_page_request(errors: dict[str, list[str]]) -> InvalidInput:
    """The error for a page request's ``errors``: ``InvalidCursor`` when the cursor is among them."""
    return InvalidCursor(errors) if "cursor" in errors else InvalidInput(errors)


def page_start(limit: int, cursor: str | None, errors: dict[str, list[str]]) -> int | None:
    """Check a page request, adding what is wrong to ``errors``; the id the page starts below."""
    if not 1 <= limit <= MAX_PAGE:
        errors["limit"] = [f"Must be between 1 and {MAX_PAGE}."]
    if not cursor:
        return None
    try:
        return decode_cursor(cursor)
    except InvalidInput as exc:
        errors.update(exc.errors)
        return None
