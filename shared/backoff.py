"""When to try again: exponential backoff with jitter, for the email and webhook workers."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """Attempt n waits base * 2**(n-1), capped, times a random factor in [0.5, 1): each wait is
    at least as long as the one before, and retries of one outage spread out but never come back
    at once."""

    base_seconds: float
    max_seconds: float
    rng: random.Random = field(default_factory=random.SystemRandom)

    def delay(self, attempts: int) -> dt.timedelta:
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        return dt.timedelta(seconds=ceiling * self.rng.uniform(0.5, 1.0))
