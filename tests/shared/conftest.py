"""Helpers for the domain tests: committed codes, a scripted code generator, a fixed start time."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterable

import pytest

from shared.codegen import CodeGenerator
from shared.codes import generate_codes
from shared.records import CodeRecord

# Domain tests that move the clock start here; every window is expressed relative to it.
T0 = dt.datetime(2030, 1, 1, 12, 0, 0)


class ScriptedGenerator(CodeGenerator):
    """Draws the given codes in order (then the last one forever); ``spaces`` may be shrunk."""

    def __init__(self, codes: Iterable[str] = (), **spaces: int):
        super().__init__(random.Random(0))
        self.spaces.update(spaces)
        script = list(codes)
        self._script = itertools.chain(script, itertools.repeat(script[-1])) if script else None
        self.draws = 0

    def draw(self, code_type: str) -> str:
        self.draws += 1
        if self._script is None:
            return super().draw(code_type)
        return next(self._script)


@pytest.fixture
def clock(clock_at):
    """The domain's clock frozen at T0."""
    return clock_at(T0)


@pytest.fixture
def make_code(session_factory, project):
    """Generate one code and commit it; options are those of ``generate_codes``."""

    def make(*, project_id: int | None = None, **options) -> CodeRecord:
        with session_factory() as session:
            [record] = generate_codes(session, project_id or project.id, amount=1, **options)
            session.commit()
        return record

    return make
