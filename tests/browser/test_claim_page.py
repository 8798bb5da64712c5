"""The hosted claim page in Chromium: from the email's link to a claim, every refusal, without
JavaScript, by keyboard alone, on a phone and at 200% zoom."""

from __future__ import annotations

import datetime as dt
import json
import re
from email import message_from_bytes, policy
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from shared import pages
from shared.clock import utcnow
from shared.models import Code
from tests.browser.conftest import GUESSES_PER_MINUTE, RATE_LIMITED, horizontal_overflow

pytestmark = pytest.mark.browser

EMAIL = "ada@example.com"


def claim_through(page, email: str = EMAIL, code: str | None = None) -> None:
    if code is not None:
        page.get_by_label("Code").fill(code)
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Claim code").click()


@pytest.mark.slow
def test_a_code_sent_from_the_demo_project_is_claimed_from_the_link_in_its_email(site, engine, page):
    """The issue's "done when": make run's demo project, /codes/send, the worker's .eml, a click."""
    keys = site.mail_dir.parent / "demo-keys.json"
    site.flask("projects", "demo", "--keys-file", str(keys))
    secret = json.loads(keys.read_text())["secretKey"]
    code = site.generate(secret)
    sent = site.api("POST", "/codes/send", secret, json={"code": code, "emails": ["lead@example.com"]})
    assert sent.json()["data"]["notifiedLeads"] == 1, sent.text
    site.flask("worker", "--once")
    [eml] = [path for path in site.mail_dir.glob("*.eml") if code in path.read_text()]
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    link = f"{site.url}/p/demo?code={code}"
    assert f"Claim it here: {link}" in message.get_body(("plain",)).get_content()

    # Open the message as a mail client shows it, and click its button.
    page.set_content(message.get_body(("html",)).get_content())
    page.get_by_role("link", name="Claim your code").click()
    expect(page).to_have_url(link)
    expect(page.get_by_role("heading", name="Claim your code")).to_be_visible()
    expect(page.get_by_label("Code")).to_have_value(code)
    claim_through(page, "lead@example.com")

    expect(page.get_by_role("heading", name="Code claimed")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(f"The code {code} for demo is yours.")
    assert site.claims(secret, code) == ["lead@example.com"]


def test_with_a_redirect_the_browser_lands_on_the_projects_site_with_a_token_that_exchanges(
    site, project, page, hosts, session_factory
):
    allowed, _other = hosts
    with session_factory() as session:
        pages.set_redirect_url(session, "acme", f"{allowed.origin}/welcome.html?from=codes")
        session.commit()
    code = site.generate(project.keys.secret_key)
    page.goto(f"{site.url}/p/acme?code={code}")
    claim_through(page)

    expect(page.get_by_role("heading", name="Welcome aboard")).to_be_visible()
    query = parse_qs(urlsplit(page.url).query)
    assert page.url.startswith(f"{allowed.origin}/welcome.html?from=codes&claim_token=")
    exchanged = site.exchange(project.keys.secret_key, query["claim_token"][0])
    assert exchanged.status_code == 200, exchanged.text
    assert exchanged.json()["data"]["lead"]["email"] == EMAIL


def _past(session_factory, code: str) -> dt.datetime:
    """Make ``code`` expire a minute ago (the API refuses to create expired codes)."""
    end = utcnow().replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
    with session_factory() as session:
        session.execute(update(Code).where(Code.code == code).values(valid_until=end))
        session.commit()
    return end


REFUSALS = {
    "not found": "We couldn't find that code. Check it for typos and try again.",
    "reserved": "This code is reserved for another email address. Use the address it was sent to.",
    "already claimed": "You have already claimed this code with this email address.",
    "not yet valid": "This code can't be claimed yet. You can claim it from {date}.",
    "expired": "This code expired on {date}.",
    "fully claimed": "This code has already been claimed as many times as it allows.",
    "too many attempts": RATE_LIMITED,
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_each_refusal_is_a_sentence_and_keeps_what_was_typed(site, project, page, session_factory, refusal):
    secret = project.keys.secret_key
    code, email, date = "no-such-code", EMAIL, None
    if refusal == "reserved":
        code = site.generate(secret, reservedFor="grace@example.com")
    elif refusal == "already claimed":
        code = site.generate(secret, allowedClaims=3)
        page.goto(f"{site.url}/p/acme?code={code}")
        claim_through(page)
        expect(page.get_by_role("heading", name="Code claimed")).to_be_visible()
    elif refusal == "not yet valid":
        start = (utcnow() + dt.timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
        code = site.generate(secret, validFrom=start.isoformat() + "Z")
        date = f"{start.day} {start:%B %Y} at 09:00 UTC"
    elif refusal == "expired":
        code = site.generate(secret, validUntil=(utcnow() + dt.timedelta(days=1)).isoformat() + "Z")
        end = _past(session_factory, code)
        date = f"{end.day} {end:%B %Y} at {end:%H:%M} UTC"
    elif refusal == "fully claimed":
        code = site.generate(secret)
        site.claim(project.keys.public_key, code, "x@example.com")
    elif refusal == "too many attempts":
        for guess in range(GUESSES_PER_MINUTE):
            page.goto(f"{site.url}/p/acme")
            claim_through(page, code=f"guess-{guess}")
            expect(page.get_by_role("alert")).to_contain_text("We couldn't find that code.")
        code = site.generate(secret)

    page.goto(f"{site.url}/p/acme")
    claim_through(page, email, code)

    alert = page.get_by_role("alert")
    if refusal == "too many attempts":
        expect(alert).to_have_text(RATE_LIMITED)
    else:
        expect(alert).to_have_text(REFUSALS[refusal].format(date=date))
    expect(page).to_have_title(re.compile(r"^Error: Claim your code"))
    expect(page.get_by_label("Code")).to_have_value(code)
    expect(page.get_by_label("Email address")).to_have_value(email)
    # Focus moved to the message, so a screen reader reads it and Tab goes on to the form.
    expect(alert).to_be_focused()


def test_empty_fields_are_named_and_linked_to(site, project, page):
    page.goto(f"{site.url}/p/acme")
    page.get_by_role("button", name="Claim code").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Enter your code.")
    expect(alert).to_contain_text("Enter your email address.")
    expect(page.get_by_label("Email address")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Email address")).to_have_accessible_description(
        "Your claim is recorded under this address. Error: Enter your email address."
    )
    alert.get_by_role("link", name="Enter your email address.").click()
    expect(page).to_have_url(re.compile(r"#email$"))


def test_the_page_works_without_javascript(site, project, browser):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        code = site.generate(project.keys.secret_key)
        page.goto(f"{site.url}/p/acme?code={code}")
        claim_through(page, "  Ada@Example.com ")
        expect(page.get_by_role("heading", name="Code claimed")).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text(EMAIL)
        assert site.claims(project.keys.secret_key, code) == [EMAIL]
    finally:
        context.close()


def test_keyboard_alone_claims_a_code(site, project, page):
    code = site.generate(project.keys.secret_key)
    page.goto(f"{site.url}/p/acme")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Code")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "focus is visible"
    page.keyboard.type("wrong-code")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email address")).to_be_focused()
    page.keyboard.type(EMAIL)
    page.keyboard.press("Enter")  # submits from the field, as every form does

    expect(page.get_by_role("alert")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Code")).to_be_focused()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(code)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Claim code")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Code claimed")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Claim another code")).to_be_focused()


@pytest.mark.parametrize(
    ("width", "height", "scale"),
    [(360, 740, 3), (320, 640, 2), (640, 400, 2)],  # phones; a 1280x800 window at 200% zoom
    ids=["phone-360", "reflow-320", "zoom-200"],
)
def test_readable_on_a_phone_and_at_200_percent_zoom(site, project, browser, width, height, scale):
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale)
    try:
        page = context.new_page()
        page.goto(f"{site.url}/p/acme?code=curious-pineapple")
        claim_through(page)
        expect(page.get_by_role("alert")).to_be_visible()
        overflow = horizontal_overflow(page)
        assert overflow <= 0, f"{overflow}px of horizontal scrolling at {width}px"
        controls = (page.get_by_label("Code"), page.get_by_label("Email address"), page.get_by_role("button"))
        for locator in controls:
            box = locator.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width
        button = page.get_by_role("button", name="Claim code").bounding_box()
        assert button["height"] >= 44, "a touch target"
        font = page.evaluate("parseFloat(getComputedStyle(document.getElementById('email')).fontSize)")
        assert font >= 16, "phones do not zoom into the field"
    finally:
        context.close()
