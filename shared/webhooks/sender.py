"""One POST to an endpoint, to the address that was checked (``shared.webhooks.urls``).

The host is resolved and checked again here, and the connection goes to that very address (the
Host header and TLS server name stay the URL's host), so a DNS answer that changes between the
check and the connection cannot point the request at a private address. Short timeouts to
connect and to wait for each read; redirects are not followed (a 3xx is a failure).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Mapping

from shared.clock import utcnow
from shared.webhooks.outbox import Outcome
from shared.webhooks.urls import Resolver, Target, UnsafeUrl, target

USER_AGENT = "Codes-Webhooks/1.0 (+https://www.standardwebhooks.com)"
# Receivers answer with a status; a little of the body is read so the connection ends cleanly.
RESPONSE_BYTES = 4096


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP to a checked address; ``host`` stays what the URL says."""

    def __init__(self, where: Target, connect_timeout: float, read_timeout: float):
        super().__init__(where.host, where.port, timeout=connect_timeout)
        self._address = where.address
        self._read_timeout = read_timeout

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.settimeout(self._read_timeout)


class _PinnedTLSConnection(_PinnedConnection):
    def __init__(self, where: Target, connect_timeout: float, read_timeout: float, context: ssl.SSLContext):
        super().__init__(where, connect_timeout, read_timeout)
        self._context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    allow_private: bool,
    connect_timeout: float,
    read_timeout: float,
    resolver: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Outcome:
    """POST ``body``; never raises for what the network or the receiver does."""
    started_at = utcnow()
    began = time.monotonic()

    def outcome(status_code: int | None = None, error: str | None = None) -> Outcome:
        return Outcome(status_code, error, int((time.monotonic() - began) * 1000), started_at)

    try:
        where = target(url, allow_private=allow_private, resolver=resolver)
    except UnsafeUrl as exc:
        return outcome(error=f"Refused: {exc}")
    if where.scheme == "https":
        connection = _PinnedTLSConnection(
            where, connect_timeout, read_timeout, ssl_context or ssl.create_default_context()
        )
    else:
        connection = _PinnedConnection(where, connect_timeout, read_timeout)
    try:
        connection.request(
            "POST",
            where.path,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        response = connection.getresponse()
        response.read(RESPONSE_BYTES)
        return outcome(status_code=response.status)
    except TimeoutError:
        return outcome(error="Timed out")
    except ConnectionRefusedError:
        return outcome(error="Connection refused")
    except ssl.SSLError as exc:
        return outcome(error=f"TLS error: {exc.reason or exc}")
    except (OSError, http.client.HTTPException) as exc:
        return outcome(error=f"{exc.__class__.__name__}: {exc}"[:500])
    finally:
        connection.close()
