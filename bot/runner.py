"""Domain calls off the event loop: one worker thread, one session and one transaction per call.

A synchronous database call on the event loop would stall the gateway heartbeat, and Discord
then drops the interaction ("Unknown interaction", 10062). So every handler goes through here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from shared.transactions import begin_read

P = ParamSpec("P")
T = TypeVar("T")


class Runner:
    """``await runner.run(fn, *args)`` calls ``fn(session, *args)`` in a thread and commits."""

    def __init__(self, session_factory: sessionmaker[Session]):
        self.session_factory = session_factory

    async def run(self, fn: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """A writing call: committed when ``fn`` returns, rolled back when it raises."""
        return await asyncio.to_thread(self._call, fn, False, args, kwargs)

    async def read(self, fn: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """A reading call: on SQLite it takes no write lock, so it never waits behind writers."""
        return await asyncio.to_thread(self._call, fn, True, args, kwargs)

    def _call(self, fn, reading: bool, args, kwargs):
        with self.session_factory() as session:
            try:
                if reading:
                    begin_read(session)
                result = fn(session, *args, **kwargs)
                session.commit()
            except BaseException:
                session.rollback()
                raise
            return result
