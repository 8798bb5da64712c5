"""Settings read from the environment, each with a default that works on a laptop.

Every variable is listed in ``.env.example``; this module is the one place that reads them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_DIR", PROJECT_ROOT / "instance"))


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _shard_ids(value: str) -> tuple[int, ...] | None:
    return tuple(int(part) for part in value.replace(",", " ").split()) or None


# How a variable's text becomes a field's value, by the field's annotation.
_PARSERS = {
    "str": str,
    "str | None": str,
    "int": int,
    "int | None": int,
    "float": float,
    "bool": _bool,
}


def _public_url(value: str | None) -> str | None:
    """The service's public base URL, without a trailing slash; ValueError unless absolute http(s)."""
    text = (value or "").strip().rstrip("/")
    if not text:
        return None
    scheme, _, rest = text.partition("://")
    if scheme.lower() not in ("http", "https") or not rest or any(ch in rest for ch in "?#"):
        raise ValueError(f"PUBLIC_URL must be an absolute http(s) URL (https://codes.example.com): {text!r}")
    return text


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'codes.sqlite3'}"


@dataclass(frozen=True)
class Settings:
    """Configuration of the service; ``Settings.from_env()`` builds it from ``os.environ``."""

    # A SQLAlchemy URL. SQLite under instance/ by default; postgresql+psycopg://... in production.
    database_url: str = field(default_factory=default_database_url)
    # Seconds a SQLite writer waits for the lock before giving up.
    sqlite_busy_timeout: int = 30
    # Connection pool of each process (PostgreSQL).
    db_pool_size: int = 5
    db_max_overflow: int = 10
    # Bodies larger than this are refused with 413.
    max_content_length: int = 1024 * 1024
    # Log level of the API, the worker and the bot.
    log_level: str = field(default="INFO", metadata={"parse": str.upper})
    # The address people reach the service at (https://codes.example.com). When set, emails and
    # DMs of projects without a claim URL link to the project's hosted claim page, /p/<slug>.
    public_url: str | None = field(default=None, metadata={"parse": _public_url})
    # Signs the claim page's session cookie (its CSRF token). Unset: a random key kept in
    # INSTANCE_DIR/secret_key, which every process of one machine shares; set it when several
    # machines or containers serve the API.
    secret_key: str | None = None
    # The API's gunicorn (gunicorn.conf.py): the port it listens on, on every interface; worker
    # processes (0: two per CPU, plus one); threads per worker; seconds one request may take.
    port: int = 8000
    web_concurrency: int = 0
    web_threads: int = 4
    web_timeout: int = 30
    # Discord bot: the bot token. No default; `python -m bot` refuses to start without it.
    discord_token: str | None = None
    # Sharding over several bot processes: the total shard count and this process's shard ids
    # ("0,1"). Unset: one process runs every shard, as many as Discord recommends.
    discord_shard_count: int | None = field(default=None, metadata={"parse": lambda v: int(v) or None})
    discord_shard_ids: tuple[int, ...] | None = field(default=None, metadata={"parse": _shard_ids})
    # An HTTP proxy for every request to Discord (its API and gateway), when egress goes through one.
    discord_proxy: str | None = None
    # Refused /claim attempts a member may make per minute before waiting.
    bot_claim_failures_per_minute: int = 5
    # Codes the bot may DM (/codes send member:...) per server per minute.
    bot_dms_per_minute: int = 10
    # Email delivery (docs/email.md). Without SMTP_HOST each message is an .eml file in MAIL_DIR.
    smtp_host: str = field(default="", metadata={"parse": str.strip})
    # 0: the usual port of SMTP_SECURITY (none 25, starttls 587, ssl 465).
    smtp_port: int = 0
    smtp_username: str = ""
    smtp_password: str = ""
    # none | starttls | ssl
    smtp_security: str = field(default="starttls", metadata={"parse": lambda v: v.strip().lower()})
    # Seconds to wait for the SMTP server to connect or answer one command.
    smtp_timeout: float = 10.0
    mail_from: str = "Codes <codes@localhost>"
    mail_dir: str = field(default_factory=lambda: str(INSTANCE_DIR / "mail"))
    # A temporary failure is retried after MAIL_RETRY_BASE_SECONDS, doubling each time (with
    # jitter) up to MAIL_RETRY_MAX_SECONDS; after MAIL_MAX_ATTEMPTS attempts it is "failed".
    mail_max_attempts: int = 8
    mail_retry_base_seconds: float = 60.0
    mail_retry_max_seconds: float = 3600.0
    # The worker takes this many due deliveries at a time and holds them for WORKER_LEASE_SECONDS;
    # a worker that dies leaves them "sending" until the lease runs out, then they are queued again.
    worker_batch_size: int = 20
    worker_lease_seconds: float = 300.0
    # Seconds an idle worker waits before looking for due deliveries again.
    worker_poll_seconds: float = 2.0
    # Webhooks (docs/webhooks.md). Endpoints must be https on public addresses; true also allows
    # loopback and private addresses (and plain http to them): development, internal networks.
    webhooks_allow_private: bool = False
    # Seconds to connect to an endpoint, and to wait for each read of its answer.
    webhook_connect_timeout: float = 3.0
    webhook_read_timeout: float = 10.0
    # A failed delivery is retried after WEBHOOK_RETRY_BASE_SECONDS, doubling (with jitter) up to
    # WEBHOOK_RETRY_MAX_SECONDS, until WEBHOOK_RETRY_WINDOW_SECONDS after it was made (3 days);
    # an endpoint failing for that long is disabled until enabled again.
    webhook_retry_base_seconds: float = 30.0
    webhook_retry_max_seconds: float = 6 * 3600.0
    webhook_retry_window_seconds: float = 3 * 24 * 3600.0
    # POSTs a worker makes at the same time; events (and their delivery log) are kept this long.
    webhook_concurrency: int = 4
    webhook_retention_days: int = 30
    # Abuse resistance (docs/abuse.md). RATELIMIT_ENABLED=false turns every limit off (load tests).
    ratelimit_enabled: bool = True
    # Rate limit counters live in Redis when set (shared by every API process), else in memory.
    redis_url: str | None = None
    # Limits in the `limits` package's notation: "300 per minute", "10/second;1000/hour".
    ratelimit_per_ip: str = "300 per minute"
    ratelimit_per_key: str = "1200 per minute"
    ratelimit_claim_per_ip: str = "30 per minute"
    ratelimit_generate_per_key: str = "60 per minute"
    ratelimit_send_per_key: str = "60 per minute"
    # Anti-guessing: claims of unknown codes per client IP and project; then 429 on claims.
    ratelimit_claim_guesses: str = "10 per minute"
    # Proxies in front of the API that append to X-Forwarded-For; 0 ignores the header.
    trusted_proxies: int = 0
    # Idempotency-Key: responses are replayed for IDEMPOTENCY_TTL_SECONDS; a request holds its
    # key for IDEMPOTENCY_LEASE_SECONDS at most, so a crashed one does not block it for good.
    idempotency_ttl_seconds: int = 24 * 3600
    idempotency_lease_seconds: int = 60

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Each field from the variable of its name in upper case; unset or empty: its default."""
        env = os.environ if env is None else env
        values = {}
        for setting in fields(cls):
            raw = env.get(setting.name.upper())
            if raw is None or raw.strip() == "":
                continue
            parse = setting.metadata.get("parse") or _PARSERS[setting.type]
            try:
                values[setting.name] = parse(raw)
            except ValueError:
                raise ValueError(f"{setting.name.upper()}={raw!r} is not a valid value.") from None
        return cls(**values)
