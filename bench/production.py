"""The production configuration: the API as deployed, with its rate limits on and Redis storage.

Every limit is raised so that nothing is refused (a 429 fails the run): what is measured is the
counting, the storage round trips each request makes. The counters live in ``BENCH_REDIS_URL``
(default ``redis://127.0.0.1:6379/0``) under a key prefix of the run's own, and the run deletes
exactly those keys at the end.
"""

from __future__ import annotations

import redis

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
RAISED_LIMIT = "1000000 per minute"
LIMIT_SETTINGS = (
    "RATELIMIT_PER_IP",
    "RATELIMIT_PER_KEY",
    "RATELIMIT_CLAIM_PER_IP",
    "RATELIMIT_GENERATE_PER_KEY",
    "RATELIMIT_SEND_PER_KEY",
    "RATELIMIT_CLAIM_GUESSES",
)


def limited_env(env: dict[str, str], redis_url: str) -> dict[str, str]:
    """``env`` (the API's, limits off) with every limit on, raised, and counted in Redis."""
    return {
        **env,
        "RATELIMIT_ENABLED": "true",
        "REDIS_URL": redis_url,
        **dict.fromkeys(LIMIT_SETTINGS, RAISED_LIMIT),
    }


def limited_app(key_prefix: str) -> str:
    """gunicorn's target: the API with the run's key prefix, the one setting with no variable."""
    return f"api:create_app({{'RATELIMIT_KEY_PREFIX': {key_prefix!r}}})"


class RedisUnreachable(RuntimeError):
    pass


class Counters:
    """The run's rate limit counters in Redis."""

    def __init__(self, redis_url: str, key_prefix: str):
        self.redis_url = redis_url
        self.client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=10)
        # api.limits names each counter {<key prefix>}:<scope>:<who>:<window> (the braces escaped
        # for SCAN's glob).
        self.pattern = f"\\{{{key_prefix}\\}}:*"

    def check_reachable(self) -> None:
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise RedisUnreachable(
                f"the production row needs Redis at {self.redis_url} (set BENCH_REDIS_URL): {exc}"
            ) from exc

    def keys(self) -> list[bytes]:
        return list(self.client.scan_iter(match=self.pattern, count=1000))

    def delete(self) -> int:
        keys = self.keys()
        if keys:
            self.client.delete(*keys)
        return len(keys)

    def close(self) -> None:
        self.client.close()
