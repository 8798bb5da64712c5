"""Rate limits (Flask-Limiter): per client IP and per key on every route, tighter ones on the
expensive writes, and anti-guessing on claims.

Every limit is an application-wide limit with its own scope (one counter per IP or per key for
the whole API), narrowed to its routes by ``exempt_when``; so the table below is the whole
policy, and the resources need no decorators. All of it is evaluated before the view runs, from
the request alone: no database query.

Anti-guessing: a claim answered ``code_not_found`` is the only thing that reveals something to
someone walking the code space, so only those are counted, per client IP and per project key.
Once an IP has made ``RATELIMIT_CLAIM_GUESSES`` of them in a window, its claims to that project
are 429 for the rest of the window; refusals of existing codes (fully claimed, already claimed,
...) do not count, since many people legitimately race for a popular code.

The client IP is the connecting address, or, with ``TRUSTED_PROXIES=n``, what the n proxies in
front appended to ``X-Forwarded-For`` (werkzeug's ProxyFix); without it the header is ignored, so
nobody can pick their own IP. Counters are kept in Redis when ``REDIS_URL`` is set (every API
process shares them; if Redis goes away each process falls back to memory until it is back),
else in the process's memory. ``RATELIMIT_ENABLED=false`` installs nothing at all.

Other routes that claim (the hosted claim page, ``api.pages``) go through the same limits and
the same counters: they register with :func:`limit_as_claims` and report a claim of an unknown
code with :func:`note_code_guess`. Those two are the whole interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from apispec import BasePlugin
from flask import Flask, Response, current_app, g, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from limits import parse_many
from werkzeug.middleware.proxy_fix import ProxyFix

from api import endpoints
from api.errors import HTTP_ERRORS, error_response
from shared.projects import KEY_PATTERN, digest

# Never rate limited: load balancers and orchestrators probe these (api/health.py).
EXEMPT_BLUEPRINTS = frozenset({"health"})
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After")


@dataclass(frozen=True)
class LimitRule:
    """One row of the policy: the setting it reads, whom it counts, and where it applies."""

    setting: str
    scope: str
    key: Callable[[], str]
    endpoint: str | None = None
    counts_only: Callable[[Response], bool] | None = None
    message: str | None = None


def client_ip() -> str:
    return request.remote_addr or "unknown"


CLAIM_FORMS = "codes_claim_forms"


def limit_as_claims(app: Flask, endpoint: str, project_key: Callable[[], str]) -> None:
    """Limit POSTs to ``endpoint`` exactly as ``POST /codes/claim``, on the same counters.

    ``project_key()`` names the project being claimed from as a key digest ("" when there is
    none, which leaves only the per-IP limits): a form that passes the digest of the project's
    public key shares that key's counters, so guesses through the form and through the API with
    the public key add up. The view calls :func:`note_code_guess` when a claim found no code.
    """
    app.extensions.setdefault(CLAIM_FORMS, {})[endpoint] = project_key


def note_code_guess() -> None:
    """Count this request as a claim of an unknown code (anti-guessing), like a 404 code_not_found."""
    g.codes_code_guess = True


def _is_claim() -> bool:
    if request.method != "POST":
        return False
    endpoint = request.endpoint
    return endpoint == endpoints.CLAIM or endpoint in current_app.extensions.get(CLAIM_FORMS, ())


def api_key_id() -> str:
    """The digest of a well-formed bearer key (the key itself never reaches the counters or logs)."""
    if "codes_limit_key" not in g:
        claim_form = current_app.extensions.get(CLAIM_FORMS, {}).get(request.endpoint)
        if claim_form is not None:
            g.codes_limit_key = claim_form() if request.method == "POST" else ""
            return g.codes_limit_key
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        well_formed = scheme.lower() == "bearer" and KEY_PATTERN.fullmatch(token)
        g.codes_limit_key = digest(token) if well_formed else ""
    return g.codes_limit_key


def ip_and_key() -> str:
    return f"{client_ip()}|{api_key_id()}"


def is_code_guess(response: Response) -> bool:
    """A claim that found no such code (a replayed answer reveals nothing new)."""
    if g.get("codes_code_guess"):
        return True
    return (
        response.status_code == 404
        and response.headers.get("Idempotent-Replayed") is None
        and b'"code_not_found"' in response.get_data()
    )


RULES = (
    LimitRule(
        "RATELIMIT_CLAIM_GUESSES",
        "claim-guesses",
        ip_and_key,
        endpoints.CLAIM,
        counts_only=is_code_guess,
        message="Too many claims of unknown codes from this address. Try again later.",
    ),
    LimitRule("RATELIMIT_CLAIM_PER_IP", "claim-ip", client_ip, endpoints.CLAIM),
    LimitRule("RATELIMIT_GENERATE_PER_KEY", "generate-key", api_key_id, endpoints.GENERATE),
    LimitRule("RATELIMIT_SEND_PER_KEY", "send-key", api_key_id, endpoints.SEND),
    LimitRule("RATELIMIT_PER_KEY", "key", api_key_id),
    LimitRule("RATELIMIT_PER_IP", "ip", client_ip),
)


def _exempt_when(rule: LimitRule) -> Callable[[], bool]:
    needs_key = rule.key is not client_ip

    def exempt() -> bool:
        if rule.endpoint == endpoints.CLAIM:
            if not _is_claim():
                return True
        elif rule.endpoint is not None and (request.endpoint != rule.endpoint or request.method != "POST"):
            return True
        return needs_key and not api_key_id()

    return exempt


def _limit_for(rule: LimitRule, value: str) -> ApplicationLimit:
    return ApplicationLimit(
        limit_provider=value,
        key_function=rule.key,
        scope=rule.scope,
        exempt_when=_exempt_when(rule),
        deduct_when=rule.counts_only,
        error_message=rule.message,
    )


def limit_settings(app: Flask) -> dict[str, str]:
    """Each limit from ``app.config`` (test overrides) or else the environment's ``Settings``."""
    settings = app.config["SETTINGS"]
    values = {}
    for rule in RULES:
        value = app.config.setdefault(rule.setting, getattr(settings, rule.setting.lower()))
        parse_many(value)  # a typo in a limit fails at startup, not on the first request
        values[rule.setting] = value
    return values


