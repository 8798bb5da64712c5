"""Rate limits: per client IP and per key on every route, tighter ones on the expensive writes,
and anti-guessing on claims; all of a request's limits checked and counted in one step.

The table ``RULES`` is the whole policy. Before the view runs, the rules that apply to the request
become counters of the current window (``api.counters``), and one call counts the request in all
of them at once or, when one is full, in none: with Redis that is one round trip (one Lua script)
whatever the number of limits, and the answer carries every count, so the X-RateLimit headers
need no further query. The limits are written in the ``limits`` package's notation ("30 per
minute", "10/second;1000/hour"), parsed once at startup.

Anti-guessing counts first, then answers. A claim that found no such code (``code_not_found``) is
the only answer that tells someone walking the code space anything, so claims are limited to
``RATELIMIT_CLAIM_GUESSES`` such answers per client IP and project key. Every claim reserves one
of those before it looks the code up, in the same step as the other limits, and is refused 429
when none is left; a claim that then turns out not to be a guess (it succeeded, or was refused
for an existing code, or was a replay or a validation error) gives its reservation back after
the view (in Redis, carried by the process's next call: no round trip of its own). So N
simultaneous guesses get at most the limit's worth of ``code_not_found``, and a 429 says nothing
about whether a code exists. The price: an address may have at most that many claims to one
project in flight at once (or given back in the last few milliseconds).

Counters are named ``{<prefix>}:<scope>:<who>:<window>s``, where who is the client IP, a key by
its row (``p<project id>.pk`` or ``.sk``), or both: never a key or its digest.
Every name carries the same hash tag, so one script is valid on Redis Cluster (api.counters).

The client IP is the connecting address, or, with ``TRUSTED_PROXIES=n``, what the n proxies in
front appended to ``X-Forwarded-For`` (werkzeug's ProxyFix); without it the header is ignored, so
nobody can pick their own IP. Counters are kept in Redis when ``REDIS_URL`` is set (every API
process shares them; if Redis goes away each process counts in memory until it is back), else in
the process's memory, exact because ``make run`` and gunicorn.conf.py then serve one process.
``RATELIMIT_ENABLED=false`` installs nothing at all.

Other routes that claim (the hosted claim page, ``api.pages``) go through the same limits and
the same counters: they register with :func:`limit_as_claims` and report a claim of an unknown
code with :func:`note_code_guess`. Those two, and :class:`RateLimited`, are the whole interface.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from apispec import BasePlugin
from flask import Flask, Response, current_app, g, request
from limits import RateLimitItem, parse_many
from werkzeug.middleware.proxy_fix import ProxyFix

from api import endpoints
from api.auth import bearer_key
from api.counters import Count, Counter, Counters, counters_for
from api.errors import HTTP_ERRORS, ApiError

log = logging.getLogger(__name__)

# Never rate limited: load balancers and orchestrators probe these (api/health.py); nor are static
# files (endpoints "static" and "<blueprint>.static").
EXEMPT_BLUEPRINTS = frozenset({"health"})
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After")
CLAIM_FORMS = "codes_claim_forms"
STATE = "codes_limits"

# Whom a rule counts.
BY_IP, BY_KEY, BY_IP_AND_KEY = "ip", "key", "ip+key"


@dataclass(frozen=True)
class LimitRule:
    """One row of the policy: the setting it reads, whom it counts, and where it applies
    (``endpoint`` None: every route; else POSTs to it). ``guesses``: anti-guessing."""

    setting: str
    scope: str
    counts: str
    endpoint: str | None = None
    guesses: bool = False
    message: str | None = None


RULES = (
    LimitRule("RATELIMIT_PER_IP", "ip", BY_IP),
    LimitRule("RATELIMIT_PER_KEY", "key", BY_KEY),
    LimitRule("RATELIMIT_CLAIM_PER_IP", "claim-ip", BY_IP, endpoints.CLAIM),
    LimitRule("RATELIMIT_GENERATE_PER_KEY", "generate-key", BY_KEY, endpoints.GENERATE),
    # Importing creates as many codes as generating: the same limit, counted apart.
    LimitRule("RATELIMIT_GENERATE_PER_KEY", "import-key", BY_KEY, endpoints.IMPORT),
    LimitRule("RATELIMIT_SEND_PER_KEY", "send-key", BY_KEY, endpoints.SEND),
    LimitRule(
        "RATELIMIT_CLAIM_GUESSES",
        "claim-guesses",
        BY_IP_AND_KEY,
        endpoints.CLAIM,
        guesses=True,
        message="Too many claims of unknown codes from this address. Try again later.",
    ),
)


class RateLimited(ApiError):
    """429 ``rate_limited``; ``retry_after``: seconds until the full counter's window ends."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(429, HTTP_ERRORS[429][0], message)
        self.retry_after = retry_after


