"""The default email, as a recipient sees it: the worker's own message for a code of the demo
project, with ``PUBLIC_URL`` set as ``make run`` sets it, its HTML part rendered in Chromium.

``UPDATE_SCREENSHOTS=1 pytest tests/browser/test_email.py`` rewrites docs/email-default.png, the
README's picture of it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from email import message_from_bytes, policy

import pytest
from playwright.sync_api import expect

from shared.codes import generate_codes, send_code
from shared.config import Settings
from shared.mail.worker import Worker
from tests.browser.conftest import ROOT

PUBLIC_URL = "http://127.0.0.1:8000"  # make run's address


@pytest.fixture
def default_email_html(database, session_factory, make_project, tmp_path) -> tuple[str, str]:
    """(code, HTML part) of the .eml the worker writes for one code of the demo project."""
    project = make_project("demo")
    with session_factory() as session:
        [code] = generate_codes(
            session,
            project.id,
            amount=1,
            allowed_claims=10,
            valid_until=dt.datetime(2030, 12, 31, 23, 59, 59),
        )
        send_code(session, project.id, code.code, ["grace@example.com"])
        session.commit()
    settings = Settings(database_url=database.url, mail_dir=str(tmp_path / "mail"), public_url=PUBLIC_URL)
    assert Worker(session_factory, settings).run_once().sent == 1
    [path] = (tmp_path / "mail").glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["Subject"] == f"Your code for demo: {code.code}"
    return code.code, message.get_body(("html",)).get_content()


@pytest.mark.slow
def test_the_default_email_shows_the_code_and_a_button_to_the_claim_page(
    browser, default_email_html, tmp_path
):
    code, html = default_email_html
    context = browser.new_context(viewport={"width": 640, "height": 400}, device_scale_factor=2)
    try:
        page = context.new_page()
        page.set_content(html)
        expect(page.get_by_text(code, exact=True)).to_be_visible()
        button = page.get_by_role("link", name="Claim your code")
        expect(button).to_have_attribute("href", f"{PUBLIC_URL}/p/demo?code={code}")
        expect(page.locator("body")).to_contain_text("It is valid until 2030-12-31 23:59 UTC.")
        shot = tmp_path / "email.png"
        page.screenshot(path=shot, full_page=True)
    finally:
        context.close()
    assert shot.stat().st_size > 5_000, "a blank screenshot"
    if os.environ.get("UPDATE_SCREENSHOTS"):
        shutil.copyfile(shot, ROOT / "docs" / "email-default.png")
