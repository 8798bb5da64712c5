"""A real SMTP server on loopback for the mail tests (aiosmtpd), scriptable per recipient.

``SmtpServer`` accepts everything unless told otherwise:

- ``refuse(email, "451 4.7.1 Try later", times=1)``: answer RCPT for ``email`` with that reply
  (``times=None``: for ever), then accept it;
- ``hold(email)``: when the message for ``email`` reaches DATA, set ``holding`` and wait until
  ``release(accept=...)``; a released message is recorded only if accepted;
- ``delay``: seconds to wait before accepting each message (to make workers overlap).

Only accepted messages are recorded, in ``messages``, so a test counts exactly what the server
took responsibility for.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from shared.config import Settings
from tests.support import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def recipient(self) -> str:
        [recipient] = self.rcpt_tos
        return recipient


class _Handler:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.server.ehlos += 1
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.server._next_refusal(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        owner = self.server
        if owner.delay:
            await asyncio.sleep(owner.delay)
        if owner._held is not None and owner._held in envelope.rcpt_tos:
            owner._held = None  # once: a retry of the same message goes through
            owner.holding.set()
            while not owner._released.is_set():
                await asyncio.sleep(0.01)
            if not owner._accept_held:
                return "451 4.3.0 Dropped by the test"
        received = Received(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            message=message_from_bytes(envelope.original_content, policy=policy.default),
        )
        with owner._lock:
            owner.messages.append(received)
        return "250 2.0.0 Accepted"


class SmtpServer:
    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        ssl_context: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
        **smtp_options,
    ):
        self.port = free_port()
        self.messages: list[Received] = []
        self.ehlos = 0
        self.delay = 0.0
        self.logins: list[str] = []
        self.holding = threading.Event()
        self._lock = threading.Lock()
        self._refusals: dict[str, list] = {}
        self._held: str | None = None
        self._released = threading.Event()
        self._accept_held = False
        options: dict = dict(smtp_options)
        if credentials is not None:
            options.update(authenticator=self._authenticator(credentials), auth_require_tls=True)
        if tls_context is not None:
            options.update(tls_context=tls_context, require_starttls=True)
        self.controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=ssl_context,
            server_hostname="localhost",
            **options,
        )

    def _authenticator(self, credentials: tuple[str, str]):
        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = (auth_data.login.decode(), auth_data.password.decode()) == credentials
            if ok:
                self.logins.append(auth_data.login.decode())
            return AuthResult(success=ok, handled=False)

        return authenticate

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()
        self.controller.stop()

    # --- scripting -------------------------------------------------------------------------

    def refuse(self, email: str, reply: str, *, times: int | None = 1) -> None:
        with self._lock:
            self._refusals[email] = [reply, times]

    def _next_refusal(self, address: str) -> str | None:
        with self._lock:
            rule = self._refusals.get(address)
            if rule is None:
                return None
            reply, times = rule
            if times is not None:
                if times <= 1:
                    del self._refusals[address]
                else:
                    rule[1] = times - 1
            return reply

    def hold(self, email: str) -> None:
        self._held = email
        self._released.clear()
        self.holding.clear()

    def release(self, *, accept: bool = False) -> None:
        self._accept_held = accept
        self._released.set()

    # --- reading ---------------------------------------------------------------------------

    def recipients(self) -> list[str]:
        with self._lock:
            return sorted(r.recipient for r in self.messages)

    def settings(self, **overrides) -> Settings:
        """Settings for a worker that sends through this server."""
        values = {
            "smtp_host": "127.0.0.1",
            "smtp_port": self.port,
            "smtp_security": "none",
            "smtp_timeout": 5.0,
            "mail_from": "Acme Codes <codes@acme.test>",
            "worker_poll_seconds": 0.05,
        }
        values.update(overrides)
        return Settings(**values)


class SilentServer:
    """Accepts TCP connections and never says a word: an SMTP server that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.sock.close()
