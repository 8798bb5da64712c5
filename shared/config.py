"""Settings read from the environment, each with a default that works on a laptop.

Every variable is listed in ``.env.example``; this module is the one place that reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_DIR", PROJECT_ROOT / "instance"))


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(value: str | None, default: int) -> int:
    if value is None or value.strip() == "":
        return default
    return int(value)


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
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            database_url=env.get("DATABASE_URL") or default_database_url(),
            sqlite_busy_timeout=_int(env.get("SQLITE_BUSY_TIMEOUT"), 30),
            db_pool_size=_int(env.get("DB_POOL_SIZE"), 5),
            db_max_overflow=_int(env.get("DB_MAX_OVERFLOW"), 10),
            max_content_length=_int(env.get("MAX_CONTENT_LENGTH"), 1024 * 1024),
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
        )
