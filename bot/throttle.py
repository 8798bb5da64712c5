"""The DM throttle: Discord flags and rate-limits bots that DM many people quickly (40003).

Two limits: at most ``per_guild`` DMs a minute for each server (over it, the manager is told how
long to wait), and one DM at a time per process, ``spacing`` seconds apart (callers queue).
The state is in memory on purpose: a server's interactions always reach the one shard, hence the
one process, that owns the server, so the per-server count is complete without the database.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable


class DMThrottled(Exception):
    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"DM limit reached; retry in {retry_after} s")


class DMThrottle:
    def __init__(
        self,
        per_guild: int = 10,
        *,
        window: float = 60.0,
        spacing: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.per_guild = per_guild
        self.window = window
        self.spacing = spacing
        self._clock = clock
        self._sent: defaultdict[int, deque[float]] = defaultdict(deque)
        self._lock = asyncio.Lock()
        self._last = -math.inf

    def reserve(self, guild_id: int) -> None:
        """Count one DM for ``guild_id`` now, or raise DMThrottled with the seconds to wait."""
        now = self._clock()
        sent = self._sent[guild_id]
        while sent and sent[0] <= now - self.window:
            sent.popleft()
        if len(sent) >= self.per_guild:
            raise DMThrottled(max(1, math.ceil(sent[0] + self.window - now)))
        sent.append(now)

    async def pace(self) -> None:
        """Wait for this process's turn to send a DM."""
        async with self._lock:
            delay = self._last + self.spacing - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            self._last = self._clock()
