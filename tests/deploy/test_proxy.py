"""The proxy of docker-compose.yml (docker/nginx/templates/default.conf.template), run with Debian's
nginx in front of a real gunicorn started as the image starts it (gunicorn.conf.py,
TRUSTED_PROXIES=1): slow clients cost the API nothing, the proxy's own refusals are our JSON error
shape with an X-Request-ID, gunicorn's HTML answers to long lines never reach a client, and the
API counts the client's address, not the proxy's.

One nginx and one gunicorn for the module, on SQLite: nothing here is about the database. Clients
connect from several loopback addresses (127.0.x.y), which Linux routes to lo.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from dataclasses import dataclass

import pytest
import requests

from shared.codes import generate_codes
from shared.config import Settings
from shared.db import Base, make_engine, make_sessionmaker
from shared.projects import create_project
from tests.deploy.nginx import Nginx
from tests.support import Gunicorn, free_port, subprocess_env

pytestmark = [pytest.mark.server, pytest.mark.slow]

MAX_BODY = Settings.from_env({}).max_content_length
CLAIMS_PER_ADDRESS = 5  # RATELIMIT_CLAIM_PER_IP for this module's API
GENERATED_ID = re.compile(r"[0-9a-f]{32}")  # nginx's $request_id


@dataclass
class Stack:
    nginx: Nginx
    gunicorn: Gunicorn
    public_key: str
    code: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("proxy")
    database_url = f"sqlite:///{directory / 'codes.sqlite3'}"
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    with make_sessionmaker(engine)() as session:
        project, keys = create_project(session, "proxied")
        (code,) = generate_codes(session, project.id, amount=1, allowed_claims=10_000)
        code_value = code.code
        session.commit()
    engine.dispose()

    port = free_port()
    env = subprocess_env(
        DATABASE_URL=database_url,
        INSTANCE_DIR=str(directory),
        TRUSTED_PROXIES="1",
        # One process: its in-memory rate-limit counters are the only ones (no REDIS_URL here).
        WEB_CONCURRENCY="1",
        WEB_THREADS="4",
        RATELIMIT_CLAIM_PER_IP=f"{CLAIMS_PER_ADDRESS} per minute",
    )
    # As the image runs it (gunicorn.conf.py), on loopback.
    args = ("--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}")
    with Gunicorn(env=env, log_path=directory / "gunicorn.log", args=args, port=port) as gunicorn:
        nginx = Nginx(directory / "nginx", upstream=f"127.0.0.1:{port}", max_body_size=MAX_BODY)
        with nginx:
            yield Stack(nginx, gunicorn, keys.public_key, code_value)


def claim(stack: Stack, email: str) -> requests.Response:
    """A claim of the module's code through the proxy."""
    return requests.post(
        stack.nginx.url + "/codes/claim",
        json={"code": stack.code, "email": email},
        headers={"Authorization": f"Bearer {stack.public_key}"},
        timeout=10,
    )


def post_claim_body(stack: Stack, data, **headers: str) -> requests.Response:
    """POST raw ``data`` (bytes, or an iterable of bytes: sent chunked) to the claim route."""
    headers = {"Authorization": f"Bearer {stack.public_key}", "Content-Type": "application/json", **headers}
    return requests.post(stack.nginx.url + "/codes/claim", data=data, headers=headers, timeout=30)


