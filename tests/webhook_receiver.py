"""A real HTTP receiver on loopback for the webhook tests (a threaded ``http.server``), scriptable.

``Receiver`` answers 200 unless told otherwise: ``respond(500, "timeout", "hang", 200, ...)``
queues behaviours for the next POSTs, in order:

- a number: answer with that status;
- ``"timeout"``: answer only after ``stall_seconds`` (longer than the sender's read timeout);
- ``"hang"``: set ``hanging`` and wait until ``release()`` (or the receiver stops).

Every POST is recorded, whatever it was answered, in ``requests`` (with its arrival time), so a
test can verify each one's signature with the ``standardwebhooks`` package and count deliveries.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

from shared.config import Settings
from shared.webhooks.endpoints import add_endpoint


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    answered: object

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> dict:
        """The body, after ``standardwebhooks`` checked its signature with ``secret`` (or raised)."""
        return Webhook(secret).verify(self.body, self.headers)


class Receiver:
    def __init__(self, *, port: int = 0, stall_seconds: float = 2.0, tls: ssl.SSLContext | None = None):
        self.stall_seconds = stall_seconds
        self.requests: list[Request] = []
        self._script: deque = deque()
        self._changed = threading.Condition()
        self._released = threading.Event()
        self.hanging = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._changed:
                    behaviour = receiver._script.popleft() if receiver._script else 200
                    receiver.requests.append(
                        Request(
                            self.path,
                            {name.lower(): value for name, value in self.headers.items()},
                            body,
                            time.monotonic(),
                            behaviour,
                        )
                    )
                    receiver._changed.notify_all()
                if behaviour == "timeout":
                    receiver._released.wait(receiver.stall_seconds)
                    behaviour = 200
                elif behaviour == "hang":
                    receiver.hanging.set()
                    receiver._released.wait(60)
                    behaviour = 200
                try:
                    self.send_response(behaviour)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, name="receiver", daemon=True)

    def respond(self, *behaviours) -> None:
        with self._changed:
            self._script.extend(behaviours)

    def release(self) -> None:
        self._released.set()

    def wait_for(self, count: int, timeout: float = 20) -> list[Request]:
        """Wait until ``count`` POSTs arrived (or fail the test after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.requests)} of {count} webhook POSTs arrived")
                self._changed.wait(left)
            return list(self.requests)

    def of_type(self, event_type: str) -> list[Request]:
        return [request for request in list(self.requests) if request.json["type"] == event_type]

    def duplicates(self) -> Counter:
        """Event ids that arrived more than once, and how often."""
        counts = Counter(request.webhook_id for request in list(self.requests))
        return Counter({event_id: n for event_id, n in counts.items() if n > 1})

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def webhook_settings(database_url: str, **overrides) -> Settings:
    """Settings for a webhook worker in a test: loopback allowed, short timeouts and delays."""
    values = {
        "database_url": database_url,
        "webhooks_allow_private": True,
        "webhook_connect_timeout": 1.0,
        "webhook_read_timeout": 0.5,
        "webhook_retry_base_seconds": 0.2,
        "webhook_retry_max_seconds": 5.0,
        "worker_poll_seconds": 0.05,
        **overrides,
    }
    return Settings(**values)


def register(session_factory, project_id: int, url: str, events: list[str] | None = None, **options):
    """Register an endpoint (loopback allowed) and commit; returns it with its secret."""
    with session_factory() as session:
        created = add_endpoint(session, project_id, url, events, allow_private=True, **options)
        session.commit()
        return created


def deliver_until(worker, done, timeout: float = 20):
    """Run the worker's rounds until ``done()`` is true (fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("webhook deliveries did not settle in time")
        if not worker.run_round().taken:
            time.sleep(0.02)
