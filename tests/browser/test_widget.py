"""The claim widget in Chromium, embedded in pages of other origins: a real cross-origin claim, a
refused origin, the codes:claimed event, its sentences, redirects, colours and the keyboard."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from shared.origins import set_allowed_origins
from tests.browser.conftest import GUESSES_PER_MINUTE, RATE_LIMITED, horizontal_overflow, widget_page

pytestmark = pytest.mark.browser

EMAIL = "ada@example.com"


@pytest.fixture
def embed(site, project, hosts, session_factory, page):
    """``embed(name, origin=0, **widget_page options)``: open a page of the allowed origin (or, with
    ``origin=1``, of the other one) that embeds the widget with the project's public key."""
    allowed, _other = hosts
    with session_factory() as session:
        set_allowed_origins(session, "acme", [allowed.origin])
        session.commit()

    def open_page(name: str, *, origin: int = 0, query: str = "", key: str | None = None, **options):
        url = hosts[origin].page(f"{name}.html", widget_page(site, key or project.keys.public_key, **options))
        page.goto(url + query)
        expect(page.get_by_role("button", name="Claim code")).to_be_visible()
        return page

    return open_page


def claim_through(page, email: str = EMAIL, code: str | None = None) -> None:
    if code is not None:
        page.get_by_label("Code", exact=True).fill(code)
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Claim code").click()


def test_the_widget_claims_from_another_origin_and_dispatches_codes_claimed(site, project, embed):
    code = site.generate(project.keys.secret_key)
    page = embed("claim", query=f"?code={code}")
    expect(page.get_by_label("Code", exact=True)).to_have_value(code)
    claim_through(page)

    expect(page.get_by_role("status")).to_have_text("Code claimed. It's yours.")
    expect(page.get_by_role("status")).to_be_focused()
    expect(page.get_by_role("button", name="Claim code")).to_be_hidden()
    [detail] = page.evaluate("window.claimed")
    assert (detail["code"], detail["email"]) == (code, EMAIL)
    assert re.fullmatch(r"[0-9a-f]{32}", detail["token"]) and detail["claimedAt"].endswith("Z")
    exchanged = site.exchange(project.keys.secret_key, detail["token"])
    assert exchanged.status_code == 200 and exchanged.json()["data"]["lead"]["email"] == EMAIL
    assert site.claims(project.keys.secret_key, code) == [EMAIL]


def test_an_origin_the_project_does_not_allow_claims_nothing(site, project, embed):
    code = site.generate(project.keys.secret_key)
    page = embed("refused", origin=1, attributes=f'data-code="{code}"')
    warnings = []
    page.on("console", lambda message: warnings.append(message.text))
    claim_through(page)
    expect(page.get_by_role("alert")).to_have_text(
        "We couldn't reach the code service. Check your connection and try again."
    )
    assert page.evaluate("window.claimed") == []
    assert site.claims(project.keys.secret_key, code) == []
    assert any("set-origins" in text for text in warnings), warnings


@pytest.mark.parametrize(
    ("case", "sentence"),
    [
        ("not found", "We couldn't find that code. Check it for typos and try again."),
        ("reserved", "This code is reserved for another email address. Use the address it was sent to."),
        ("fully claimed", "This code has already been claimed as many times as it allows."),
        ("not yet valid", "This code can't be claimed yet."),
        ("wrong key", "This form isn't set up correctly, so codes can't be claimed here yet."),
        ("too many attempts", None),
    ],
)
def test_refusals_are_the_pages_sentences(site, project, embed, case, sentence):
    secret, key, code = project.keys.secret_key, None, "no-such-code"
    if case == "reserved":
        code = site.generate(secret, reservedFor="grace@example.com")
    elif case == "fully claimed":
        code = site.generate(secret)
        site.claim(project.keys.public_key, code, "x@example.com")
    elif case == "not yet valid":
        code = site.generate(secret, validFrom="2099-01-01T00:00:00Z")
    elif case == "wrong key":
        key = "pk_" + "0" * 48
    page = embed("refusal", key=key)
    if case == "too many attempts":
        for guess in range(GUESSES_PER_MINUTE):
            claim_through(page, code=f"guess-{guess}")
            expect(page.get_by_role("alert")).to_contain_text("We couldn't find that code.")
        code = site.generate(secret)
    claim_through(page, code=code)
    alert = page.get_by_role("alert")
    if sentence is None:
        expect(alert).to_have_text(RATE_LIMITED)
    else:
        expect(alert).to_have_text(sentence)
    expect(page.get_by_label("Code", exact=True)).to_have_value(code)
    expect(page.get_by_label("Email address")).to_have_value(EMAIL)
    assert page.evaluate("window.claimed") == []


def test_field_errors_are_tied_to_their_fields_and_take_the_focus(site, project, embed):
    page = embed("fields")
    page.get_by_role("button", name="Claim code").click()
    code = page.get_by_label("Code", exact=True)
    expect(code).to_be_focused()
    expect(code).to_have_attribute("aria-invalid", "true")
    expect(code).to_have_accessible_description("Error: Enter your code.")
    email = page.get_by_label("Email address")
    expect(email).to_have_accessible_description("Error: Enter your email address.")
    claim_through(page, "ada@", code="some-code")  # the service's own check
    expect(email).to_have_accessible_description("Error: Enter an email address like name@example.com.")
    expect(email).to_be_focused()
    expect(code).not_to_have_attribute("aria-invalid", "true")


def test_a_redirect_carries_the_token_unless_the_page_cancels_it(site, project, embed, hosts):
    allowed, _other = hosts
    code = site.generate(project.keys.secret_key, allowedClaims=2)
    page = embed("redirect", attributes=f'data-code="{code}" data-redirect="/welcome.html?from=widget"')
    claim_through(page)
    expect(page.get_by_role("heading", name="Welcome aboard")).to_be_visible()
    assert page.url.startswith(f"{allowed.origin}/welcome.html?from=widget&claim_token=")
    token = parse_qs(urlsplit(page.url).query)["claim_token"][0]
    exchanged = site.exchange(project.keys.secret_key, token)
    assert exchanged.status_code == 200

    page = embed("cancelled", attributes=f'data-code="{code}" data-redirect="/welcome.html"')
    page.evaluate("document.addEventListener('codes:claimed', event => event.preventDefault())")
    claim_through(page, "grace@example.com")
    expect(page.get_by_role("status")).to_have_text("Code claimed. It's yours.")
    assert urlsplit(page.url).path == "/cancelled.html"


def test_the_host_page_sets_the_colours(site, project, embed):
    style = "#claim { --codes-accent: rgb(124, 45, 18); --codes-error: rgb(153, 27, 27); }"
    page = embed("colours", style=style)
    button = page.get_by_role("button", name="Claim code")
    assert button.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(124, 45, 18)"
    claim_through(page, code="nope")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("We couldn't find that code.")
    assert alert.evaluate("el => getComputedStyle(el).color") == "rgb(153, 27, 27)"


def test_keyboard_alone_claims_through_the_widget(site, project, embed):
    code = site.generate(project.keys.secret_key)
    page = embed("keyboard")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Code", exact=True)).to_be_focused()
    page.keyboard.type(code)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email address")).to_be_focused()
    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Claim code")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Code claimed. It's yours.")
    expect(page.get_by_role("status")).to_be_focused()


def test_the_widget_fits_a_phone(site, project, embed, page):
    page.set_viewport_size({"width": 360, "height": 740})
    page = embed("phone")
    assert horizontal_overflow(page) <= 0
    assert page.get_by_label("Email address").bounding_box()["width"] <= 360 - 2 * 32
