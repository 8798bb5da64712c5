"""Pure code generation. Randomness is ``random.SystemRandom`` unless a test injects another."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable

from coolname import RandomGenerator
from coolname.data import config as _coolname_config

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
CODE_SIZE = 6

_system_random = random.SystemRandom()


@functools.cache
def _system_creative() -> RandomGenerator:
    # Building coolname's generator (its word lists) takes tens of milliseconds: once per process
    # for the system randomness, which is all it keeps (SystemRandom has no state to share).
    return RandomGenerator(_coolname_config, rand=_system_random)


class CodeGenerator:
    """Draws candidate codes of one type. ``space`` is how many distinct codes the type has."""

    def __init__(self, rng: random.Random | None = None):
        self.rng = rng or _system_random
        if rng is None:
            self._creative = _system_creative()
        else:
            self._creative = RandomGenerator(_coolname_config, rand=self.rng)
        self.spaces = {
            "creative": self._creative.get_combinations_count(2),
            "alphanumeric": len(ALPHABET) ** CODE_SIZE,
            "numeric": 10**CODE_SIZE,
        }

    def draw(self, code_type: str) -> str:
        if code_type == "creative":
            return self._creative.generate_slug(2)
        if code_type == "numeric":
            return f"{self.rng.randrange(10**CODE_SIZE):0{CODE_SIZE}d}"
        if code_type == "alphanumeric":
            return _base36(self.rng.randrange(len(ALPHABET) ** CODE_SIZE))
        raise ValueError(f"unknown code type {code_type!r}")

    def draw_distinct(self, code_type: str, count: int, *, exclude: Iterable[str] = ()) -> list[str]:
        """``count`` distinct codes not in ``exclude``; the caller made sure the space holds them.

        When the free space is dense in taken codes (numeric only can get there), the free codes
        are enumerated and sampled, so the draw never loops for long.
        """
        excluded = set(exclude)
        space = self.spaces[code_type]
        if code_type == "numeric" and len(excluded) + count > space // 2:
            free = [c for c in (f"{i:06d}" for i in range(space)) if c not in excluded]
            return self.rng.sample(free, min(count, len(free)))
        found: set[str] = set()
        # Bounded: with the space at most half full, each draw succeeds with probability >= 1/2.
        for _ in range(count * 20 + 100):
            if len(found) == count:
                break
            candidate = self.draw(code_type)
            if candidate not in excluded:
                found.add(candidate)
        return list(found)


def _base36(number: int) -> str:
    digits = []
    for _ in range(CODE_SIZE):
        number, rest = divmod(number, 36)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits))


def is_in_space(code: str, code_type: str) -> bool:
    """Whether ``code`` could have been drawn for ``code_type`` (numeric codes are alphanumeric too)."""
    if code_type == "numeric":
        return len(code) == CODE_SIZE and code.isdigit()
    if code_type == "alphanumeric":
        return len(code) == CODE_SIZE and all(c in ALPHABET for c in code)
    return "-" in code
