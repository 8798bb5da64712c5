"""Emails link to the project's claim page when it has no claim URL of its own and PUBLIC_URL is set."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from shared import pages
from shared.codes import send_code
from shared.config import Settings
from shared.mail.services import set_claim_url
from shared.mail.worker import Worker


@pytest.fixture
def mail(tmp_path, database, session_factory, project, make_code):
    """``mail(public_url)``: queue a code to lead@example.com, run the worker once, return the
    code and the text and HTML of the .eml file it wrote."""

    def send(public_url: str | None):
        code = make_code()
        with session_factory() as session:
            send_code(session, project.id, code.code, ["lead@example.com"])
            session.commit()
        directory = tmp_path / "mail"
        settings = Settings(database_url=database.url, mail_dir=str(directory), public_url=public_url)
        assert Worker(session_factory, settings).run_once().sent == 1
        [path] = directory.glob("*.eml")
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        path.unlink()
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        return code.code, text, html

    return send


def test_without_a_claim_url_the_email_links_to_the_projects_page_with_the_code(mail):
    code, text, html = mail("https://codes.example")
    link = f"https://codes.example/p/acme?code={code}"
    assert f"Claim it here: {link}" in text
    assert f'href="{link}"' in html


def test_the_projects_own_claim_url_wins(mail, session_factory):
    with session_factory() as session:
        set_claim_url(session, "acme", "https://acme.example/claim?c={code}")
        session.commit()
    code, text, _html = mail("https://codes.example")
    assert f"https://acme.example/claim?c={code}" in text and "/p/acme" not in text


def test_without_public_url_or_without_a_page_there_is_no_link(mail, session_factory):
    _code, text, _html = mail(None)
    assert "Enter it where acme asks for your code." in text and "http" not in text
    with session_factory() as session:
        pages.set_slug(session, "acme", None)
        session.commit()
    _code, text, _html = mail("https://codes.example")
    assert "http" not in text


def test_a_moved_page_is_linked_at_its_new_address(mail, session_factory):
    with session_factory() as session:
        pages.set_slug(session, "acme", "spring")
        session.commit()
    code, text, _html = mail("https://codes.example/base/")
    assert f"https://codes.example/base/p/spring?code={code}" in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),
        ("  ", None),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://codes.example/", "https://codes.example"),
        ("https://example.com/codes/", "https://example.com/codes"),
    ],
)
def test_public_url_is_read_without_its_trailing_slash(value, expected):
    assert Settings.from_env({"PUBLIC_URL": value}).public_url == expected


@pytest.mark.parametrize("value", ["codes.example", "ftp://codes.example", "https://", "https://x/?a=1"])
def test_a_malformed_public_url_fails_at_startup(value):
    with pytest.raises(ValueError, match="PUBLIC_URL"):
        Settings.from_env({"PUBLIC_URL": value})
