"""The SMTP transport against a real server on loopback: STARTTLS with login, implicit TLS, and
how each kind of failure is classified. No database."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from shared.config import Settings
from shared.mail.message import MailContent, compose
from shared.mail.transports import (
    FileTransport,
    PermanentFailure,
    SmtpTransport,
    TemporaryFailure,
    make_transport,
)
from shared.mail.worker import Worker
from tests.mailserver import SmtpServer


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_tls(ca) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def message(email: str):
    return compose(
        MailContent(project="Acme", code="curious-pineapple", email=email), mail_from="Acme <codes@acme.test>"
    )


def test_starttls_and_login_once_for_several_messages(server_tls, client_tls):
    with SmtpServer(tls_context=server_tls, credentials=("mailer", "s3cret")) as server:
        settings = server.settings(smtp_security="starttls", smtp_username="mailer", smtp_password="s3cret")
        with SmtpTransport(settings, ssl_context=client_tls) as transport:
            transport.send(message("a@example.com"))
            transport.send(message("b@example.com"))
    assert server.recipients() == ["a@example.com", "b@example.com"]
    assert server.logins == ["mailer"], "one connection, one login"
    assert server.ehlos == 2, "EHLO before and after STARTTLS"


def test_implicit_tls(server_tls, client_tls):
    with SmtpServer(ssl_context=server_tls) as server:
        settings = server.settings(smtp_security="ssl")
        with SmtpTransport(settings, ssl_context=client_tls) as transport:
            transport.send(message("a@example.com"))
    assert server.recipients() == ["a@example.com"]


def test_wrong_password_is_a_temporary_failure_of_the_connection(server_tls, client_tls):
    with SmtpServer(tls_context=server_tls, credentials=("mailer", "s3cret")) as server:
        settings = server.settings(smtp_security="starttls", smtp_username="mailer", smtp_password="wrong")
        with (
            SmtpTransport(settings, ssl_context=client_tls) as transport,
            pytest.raises(TemporaryFailure) as failure,
        ):
            transport.send(message("a@example.com"))
    assert failure.value.connection
    assert failure.value.reason.startswith(f"127.0.0.1:{server.port}: 535")
    assert server.messages == []


def test_an_untrusted_certificate_is_refused(server_tls):
    with SmtpServer(tls_context=server_tls) as server:
        settings = server.settings(smtp_security="starttls")
        with SmtpTransport(settings) as transport, pytest.raises(TemporaryFailure) as failure:
            transport.send(message("a@example.com"))
    assert failure.value.connection
    assert "CERTIFICATE_VERIFY_FAILED" in failure.value.reason
    assert server.messages == []


def test_starttls_required_but_not_offered_fails_the_connection():
    with (
        SmtpServer() as server,
        SmtpTransport(server.settings(smtp_security="starttls")) as transport,
        pytest.raises(TemporaryFailure) as failure,
    ):
        transport.send(message("a@example.com"))
    assert failure.value.connection
    assert "STARTTLS" in failure.value.reason
    assert server.messages == []


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("450 4.2.0 Mailbox busy", TemporaryFailure),
        ("421 4.3.2 Shutting down", TemporaryFailure),
        ("552 5.2.2 Mailbox full", PermanentFailure),
        ("550 5.1.1 No such user", PermanentFailure),
    ],
)
def test_replies_to_a_recipient_are_temporary_for_4xx_and_permanent_for_5xx(reply, kind):
    with SmtpServer() as server:
        server.refuse("a@example.com", reply)
        with SmtpTransport(server.settings()) as transport:
            with pytest.raises(kind) as failure:
                transport.send(message("a@example.com"))
            assert failure.value.reason == reply
            assert not getattr(failure.value, "connection", False)
            transport.send(message("b@example.com"))  # reconnects after a 421 if it must
    assert server.recipients() == ["b@example.com"]


def test_an_international_address_goes_through_a_server_with_smtputf8():
    with SmtpServer() as server, SmtpTransport(server.settings()) as transport:
        transport.send(message("jörg@exämple.com"))
    assert server.recipients() == ["jörg@exämple.com"]
    assert server.messages[0].message["To"] == "jörg@exämple.com"


def test_an_international_address_is_refused_for_good_without_smtputf8():
    with SmtpServer(enable_SMTPUTF8=False) as server:
        with SmtpTransport(server.settings()) as transport, pytest.raises(PermanentFailure) as failure:
            transport.send(message("jörg@exämple.com"))
        assert "SMTPUTF8" in failure.value.reason
    assert server.messages == []


def test_an_eml_file_keeps_an_international_address_readable(tmp_path):
    path = FileTransport(tmp_path).send(message("jörg@exämple.com"))
    assert "To: jörg@exämple.com\n" in Path(path).read_text(encoding="utf-8")


def test_settings_choose_the_transport_and_the_default_ports():
    assert isinstance(make_transport(Settings(mail_dir="/tmp/x")), FileTransport)
    ports = {
        mode: SmtpTransport(Settings(smtp_host="mail.test", smtp_security=mode)).port
        for mode in ("none", "starttls", "ssl")
    }
    assert ports == {"none": 25, "starttls": 587, "ssl": 465}
    assert SmtpTransport(Settings(smtp_host="mail.test", smtp_port=2525)).port == 2525


def test_a_wrong_security_mode_or_sender_stops_the_worker_at_start():
    with pytest.raises(ValueError, match="SMTP_SECURITY"):
        Worker(None, Settings(smtp_host="mail.test", smtp_security="tls"))
    with pytest.raises(ValueError, match="MAIL_FROM"):
        Worker(None, Settings(mail_from="not an address"))