def assert_error_shape(response: requests.Response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["success"] is False and body["code"] == status and body["error"] == error
    assert body["message"] and isinstance(body["time"], int) and body["time"] > 1_600_000_000_000
    assert response.headers["X-Request-ID"]
    return body


def read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """(head, body) of one answer, its body read to its Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or pytest.fail(f"closed after {data!r}")
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"\r\nContent-Length: (\d+)", head)[1])
    while len(body) < length:
        body += sock.recv(65536) or pytest.fail(f"closed after {data + body!r}")
    return head, body


# --- slow clients -----------------------------------------------------------------------------


class Trickle:
    """Connections that send a request slowly, each from its own loopback address (so that the
    per-address connection limit is not what saves the API): a header line every 2 s, or a
    declared 100,000-byte body a byte at a time."""

    def __init__(self, port: int, first_address: int):
        self.port = port
        self.next_address = first_address
        self.sockets: list[tuple[socket.socket, bytes]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)

    def _connect(self, opening: bytes, drip: bytes) -> None:
        address = f"127.0.{self.next_address // 250 + 1}.{self.next_address % 250 + 1}"
        self.next_address += 1
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5, source_address=(address, 0))
        sock.sendall(opening)
        self.sockets.append((sock, drip))

    def slow_headers(self, count: int) -> None:
        for n in range(count):
            self._connect(b"GET /healthz HTTP/1.1\r\nHost: codes\r\n", b"X-Slow-%d: 1\r\n" % n)

    def slow_bodies(self, count: int, authorization: str) -> None:
        head = (
            "POST /codes/claim HTTP/1.1\r\nHost: codes\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {authorization}\r\nContent-Length: 100000\r\n\r\n{{"
        )
        for _ in range(count):
            self._connect(head.encode(), b" ")

    def _trickle(self) -> None:
        while not self.stopping.wait(2):
            for sock, drip in self.sockets:
                try:
                    sock.sendall(drip)
                except OSError:
                    pass

    def still_waiting(self) -> int:
        """How many connections are open with no answer yet."""
        waiting = 0
        for sock, _drip in self.sockets:
            sock.setblocking(False)
            try:
                sock.recv(1, socket.MSG_PEEK)  # an answer, or b"" when closed
            except BlockingIOError:
                waiting += 1  # open, nothing received
            except OSError:
                pass  # reset
            finally:
                sock.setblocking(True)
        return waiting

    def __enter__(self) -> Trickle:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopping.set()
        self.thread.join()
        for sock, _drip in self.sockets:
            sock.close()


def timed(call) -> tuple[float, requests.Response]:
    start = time.monotonic()
    response = call()
    return time.monotonic() - start, response


def test_with_100_slow_clients_held_open_healthz_and_a_claim_answer_within_a_second(stack):
    with Trickle(stack.nginx.port, first_address=0) as slow:
        slow.slow_headers(50)
        slow.slow_bodies(50, stack.public_key)
        time.sleep(2.5)  # every connection has sent more than once
        timings = []
        for n in range(3):
            elapsed, response = timed(lambda: requests.get(stack.nginx.url + "/healthz", timeout=5))
            assert response.status_code == 200
            timings.append(elapsed)
            elapsed, response = timed(lambda n=n: claim(stack, f"slow{n}@example.com"))
            assert response.status_code == 200, response.text
            timings.append(elapsed)
        # Still held open, none answered: the probes went through beside them, not after them.
        assert slow.still_waiting() == 100
    assert max(timings) < 1, timings


def test_without_the_proxy_the_same_slow_clients_starve_gunicorn(stack):
    """Why the proxy is there: a handful of slow clients hold every thread of gunicorn alone."""
    with Trickle(stack.gunicorn.port, first_address=200) as slow:
        slow.slow_headers(10)
        slow.slow_bodies(10, stack.public_key)
        time.sleep(1)
        with pytest.raises(requests.Timeout):
            requests.get(stack.gunicorn.url + "/healthz", timeout=1)


def test_too_many_requests_at_once_from_one_address_get_429_from_the_proxy(stack):
    head = (
        "POST /codes/claim HTTP/1.1\r\nHost: codes\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {stack.public_key}\r\nContent-Length: 100000\r\n\r\n{{"
    ).encode()
    sockets = []
    try:
        for _ in range(25):
            sock = socket.create_connection(("127.0.0.1", stack.nginx.port), source_address=("127.0.9.9", 0))
            sock.sendall(head)
            sockets.append(sock)
        time.sleep(0.5)
        answered, _, _ = select.select(sockets, [], [], 0.5)
        refused = [read_answer(sock) for sock in answered]
    finally:
        for sock in sockets:
            sock.close()
    assert len(refused) == 25 - 20  # limit_conn: 20 requests in progress per address
    for head_bytes, body in refused:
        assert head_bytes.startswith(b"HTTP/1.1 429 ")
        assert b"\r\nX-Request-ID: " in head_bytes and b"\r\nContent-Type: application/json" in head_bytes
        assert json.loads(body)["error"] == "too_many_connections"


# --- the proxy's own refusals -----------------------------------------------------------------


def test_a_body_over_max_content_length_is_413_json_from_the_proxy(stack):
    response = post_claim_body(stack, b" " * (MAX_BODY + 1))
    assert_error_shape(response, 413, "payload_too_large")
    assert GENERATED_ID.fullmatch(response.headers["X-Request-ID"])


def test_a_chunked_body_over_max_content_length_is_413_json_from_the_proxy(stack):
    chunks = (b" " * 65536 for _ in range(MAX_BODY // 65536 + 1))
    response = post_claim_body(stack, chunks, **{"X-Request-ID": "id-1"})
    assert_error_shape(response, 413, "payload_too_large")
    assert response.headers["X-Request-ID"] == "id-1"


def test_a_body_of_max_content_length_reaches_the_api(stack):
    body = json.dumps({"code": stack.code, "email": "padded@example.com"}).encode()
    response = post_claim_body(stack, body + b" " * (MAX_BODY - len(body)))
    assert response.status_code == 200, response.text


def test_a_huge_uri_is_414_json_from_the_proxy(stack):
    response = requests.get(stack.nginx.url + "/codes/" + "a" * 10_000, timeout=10)
    assert_error_shape(response, 414, "uri_too_long")


def request_line_answer(port: int, line_length: int) -> bytes:
    """Send a GET whose request line is ``line_length`` bytes (without CRLF); the raw answer."""
    path = "/healthz?" + "a" * (line_length - len("GET /healthz? HTTP/1.1"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: codes\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_request_lines_at_the_proxys_limit_get_json_never_gunicorns_html(stack):
    """The longest request line nginx lets through (4094 bytes and CRLF fill its 4 KiB buffer) is
    the longest gunicorn reads (limit_request_line 4094): around it, every answer is JSON, the
    API's or the proxy's 414."""
    statuses = set()
    for length in range(4090, 4099):
        answer = request_line_answer(stack.nginx.port, length)
        head_bytes, _, body = answer.partition(b"\r\n\r\n")
        assert b"\r\nContent-Type: application/json" in head_bytes, answer[:300]
        statuses.add(int(head_bytes.split()[1]))
        json.loads(body)
    assert statuses == {200, 414}  # both sides of the limit were tried
    # Without the proxy, the same lines past 4094 bytes get gunicorn's HTML 414.
    assert b"<html>" in request_line_answer(stack.gunicorn.port, 4095).lower()


def test_a_header_line_over_4k_is_400_json_from_the_proxy(stack):
    response = requests.get(stack.nginx.url + "/healthz", headers={"X-Large": "a" * 5000}, timeout=10)
    assert_error_shape(response, 400, "request_header_too_large")


@pytest.mark.parametrize(
    ("request_bytes", "status", "error"),
    [
        (b"GET /\x01 HTTP/1.1\r\nHost: codes\r\n\r\n", 400, "bad_request"),
        (b"GET / HTTP/1.1\r\nHost: codes\r\nBad Name: x\r\n\r\n", 400, "bad_request"),
        (b"GET / HTTP/1.1\r\nHost: codes\r\nX-A: 1\r\n folded\r\n\r\n", 400, "bad_request"),
        (b"POST / HTTP/1.1\r\nHost: codes\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad_request"),
        (b"GET / HTTP/1.1\r\nHost: codes\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not_implemented"),
        (b"GET / HTTP/2.0\r\nHost: codes\r\n\r\n", 505, "http_version_not_supported"),
    ],
    ids=["request-line", "header-name", "folded-header", "chunk-size", "transfer-coding", "http-version"],
)
def test_a_malformed_request_gets_json_from_the_proxy(stack, request_bytes, status, error):
    with socket.create_connection(("127.0.0.1", stack.nginx.port), timeout=10) as sock:
        sock.sendall(request_bytes)
        head_bytes, body = read_answer(sock)
    assert head_bytes.startswith(b"HTTP/1.1 %d " % status) and b"\r\nX-Request-ID: " in head_bytes
    assert json.loads(body)["error"] == error


def test_without_the_api_the_proxy_answers_502_json(tmp_path):
    with Nginx(tmp_path / "nginx", upstream=f"127.0.0.1:{free_port()}", max_body_size=MAX_BODY) as nginx:
        response = requests.get(nginx.url + "/healthz", headers={"X-Request-ID": "down-1"}, timeout=10)
    assert_error_shape(response, 502, "api_unavailable")
    assert response.headers["X-Request-ID"] == "down-1"


# --- what the API sees ------------------------------------------------------------------------


def test_the_request_id_goes_through_the_proxy_to_the_api_and_back(stack):
    response = requests.get(stack.nginx.url + "/healthz", headers={"X-Request-ID": "trace-42"}, timeout=10)
    # nginx adds no X-Request-ID to the API's answers: this one is the API's, which got the id.
    assert response.status_code == 200 and response.headers["X-Request-ID"] == "trace-42"


def test_the_api_counts_the_client_address_the_proxy_forwards(stack):
    """TRUSTED_PROXIES=1: the claim limit per address counts each client, not nginx's one address,
    and an X-Forwarded-For a client makes up is not believed."""

    def claim_from(address: str, email: str, **headers) -> int:
        session = requests.Session()
        adapter = SourceAddressAdapter(address)
        session.mount("http://", adapter)
        response = session.post(
            stack.nginx.url + "/codes/claim",
            json={"code": stack.code, "email": email},
            headers={"Authorization": f"Bearer {stack.public_key}", **headers},
            timeout=10,
        )
        session.close()
        return response.status_code

    answers = [claim_from("127.0.5.1", f"first{n}@example.com") for n in range(CLAIMS_PER_ADDRESS + 1)]
    assert answers == [200] * CLAIMS_PER_ADDRESS + [429]
    # Another client, even one claiming to be the first, is counted on its own.
    assert claim_from("127.0.5.2", "second@example.com", **{"X-Forwarded-For": "127.0.5.1"}) == 200


class SourceAddressAdapter(requests.adapters.HTTPAdapter):
    """Connect from a given loopback address (Linux routes all of 127/8 to lo)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)
