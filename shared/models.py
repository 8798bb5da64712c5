"""SQLAlchemy 2.0 models. Every invariant that concurrency could break is a database constraint.

All timestamps are naive UTC (``shared.clock.utcnow``), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db import Base

# SQLite only auto-increments an INTEGER PRIMARY KEY, so big ids are INTEGER there.
BigId = BigInteger().with_variant(Integer(), "sqlite")

CODE_TYPES = ("creative", "alphanumeric", "numeric", "custom")
# The types generate draws; ``custom`` codes are a team's own values, brought by an import.
GENERATED_TYPES = ("creative", "alphanumeric", "numeric")
DELIVERY_STATUSES = ("queued", "sending", "sent", "failed", "cancelled")
WEBHOOK_DELIVERY_STATUSES = ("pending", "sending", "succeeded", "failed")
EMAIL_LENGTH = 320
CODE_LENGTH = 64
BATCH_LENGTH = 100
SLUG_LENGTH = 64
URL_LENGTH = 2000
# A redeem panel's embed: Discord allows a 256-character title; the description is kept short.
PANEL_TITLE_LENGTH = 256
PANEL_DESCRIPTION_LENGTH = 2000


def _partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index of the rows ``where`` holds, on SQLite and PostgreSQL alike."""
    return Index(name, *columns, unique=unique, sqlite_where=text(where), postgresql_where=text(where))


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # SHA-256 hex digests; the keys themselves are shown once and never stored.
    public_key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    secret_key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    # Email delivery: where a recipient claims ({code} is replaced) and optional templates.
    claim_url: Mapped[str | None] = mapped_column(String(2000))
    mail_subject_template: Mapped[str | None] = mapped_column(Text)
    mail_text_template: Mapped[str | None] = mapped_column(Text)
    mail_html_template: Mapped[str | None] = mapped_column(Text)
    # Browser origins allowed to claim with the public key (CORS).
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The hosted claim page, /p/<slug> (none without a slug), and where it sends a successful
    # claimant with ?claim_token=... (none: it shows its own success page).
    slug: Mapped[str | None] = mapped_column(String(SLUG_LENGTH), unique=True)
    redirect_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    # Webhooks also carry the endpoint's secret itself in a `lancero-signature` header, as the
    # product this API mirrors does (weaker than the HMAC signature; docs/webhooks.md).
    webhook_lancero_signature: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Code(Base):
    __tablename__ = "codes"
    __table_args__ = (
        UniqueConstraint("project_id", "code"),
        CheckConstraint("claims >= 0", name="claims_not_negative"),
        CheckConstraint("claims <= allowed_claims", name="claims_within_allowed"),
        CheckConstraint("allowed_claims >= 1", name="allowed_claims_positive"),
        CheckConstraint("type IN ('creative', 'alphanumeric', 'numeric', 'custom')", name="type_known"),
        CheckConstraint(
            "valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from",
            name="window_ordered",
        ),
        Index("ix_codes_project_id_id", "project_id", "id"),
        # generate counts a project's codes of a type only as far as it must (shared.codes.generate).
        Index("ix_codes_project_id_type", "project_id", "type"),
        # A code is handed out (shared.codes.assign) within its batch, to one person at most.
        CheckConstraint(
            "assigned_at IS NULL OR (batch IS NOT NULL"
            " AND (assigned_email IS NOT NULL OR assigned_discord_user_id IS NOT NULL))",
            name="assignment_in_batch",
        ),
        # The indexes below hold batched codes only: a project without batches pays nothing.
        # A batch's codes, newest first (listing, export, counts).
        _partial_index(
            "ix_codes_project_id_batch_id", "project_id", "batch", "id", where="batch IS NOT NULL"
        ),
        # The codes a batch can still hand out, oldest first: assigning takes the first without
        # walking the others. Ordered by created_at (no other index is), so no plan but this one
        # avoids a sort, whatever the statistics say (shared.codes.assign).
        _partial_index(
            "ix_codes_unassigned",
            "project_id",
            "batch",
            "created_at",
            "id",
            where="batch IS NOT NULL AND assigned_at IS NULL",
        ),
        # One code per person per batch, whatever the races: the database refuses a second.
        _partial_index(
            "uq_codes_project_id_batch_assigned_email",
            "project_id",
            "batch",
            "assigned_email",
            where="assigned_email IS NOT NULL",
            unique=True,
        ),
        _partial_index(
            "uq_codes_project_id_batch_assigned_discord_user_id",
            "project_id",
            "batch",
            "assigned_discord_user_id",
            where="assigned_discord_user_id IS NOT NULL",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # Always stored lowercase; lookups trim and lowercase their input.
    code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    type: Mapped[str] = mapped_column(String(16))
    allowed_claims: Mapped[int] = mapped_column(Integer, default=1)
    claims: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[dt.datetime | None] = mapped_column(DateTime)
    valid_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reserved_for: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))
    # Discord: claiming the code in this guild grants this role.
    discord_guild_id: Mapped[int | None] = mapped_column(BigInteger)
    discord_role_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # A named group of codes (generate, import); compared exactly.
    batch: Mapped[str | None] = mapped_column(String(BATCH_LENGTH))
    # Handed out from its batch (POST /codes/assign, a hand-out panel): to whom, and when.
    assigned_email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))
    assigned_discord_user_id: Mapped[int | None] = mapped_column(BigInteger)
    assigned_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Claim(Base):
    """One claim of a code, by an email address, a Discord member, or both."""

    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("code_id", "email"),
        UniqueConstraint("code_id", "discord_user_id"),
        CheckConstraint("email IS NOT NULL OR discord_user_id IS NOT NULL", name="has_claimant"),
        Index("ix_claims_code_id_id", "code_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("codes.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))
    discord_user_id: Mapped[int | None] = mapped_column(BigInteger)
    # SHA-256 of the one-time token a page hands its backend to verify the claim.
    token_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Delivery(Base):
    """A code to be emailed to one recipient; sent by the worker, kept as a record once sent."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')", name="status_known"
        ),
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_deliveries_code_id_id", "code_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # Unsent deliveries go with their code; sent ones stay as a record, detached.
    code_id: Mapped[int | None] = mapped_column(ForeignKey("codes.id", ondelete="SET NULL"))
    code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # While "sending": when the worker's lease runs out and the delivery may be taken again.
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Guild(Base):
    """A Discord server linked to a project."""

    __tablename__ = "guilds"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    manager_role_id: Mapped[int | None] = mapped_column(BigInteger)
    log_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    # Log channel lines name codes in full only when the server turns this on (/codes config).
    log_code_values: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    linked_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class DiscordClaimFailure(Base):
    """A refused /claim, counted per member so nobody guesses codes through Discord."""

    __tablename__ = "discord_claim_failures"
    __table_args__ = (Index("ix_discord_claim_failures_user_at", "discord_user_id", "failed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    discord_user_id: Mapped[int] = mapped_column(BigInteger)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    failed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class DiscordRoleGrant(Base):
    """The role a Discord member's claim grants: pending (``granted_at`` null) until the bot has
    granted it, so a grant that failed (permissions, role position, an outage) can be finished.

    Written in the claim's own transaction; goes with the claim.
    """

    __tablename__ = "discord_role_grants"

    claim_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("claims.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    granted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Why the last attempt failed, as Discord said it ("Missing Permissions (50013)").
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class DiscordPanel(Base):
    """A panel: a message with a button, at most one per channel. A redeem panel's button opens a
    form to claim a code; a hand-out panel (``batch`` set) gives each member one code of the batch.

    ``message_id`` is null while the message is being posted.
    """

    __tablename__ = "discord_panels"

    channel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(PANEL_TITLE_LENGTH))
    description: Mapped[str] = mapped_column(String(PANEL_DESCRIPTION_LENGTH))
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # A hand-out panel's batch; null for a redeem panel.
    batch: Mapped[str | None] = mapped_column(String(BATCH_LENGTH))


class IdempotencyKey(Base):
    """An Idempotency-Key a project sent: the request it was first used for, and its response.

    The unique (project_id, key) pair is the in-progress marker: the first request to insert it
    runs, the others replay or are refused. ``response_status`` is null while it runs; its lease
    (``locked_until``) lets another request take the key over if the first one died.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("project_id", "key"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the method, the path and the body in canonical JSON.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # The attempt holding the key while it runs, and until when.
    lock_token: Mapped[str | None] = mapped_column(String(32))
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class WebhookEndpoint(Base):
    """A URL of a project's backend that hears of the events it subscribes to.

    The signing secret is kept as it is (it signs every delivery); the API shows it once.
    ``failing_since`` is the first failure since the last success; an endpoint failing for the
    whole retry window is disabled (``disabled_at``) until the API or the CLI enables it again.
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_project_id_id", "project_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))
    # After a rotation the old secret also signs, until it expires, so receivers can switch over.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    failing_since: Mapped[dt.datetime | None] = mapped_column(DateTime)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class WebhookEvent(Base):
    """Something that happened in a project, written in the transaction of the change itself
    (a transactional outbox). ``data`` is a snapshot in the domain's own terms; the wire shape
    is made when it is sent. ``dispatched_at`` is set once a delivery exists per endpoint."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_dispatched_at_id", "dispatched_at", "id"),
        Index("ix_webhook_events_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The id receivers see (webhook-id, "event"), for deduplication and POST /webhooks/construct.
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class WebhookDelivery(Base):
    """One event to one endpoint: ``pending`` -> ``sending`` -> ``succeeded``, or back to
    ``pending`` for a retry, or ``failed`` once ``give_up_at`` passed. ``attempts`` fences a
    worker whose lease ran out (like mail deliveries)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'succeeded', 'failed')", name="status_known"),
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=utcnow)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Retries stop after this; a manual retry or enabling the endpoint moves it on.
    give_up_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    succeeded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class WebhookAttempt(Base):
    """One POST of a delivery: the delivery log."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_id_attempt", "delivery_id", "attempt"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    # When the delivery is due again after this attempt; null after a success or the last one.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