def client_ip() -> str:
    return request.remote_addr or "unknown"


def key_name(project_id: int, is_secret: bool) -> str:
    """How counters name a key: by its project's row id and kind, never by the key or a digest."""
    return f"p{project_id}.{'sk' if is_secret else 'pk'}"


def limit_as_claims(app: Flask, endpoint: str, project_key: Callable[[], str]) -> None:
    """Limit POSTs to ``endpoint`` exactly as ``POST /codes/claim``, on the same counters.

    ``project_key()`` names the project being claimed from as :func:`key_name` does ("" when
    there is none, which leaves only the per-IP limits): a form that passes its project's public
    key shares that key's counters, so guesses through the form and through the API with the
    public key add up. The view calls :func:`note_code_guess` when a claim found no code.
    """
    app.extensions.setdefault(CLAIM_FORMS, {})[endpoint] = project_key


def note_code_guess() -> None:
    """Count this request as a claim of an unknown code (anti-guessing), like a 404 code_not_found."""
    g.codes_code_guess = True


def is_code_guess(response: Response) -> bool:
    """A claim that found no such code (a replayed answer reveals nothing new)."""
    if g.get("codes_code_guess"):
        return True
    return (
        response.status_code == 404
        and response.headers.get("Idempotent-Replayed") is None
        and b'"code_not_found"' in response.get_data()
    )


def _request_key(claim_form: Callable[[], str] | None) -> str:
    if claim_form is not None:
        return claim_form() if request.method == "POST" else ""
    key = bearer_key()
    return key_name(key.project_id, key.is_secret) if key is not None else ""


@dataclass(frozen=True)
class _Policy:
    """The rules with their parsed limits, and where they are counted."""

    # Each rule, the start of its counters' names, and its limits with the end of their names.
    rules: tuple[tuple[LimitRule, str, tuple[tuple[RateLimitItem, str], ...]], ...]
    counters: Counters
    tag: str  # "{prefix}": the hash tag every counter name starts with


@dataclass
class _Counted:
    """What one request counted: for the headers, and to give a reservation back."""

    counters: list[Counter]
    items: list[tuple[LimitRule, RateLimitItem]]
    counts: tuple[Count, ...] = ()
    refused: int | None = None
    reset_at: float = 0.0


def _check() -> None:
    """Before the view: count the request in every limit that applies, or refuse it with 429."""
    endpoint = request.endpoint
    if request.blueprint in EXEMPT_BLUEPRINTS or (endpoint or "").rpartition(".")[2] == "static":
        return  # the probes, and static files (the page's stylesheet, /docs' assets)
    policy: _Policy = current_app.extensions[STATE]
    claim_form = current_app.extensions.get(CLAIM_FORMS, {}).get(endpoint)
    is_post = request.method == "POST"
    is_claim = is_post and (endpoint == endpoints.CLAIM or claim_form is not None)
    ip = client_ip()
    key = _request_key(claim_form) if endpoint is not None else ""
    counted = _Counted([], [])
    for rule, head, items in policy.rules:
        if rule.endpoint == endpoints.CLAIM:
            if not is_claim:
                continue
        elif rule.endpoint is not None and (endpoint != rule.endpoint or not is_post):
            continue
        if rule.counts == BY_IP:
            who = ip
        elif not key:
            continue
        else:
            who = key if rule.counts == BY_KEY else f"{ip}|{key}"
        for item, tail in items:
            counted.counters.append(Counter(head + who + tail, item.amount, item.get_expiry()))
            counted.items.append((rule, item))
    if not counted.counters:
        return
    outcome = policy.counters.hit(counted.counters)
    counted.counts, counted.refused, counted.reset_at = outcome.counts, outcome.refused, outcome.reset_at
    g.codes_counted = counted
    if outcome.refused is not None:
        rule, item = counted.items[outcome.refused]
        # The counter by its name without the tag: an address, a key's row, never a key or digest.
        name = counted.counters[outcome.refused].name.partition(":")[2]
        log.info("rate limit exceeded: %s (%s) on %s %s", item, name, request.method, endpoint or "no route")
        message = rule.message or f"Too many requests: at most {item}. Try again later."
        raise RateLimited(message, _seconds_until(outcome.reset_at))


