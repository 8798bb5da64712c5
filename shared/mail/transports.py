"""Where a composed message goes: an SMTP server, or ``.eml`` files when no SMTP_HOST is set.

A transport is used for one batch (``with transport: ...``) so SMTP reuses one connection for
all of its messages. ``send`` returns a short description of where the message went, or raises
:class:`TemporaryFailure` (try again later) or :class:`PermanentFailure` (never retry).
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from shared.clock import utcnow
from shared.config import Settings
from shared.mail.message import sender_address

log = logging.getLogger("codes.mail")

SECURITY_MODES = ("none", "starttls", "ssl")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


class DeliveryFailure(Exception):
    """A message was not accepted; ``reason`` becomes the delivery's ``lastError``."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class TemporaryFailure(DeliveryFailure):
    """Worth retrying. ``connection`` is true when the server itself could not be used, so the
    rest of the batch would fail the same way."""

    def __init__(self, reason: str, *, connection: bool = False):
        super().__init__(reason)
        self.connection = connection


class PermanentFailure(DeliveryFailure):
    """The server refused this message for good (a 5xx reply)."""


class Transport(Protocol):
    def __enter__(self) -> Transport: ...

    def __exit__(self, *exc_info) -> None: ...

    def send(self, message: EmailMessage) -> str: ...


def make_transport(settings: Settings, *, ssl_context: ssl.SSLContext | None = None) -> Transport:
    """SMTP when ``SMTP_HOST`` is set, else ``.eml`` files under ``MAIL_DIR``."""
    sender_address(settings.mail_from)  # fail at start, not at the first message
    if settings.smtp_host:
        return SmtpTransport(settings, ssl_context=ssl_context)
    return FileTransport(Path(settings.mail_dir))


class FileTransport:
    """Writes each message as an ``.eml`` file, so a newcomer sees exactly what would be sent."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def __enter__(self) -> FileTransport:
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def send(self, message: EmailMessage) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        # <delivery-42.2030...@host> -> delivery-42: a retry of the same delivery overwrites it.
        stem = parseaddr(message["Message-ID"] or "")[1].partition(".")[0] or "message"
        path = self.directory / f"{utcnow():%Y%m%dT%H%M%S}Z-{_safe(stem)}.eml"
        # Written whole or not at all: a crash never leaves half a message behind.
        fd, temporary = tempfile.mkstemp(dir=self.directory, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as file:
                # UTF-8 headers as an SMTPUTF8 server would get them (ASCII messages are unchanged).
                file.write(message.as_bytes(policy=message.policy.clone(utf8=True)))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        log.info("Wrote the message to %s as %s", message["To"], path)
        return str(path)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)


class SmtpTransport:
    """One SMTP connection per batch, opened at the first message and reopened if it drops."""

    def __init__(self, settings: Settings, *, ssl_context: ssl.SSLContext | None = None):
        if settings.smtp_security not in SECURITY_MODES:
            raise ValueError(
                f"SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}, not {settings.smtp_security!r}"
            )
        self.host = settings.smtp_host
        self.security = settings.smtp_security
        self.port = settings.smtp_port or DEFAULT_PORTS[self.security]
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.timeout = settings.smtp_timeout
        self.envelope_from = sender_address(settings.mail_from)[1]
        self.ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> str:
        recipient = message["To"]
        try:
            if self._smtp is None or self._smtp.sock is None:
                self._smtp = None
                self._smtp = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"{self.host}:{self.port}: {describe(exc)}", connection=True) from exc
        try:
            self._smtp.send_message(message, from_addr=self.envelope_from, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _by_reply(code, reply) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise _by_reply(exc.smtp_code, exc.smtp_error) from exc
        except smtplib.SMTPNotSupportedError as exc:
            # An address with non-ASCII characters needs SMTPUTF8; this server will never take it.
            raise PermanentFailure(f"{self.host}:{self.port}: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            # The connection dropped or timed out mid-message: the next message reconnects.
            self.close()
            raise TemporaryFailure(f"{self.host}:{self.port}: {describe(exc)}") from exc
        log.info("Sent the message to %s through %s:%s", recipient, self.host, self.port)
        return f"{self.host}:{self.port}"


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(text.split())}"


def _by_reply(code: int, reply: bytes | str) -> DeliveryFailure:
    """5xx is final; anything else (4xx, or an odd code) is worth another try."""
    text = _reply_text(code, reply)
    if 500 <= code <= 599:
        return PermanentFailure(text)
    return TemporaryFailure(text)


def describe(exc: BaseException) -> str:
    """A short, human reason for a failed connection: the server's reply when it gave one."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply_text(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, TimeoutError):
        return "timed out"
    message = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {message}"