def by_tightness(values: dict[str, str]) -> list[LimitRule]:
    """The rules, the one with the lowest rate first, anti-guessing last.

    The X-RateLimit headers describe the first limit that applied to a request (Flask-Limiter
    orders by window length, then by this order): so they describe the one a client is most
    likely to reach, at no cost. Reading every counter to find the closest would cost a storage
    round trip per limit on every request.
    """

    def rate(rule: LimitRule) -> tuple[bool, float]:
        items = parse_many(values[rule.setting])
        return rule.counts_only is not None, min(item.amount / item.get_expiry() for item in items)

    return sorted(RULES, key=rate)


def init_app(app: Flask) -> Limiter | None:
    """Trust the configured proxies, and install the limits unless RATELIMIT_ENABLED is false."""
    settings = app.config["SETTINGS"]
    proxies = int(app.config.setdefault("TRUSTED_PROXIES", settings.trusted_proxies))
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    if not app.config.setdefault("RATELIMIT_ENABLED", settings.ratelimit_enabled):
        return None
    values = limit_settings(app)
    redis_url = app.config.setdefault("REDIS_URL", settings.redis_url)
    storage_options = {}
    if redis_url:
        # A slow Redis must not stall every request: give up quickly and fall back to memory.
        storage_options = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    limiter = Limiter(
        client_ip,
        application_limits=[_limit_for(rule, values[rule.setting]) for rule in by_tightness(values)],
        storage_uri=redis_url or "memory://",
        storage_options=storage_options,
        in_memory_fallback_enabled=bool(redis_url),
        strategy="fixed-window",
        headers_enabled=True,
        key_prefix=app.config.get("RATELIMIT_KEY_PREFIX") or "codes",
        # Requests that match no route are counted too (per IP), under one name.
        request_identifier=lambda: request.endpoint or "unrouted",
        # A broken limiter lets requests through (and logs) rather than failing them.
        swallow_errors=True,
    )
    limiter.request_filter(lambda: request.blueprint in EXEMPT_BLUEPRINTS)

    @app.after_request
    def _retry_after_only_when_limited(response: Response) -> Response:
        # Registered before the limiter's own hook, so it runs after it: Flask-Limiter writes
        # Retry-After on every response, which would tell well-behaved clients to back off.
        if response.status_code != 429:
            response.headers.pop("Retry-After", None)
        return response

    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _rate_limited)
    app.extensions["codes_limiter"] = limiter
    return limiter


def _rate_limited(exc: RateLimitExceeded) -> Response:
    error, message = HTTP_ERRORS[429]
    if exc.description and exc.limit.error_message:
        message = exc.description
    elif exc.description:
        message = f"Too many requests: at most {exc.description}. Try again later."
    return error_response(429, error, message)


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
