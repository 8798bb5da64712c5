"""The Discord bot: managers run the codes service from their server, members claim codes.

``create_bot()`` builds it without connecting; ``python -m bot`` runs it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bot.client import CodesBot
from shared.config import Settings
from shared.db import make_engine, make_sessionmaker


def create_bot(
    settings: Settings | None = None, *, session_factory: sessionmaker[Session] | None = None
) -> CodesBot:
    """The configured bot, not connected. ``await bot.setup_hook()`` fills ``bot.tree`` offline.

    Without ``session_factory`` the bot opens its own engine on ``settings.database_url`` (the
    API's database) and disposes of it when it closes.
    """
    settings = settings or Settings.from_env()
    engine = None
    if session_factory is None:
        engine = make_engine(
            settings.database_url,
            busy_timeout=settings.sqlite_busy_timeout,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        session_factory = make_sessionmaker(engine)
    return CodesBot(settings, session_factory, engine=engine)


__all__ = ["CodesBot", "create_bot"]
