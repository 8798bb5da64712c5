"""Bot tests are ``async def``: each runs in its own event loop, inside its ``harness``.

A tiny hook instead of pytest-asyncio: one ``asyncio.run`` per test, with every ``Harness``
argument entered (bot built, cogs loaded, guild cached, wire recorded) before the test body.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import warnings

import pytest

with warnings.catch_warnings():
    # discord.py imports the stdlib's audioop (voice support, unused here), deprecated since 3.11.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord  # noqa: F401

from shared.config import Settings
from tests.bot.harness import Harness


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}

    async def main():
        async with contextlib.AsyncExitStack() as stack:
            for value in arguments.values():
                if isinstance(value, Harness):
                    await stack.enter_async_context(value)
            await pyfuncitem.obj(**arguments)

    asyncio.run(main())
    return True


@pytest.fixture
def harness(session_factory, database) -> Harness:
    return Harness(session_factory, settings=Settings(database_url=database.url))


@pytest.fixture
def linked(project, session_factory):
    """The harness's server, linked to the ``project`` fixture's project."""
    from shared.guilds import link_guild_to_project
    from tests.bot.harness import GUILD_ID

    with session_factory() as session:
        link_guild_to_project(session, GUILD_ID, project.name)
        session.commit()
    return project
