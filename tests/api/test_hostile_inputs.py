"""No input makes the API answer 5xx or write a traceback: a corpus of hostile values, sent to every
route of the OpenAPI document (and the claim page), with the public and the secret key, through one
real gunicorn per database.

With the secret key every nasty value goes into every field of every route's body, query and path
(one field at a time, the others valid, naming a code and a webhook endpoint that exist); with the
public key each value goes once, into the next field. Then whole-body nasties (deep nesting,
duplicate keys, BOMs, invalid UTF-8, huge numbers, wrong shapes and content types) under either
key, header nasties, and the claim page. Not the full cross product of fields: about 3,200
requests per backend, sent four at a time, 11 to 18 seconds here (longer on a loaded machine).
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import delete

from shared.db import Base, make_sessionmaker
from shared.projects import create_project
from tests.support import Gunicorn, free_port, subprocess_env

pytestmark = pytest.mark.slow

# Values that went (or could go) wrong somewhere: each becomes one field's value in turn.
NASTY_VALUES: list = [
    "a\ud800b",  # a lone surrogate (UnicodeEncodeError in the database drivers)
    "\udfff",
    "abc\x00",  # NUL (PostgreSQL's text refuses it)
    "\x00",
    "",
    " ",
    "x" * 100_000,  # long, within the body limit
    "\ufeffcurious-pineapple",
    "9999-12-31T23:59:59-05:00",  # year 10000 in UTC
    "0001-01-01T00:00:00+01:00",  # year 0 in UTC
    "djE6OTIyMzM3MjAzNjg1NDc3NTgwOA",  # a cursor at 2**63
    "djE6LTE",  # a cursor at -1
    "YjE6AA",  # a batch cursor naming "\x00"
    "../../etc/passwd",
    "'; DROP TABLE codes; --",
    "<script>alert(1)</script>",
    "\u202egnp.exe",
    "😀" * 1000,
    "%00",
    "sk_" + "0" * 48,
    10**1000,  # 1,000 digits
    2**63,
    -(2**63) - 1,
    -1,
    0,
    1.5,
    1e308,
    True,
    None,
    [],
    [None],
    {},
    {"a": {"b": "c"}},
]

# Whole bodies, as bytes on the wire.
NASTY_BODIES: list[bytes] = [
    b"[" * 1000 + b"]" * 1000,
    b'{"a":' * 1000 + b"1" + b"}" * 1000,
    b"[" * 100_000,
    b'{"code": "x", "code": "y", "amount": 1, "amount": 2}',
    b'\xef\xbb\xbf{"amount": 1}',
    b'{"code": "\xff\xfe"}',
    b'{"code": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 bytes
    b'{"amount": ' + b"9" * 5000 + b"}",  # past Python's integer digit limit
    b'{"amount": 1e400}',
    b'{"amount": NaN}',
    b'{"amount": -Infinity}',
    b"[]",
    b"null",
    b"1",
    b'"code"',
    b"not json",
    b"\x00\x00\x00",
    b"\xff" * 64,
    b'{"code": "' + b"x" * (2 * 1024 * 1024) + b'"}',  # past the body limit
]
CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]

# Path parameters: already percent-encoded, as they appear in the request line.
NASTY_PATH_VALUES = [
    "abc%00",
    "%00",
    "%ED%A0%80",  # a surrogate, as UTF-8 bytes
    "%FF%FE",
    "x" * 4000,
    "9" * 1000,
    "-1",
    "0",
    "9223372036854775808",
    "%2e%2e%2f%2e%2e%2fetc",
    quote("😀", safe=""),
    "%20",
]


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _valid_value(spec: dict, schema: dict):
    schema = _resolve(spec, schema)
    if "example" in schema:
        return schema["example"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return [_valid_value(spec, schema.get("items", {}))]
    if kind == "object":
        return {name: _valid_value(spec, prop) for name, prop in schema.get("properties", {}).items()}
    return {"email": "someone@example.com", "date-time": "2031-01-01T00:00:00Z"}.get(
        schema.get("format"), "curious-pineapple"
    )


def _operations(spec: dict) -> list[dict]:
    """Every operation of the document: method, path, path/query parameter names, body schema."""
    operations = []
    for path, item in spec["paths"].items():
        shared_parameters = item.get("parameters", [])
        for method, operation in item.items():
            if method == "parameters":
                continue
            parameters = shared_parameters + operation.get("parameters", [])
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "path_names": [p["name"] for p in parameters if p["in"] == "path"],
                    "query_names": [p["name"] for p in parameters if p["in"] == "query"],
                    "body": _resolve(spec, body["schema"]) if body else None,
                }
            )
    return operations


class Corpus:
    """Collects the requests, then sends them four at a time (the server's threads); remembers
    every answer at 500 or above, and every JSON error not in the one shape."""

    def __init__(self, server: Gunicorn, existing: dict[str, str], slug: str):
        self.server = server
        self.existing = existing  # path parameters that name something that exists
        self.slug = slug
        self.requests: list[tuple] = []
        self.local = threading.local()

    def send(
        self,
        method: str,
        path: str,
        *,
        key: str | None,
        data: bytes | None = None,
        headers: dict | None = None,
        destructive: bool = False,
    ) -> None:
        """Queue a request; ``destructive`` ones (they may delete the code or the webhook endpoint
        the others name) are sent after all the others."""
        headers = {**({"Authorization": f"Bearer {key}"} if key else {}), **(headers or {})}
        if data is not None:
            headers.setdefault("Content-Type", "application/json")
        self.requests.append((destructive, (method, path, data, headers)))

    def run(self) -> list[str]:
        failures: list[str] = []
        with ThreadPoolExecutor(max_workers=4) as pool:
            for phase in (False, True):
                batch = [request for destructive, request in self.requests if destructive is phase]
                failures += [failure for failure in pool.map(self._deliver, batch) if failure]
        return failures

    def _deliver(self, request: tuple) -> str | None:
        method, path, data, headers = request
        http = getattr(self.local, "http", None) or requests.Session()
        self.local.http = http
        url = self.server.url + path
        try:
            response = http.request(method, url, data=data, headers=headers, timeout=30)
        except requests.ConnectionError:
            # gunicorn may close a kept-alive connection whose last request body went unread (a 403
            # before the body): that is no answer to this request, so send it again on a new one.
            response = http.request(method, url, data=data, headers=headers, timeout=30)
        # /readyz is 503 on this database by design: its tables come from create_all, not migrations.
        if response.status_code >= 500 and not (path.startswith("/readyz") and response.status_code == 503):
            return f"{response.status_code} {method} {path[:120]} {data!r:.200}"
        if response.status_code >= 400 and response.headers.get("Content-Type", "").startswith(
            "application/json"
        ):
            body = response.json()
            if body.get("success") is not False or "error" not in body:
                return f"not our error shape: {method} {path[:120]} {body}"
        return None

    def fill_path(self, operation: dict, value: str | None = None, name: str | None = None) -> str:
        path = operation["path"]
        for parameter in operation["path_names"]:
            if parameter == name:
                filled = value
            else:
                filled = {**self.existing, "batch": "beta-keys"}.get(parameter, "1")
            path = path.replace("{" + parameter + "}", filled)
        return path


def _each_or_next(names: list[str], index: int, every: bool) -> list[str]:
    """All of ``names``, or the one whose turn it is at ``index``."""
    if every or not names:
        return names
    return [names[index % len(names)]]


def _body_with(spec: dict, operation: dict, field: str, value) -> bytes:
    body = _valid_value(spec, operation["body"])
    body[field] = value
    return json.dumps(body).encode()


@pytest.fixture(scope="module")
def served(database, engine_for, tmp_path_factory):
    """One gunicorn on the test database with a project, a code and a batch; emptied afterwards."""
    engine = engine_for(database.url)
    with make_sessionmaker(engine)() as session:
        project, keys = create_project(session, f"hostile-{uuid.uuid4().hex[:8]}")
        session.commit()
        slug = project.slug
    instance = tmp_path_factory.mktemp("hostile")
    env = subprocess_env(
        DATABASE_URL=database.url,
        INSTANCE_DIR=str(instance),
        RATELIMIT_ENABLED="false",
        WEBHOOKS_ALLOW_PRIVATE="true",  # an endpoint on loopback, so its routes go past "no such endpoint"
    )
    args = ("--workers", "1", "--threads", "4", "--worker-class", "gthread")
    try:
        with Gunicorn(env=env, log_path=instance / "gunicorn.log", args=args) as server:
            secret = {"Authorization": f"Bearer {keys.secret_key}"}
            made = server.post("/codes/generate", json={"amount": 1, "batch": "beta-keys"}, headers=secret)
            assert made.status_code == 200, made.text
            endpoint = server.post(
                "/webhooks", json={"url": f"http://127.0.0.1:{free_port()}/x"}, headers=secret
            )
            assert endpoint.status_code == 200, endpoint.text
            existing = {
                "code": made.json()["data"][0]["code"],
                "endpoint_id": str(endpoint.json()["data"]["id"]),
            }
            yield server, keys, existing, slug
    finally:
        with engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(delete(table))


def test_no_input_gives_a_5xx_or_a_traceback(served):
    server, keys, existing, slug = served
    code = existing["code"]
    spec = server.get("/openapi.json").json()
    operations = _operations(spec)
    assert len(operations) >= 25, "the document lists every route"
    corpus = Corpus(server, existing, slug)
    key_cycle = itertools.cycle([keys.secret_key, keys.public_key])

    for operation in operations:
        method = operation["method"]
        destructive = method == "DELETE" or operation["path"] == "/codes/delete"
        send = functools.partial(corpus.send, destructive=destructive)
        body_fields = list(operation["body"]["properties"]) if operation["body"] else []
        for key in (keys.secret_key, keys.public_key):
            # With the secret key every value goes into every body field, query parameter and path
            # parameter; with the public key (refused before the body on all but claims) each
            # value goes once, into the next one.
            every = key == keys.secret_key
            for index, value in enumerate(NASTY_VALUES):
                for field in _each_or_next(body_fields, index, every):
                    data = _body_with(spec, operation, field, value)
                    send(method, corpus.fill_path(operation), key=key, data=data)
                for name in _each_or_next(operation["query_names"], index, every):
                    text = value if isinstance(value, str) else json.dumps(value)
                    query = f"{name}={quote(text, safe='', errors='surrogatepass')}&{name}=again"
                    send(method, f"{corpus.fill_path(operation)}?{query}", key=key)
            for index, value in enumerate(NASTY_PATH_VALUES):
                for name in _each_or_next(operation["path_names"], index, every):
                    send(method, corpus.fill_path(operation, value, name), key=key)
        # Whole bodies and content types, with either key.
        for index, body in enumerate(NASTY_BODIES):
            content_type = CONTENT_TYPES[index % len(CONTENT_TYPES)]
            send(
                method,
                corpus.fill_path(operation),
                key=next(key_cycle),
                data=body,
                headers={"Content-Type": content_type},
            )

    # A 10 MB string, once per key: 413 before the body is read.
    ten_megabytes = b'{"code": "' + b"x" * (10 * 1024 * 1024) + b'", "email": "someone@example.com"}'
    for key in (keys.secret_key, keys.public_key):
        corpus.send("POST", "/codes/claim", key=key, data=ten_megabytes)

    # Headers: keys that are no keys.
    for authorization in [
        "Bearer " + "é" * 100,
        "Bearer " + "é".encode().decode("latin-1") * 100,  # UTF-8 bytes, read as latin-1
        "Bearer " + "k" * 6000,
        "Bearer",
        "Basic " + "=" * 20,
        "Bearer sk_\x7f",
        "bearer  pk_" + "0" * 48,
    ]:
        for operation in operations:
            path = corpus.fill_path(operation)
            corpus.send(
                operation["method"],
                path,
                key=None,
                headers={"Authorization": authorization.encode("latin-1")},
            )

    # Idempotency keys and request ids that are none, with a valid body.
    for index, header_value in enumerate(["", "x" * 300, "é" * 10, "a\tb", "\x7f", "../" * 20, "k" * 6000]):
        for operation in operations:
            body = _valid_value(spec, operation["body"]) if operation["body"] else None
            corpus.send(
                operation["method"],
                corpus.fill_path(operation),
                key=(keys.secret_key, keys.public_key)[index % 2],
                data=json.dumps(body).encode() if body is not None else None,
                headers={
                    "Idempotency-Key": header_value.encode("latin-1"),
                    "X-Request-ID": header_value.encode("latin-1"),
                },
                destructive=operation["method"] == "DELETE" or operation["path"] == "/codes/delete",
            )

    # The claim page: its form, its slug, its success page.
    for value in [v for v in NASTY_VALUES if isinstance(v, str)]:
        form = {"code": value, "email": "someone@example.com"}
        corpus.send("POST", f"/p/{slug}", key=None, data=_form(form), headers=_FORM)
        corpus.send("POST", f"/p/{slug}", key=None, data=_form({"code": code, "email": value}), headers=_FORM)
    for value in NASTY_PATH_VALUES:
        corpus.send("GET", f"/p/{value}", key=None)
        corpus.send("POST", f"/p/{value}", key=None, data=b"code=x&email=a@example.com", headers=_FORM)
        corpus.send("GET", f"/p/{slug}/claimed?token={value}", key=None)
    for body in NASTY_BODIES:
        corpus.send("POST", f"/p/{slug}", key=None, data=body, headers=_FORM)

    assert len(corpus.requests) > 3000
    failures = corpus.run()
    assert failures == [], "\n".join(failures)
    log = server.log()
    assert "Traceback" not in log, log[log.find("Traceback") - 2000 :][:6000]
    assert not re.search(r'"level": "(error|critical)"', log), log[-4000:]


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _form(fields: dict[str, str]) -> bytes:
    return "&".join(
        f"{name}={quote(value, safe='', errors='surrogatepass')}" for name, value in fields.items()
    ).encode()