def _seconds_until(moment: float) -> int:
    return max(math.ceil(moment - time.time()), 1)


def _finish(response: Response) -> Response:
    """After the view: give back reservations that were not guesses; the rate limit headers."""
    counted: _Counted | None = g.pop("codes_counted", None)
    if counted is None:
        return response
    if counted.refused is not None:
        amount, remaining, reset_at = counted.counters[counted.refused].amount, 0, counted.reset_at
    else:
        rows = list(zip(counted.counters, counted.counts, counted.items, strict=True))
        reserved = [(counter.name, count.window) for counter, count, (rule, _) in rows if rule.guesses]
        if reserved and not is_code_guess(response):
            current_app.extensions[STATE].counters.give_back(reserved)
        # The limit closest to refusing this client (guesses aside: they are given back).
        candidates = [
            (counter.amount - count.value, counter.amount, count.reset_at)
            for counter, count, (rule, _) in rows
            if not rule.guesses
        ]
        if not candidates:
            return response
        remaining, amount, reset_at = min(candidates)
    response.headers["X-RateLimit-Limit"] = str(amount)
    response.headers["X-RateLimit-Remaining"] = str(max(remaining, 0))
    response.headers["X-RateLimit-Reset"] = str(math.ceil(reset_at))
    if response.status_code == 429:
        response.headers["Retry-After"] = str(_seconds_until(reset_at))
    return response


def limit_settings(app: Flask) -> dict[str, str]:
    """Each limit from ``app.config`` (test overrides) or else the environment's ``Settings``."""
    settings = app.config["SETTINGS"]
    values = {}
    for rule in RULES:
        value = app.config.setdefault(rule.setting, getattr(settings, rule.setting.lower()))
        parse_many(value)  # a typo in a limit fails at startup, not on the first request
        values[rule.setting] = value
    return values


def init_app(app: Flask) -> None:
    """Trust the configured proxies, and install the limits unless RATELIMIT_ENABLED is false."""
    settings = app.config["SETTINGS"]
    proxies = int(app.config.setdefault("TRUSTED_PROXIES", settings.trusted_proxies))
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    if not app.config.setdefault("RATELIMIT_ENABLED", settings.ratelimit_enabled):
        return
    values = limit_settings(app)
    redis_url = app.config.setdefault("REDIS_URL", settings.redis_url)
    prefix = app.config.get("RATELIMIT_KEY_PREFIX") or "codes"
    give_back_seconds = float(app.config.get("RATELIMIT_GIVE_BACK_SECONDS", 0.02))
    tag = "{" + prefix.replace("{", "").replace("}", "") + "}"
    app.extensions[STATE] = _Policy(
        rules=tuple(
            (
                rule,
                f"{tag}:{rule.scope}:",
                tuple((item, f":{item.get_expiry()}s") for item in parse_many(values[rule.setting])),
            )
            for rule in RULES
        ),
        # RATELIMIT_GIVE_BACK_SECONDS (app config only, for tests): see api.counters.
        counters=counters_for(redis_url, give_back_seconds=give_back_seconds),
        tag=tag,
    )
    app.before_request(_check)
    app.after_request(_finish)


class RateLimitDocPlugin(BasePlugin):
    """Documents the 429 (and the rate limit headers) on every operation that is rate limited."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            if not isinstance(operation, dict) or set(operation.get("tags") or ()) & EXEMPT_BLUEPRINTS:
                continue
            operation.setdefault("responses", {}).setdefault("429", RATE_LIMITED_DOC)


_INTEGER_HEADER = {"schema": {"type": "integer"}}
RATE_LIMITED_DOC = {
    "description": "rate_limited: too many requests (docs/abuse.md); wait Retry-After seconds.",
    "headers": {
        "Retry-After": {**_INTEGER_HEADER, "description": "Seconds until the limit resets."},
        "X-RateLimit-Limit": {**_INTEGER_HEADER, "description": "Requests allowed in the window."},
        "X-RateLimit-Remaining": {**_INTEGER_HEADER, "description": "Requests left in the window."},
        "X-RateLimit-Reset": {**_INTEGER_HEADER, "description": "When the window resets (Unix time)."},
    },
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
