"""Bodies sent with ``Transfer-Encoding: chunked`` obey MAX_CONTENT_LENGTH, through a real gunicorn
(which de-chunks them): one byte over is 413 in our error shape with nothing written, the limit
itself is served, a malformed chunk is 400. Padding is JSON whitespace after a valid body, so a
body cut at the limit would still parse and create a code."""

from __future__ import annotations

import json
import socket

import pytest
from sqlalchemy import func, select

from shared.config import Settings
from shared.models import Code

pytestmark = [pytest.mark.server, pytest.mark.slow]

LIMIT = Settings.from_env({}).max_content_length
GENERATE_ONE = b'{"amount": 1}'


def exchange(server, request: bytes) -> tuple[int, dict, dict]:
    """Send raw ``request`` on a new connection; (status, headers, JSON body) of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before taking it all: read what it said
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head_bytes, _, payload = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head_bytes.decode("latin-1").split("\r\n")
    response_headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    if response_headers.get("transfer-encoding") == "chunked":
        payload = dechunk(payload)
    return int(status_line.split()[1]), response_headers, json.loads(payload)


def chunked_request(server, path: str, chunked_body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Transfer-Encoding: chunked"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head += ["Content-Type: application/json", "Connection: close"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + chunked_body


def post_chunked(server, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, dict]:
    """POST ``body`` in 64 KiB chunks; (status, headers, JSON body) of the answer."""
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[start : start + 65536]), body[start : start + 65536])
        for start in range(0, len(body), 65536)
    )
    return exchange(server, chunked_request(server, path, chunks + b"0\r\n\r\n", headers))


def dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2 :]


def codes_in(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Code)).scalar_one()


def padded(size: int) -> bytes:
    return GENERATE_ONE + b" " * (size - len(GENERATE_ONE))


def test_a_chunked_body_one_byte_over_the_limit_is_413_and_writes_nothing(live_server, project, engine):
    secret = {"Authorization": f"Bearer {project.keys.secret_key}"}
    status, headers, body = post_chunked(live_server, "/codes/generate", padded(LIMIT + 1), secret)
    assert status == 413, body
    assert body["error"] == "payload_too_large" and body["code"] == 413 and body["success"] is False
    assert headers["x-request-id"]
    assert codes_in(engine) == 0


def test_a_chunked_body_of_1_2_mb_is_413_and_writes_nothing(live_server, project, engine):
    secret = {"Authorization": f"Bearer {project.keys.secret_key}"}
    status, _headers, body = post_chunked(live_server, "/codes/generate", padded(1_200_000), secret)
    assert (status, body["error"]) == (413, "payload_too_large")
    assert codes_in(engine) == 0


def test_a_chunked_body_at_the_limit_is_served(live_server, project, engine):
    secret = {"Authorization": f"Bearer {project.keys.secret_key}"}
    status, _headers, body = post_chunked(live_server, "/codes/generate", padded(LIMIT), secret)
    assert status == 200, body
    assert len(body["data"]) == 1 and codes_in(engine) == 1


def test_a_malformed_chunked_body_is_400_in_our_shape_and_writes_nothing(live_server, project, engine):
    secret = {"Authorization": f"Bearer {project.keys.secret_key}"}
    request = chunked_request(live_server, "/codes/generate", b"d\r\n" + GENERATE_ONE + b"\r\nzz\r\n", secret)
    status, headers, body = exchange(live_server, request)
    assert (status, body["error"]) == (400, "bad_request") and headers["x-request-id"]
    assert codes_in(engine) == 0
