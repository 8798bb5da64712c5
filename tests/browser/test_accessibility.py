"""axe-core (the axe-playwright-python package ships it) finds no serious or critical violation in
the page and the widget, in each of their states; and the screenshots in docs/ come from here.

``UPDATE_SCREENSHOTS=1 pytest tests/browser/test_accessibility.py -k screenshots`` rewrites
docs/claim-page-desktop.png, docs/claim-page-phone.png and docs/claim-widget.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from shared.origins import set_allowed_origins
from tests.browser.conftest import ROOT, widget_page

pytestmark = pytest.mark.browser

BLOCKING = ("serious", "critical")
DOCS = ROOT / "docs"


def assert_accessible(page, state: str) -> None:
    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING]
    assert not blocking, f"{state}: {results.generate_report()}"


def claim_through(page, email: str, code: str | None = None) -> None:
    if code is not None:
        page.get_by_label("Code", exact=True).fill(code)
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Claim code").click()


@pytest.mark.slow
@pytest.mark.parametrize("width", [1024, 360])
def test_the_page_in_every_state(site, project, browser, width):
    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        code = site.generate(project.keys.secret_key)
        page.goto(f"{site.url}/p/acme?code={code}")
        assert_accessible(page, "the form")
        page.get_by_role("button", name="Claim code").click()
        expect(page.get_by_role("alert")).to_contain_text("Enter your email address.")
        assert_accessible(page, "the form with field errors")
        claim_through(page, "ada@example.com", "not-a-code")
        expect(page.get_by_role("alert")).to_contain_text("We couldn't find that code.")
        assert_accessible(page, "a refusal")
        claim_through(page, "ada@example.com", code)
        expect(page.get_by_role("heading", name="Code claimed")).to_be_visible()
        assert_accessible(page, "the success page")
        page.goto(f"{site.url}/p/no-such-page")
        assert_accessible(page, "the page-not-found page")
    finally:
        context.close()


@pytest.mark.slow
def test_the_widget_in_every_state(site, project, hosts, session_factory, page):
    allowed, _other = hosts
    with session_factory() as session:
        set_allowed_origins(session, "acme", [allowed.origin])
        session.commit()
    code = site.generate(project.keys.secret_key)
    page.goto(allowed.page("axe.html", widget_page(site, project.keys.public_key)))
    expect(page.get_by_role("button", name="Claim code")).to_be_visible()
    assert_accessible(page, "the widget")
    page.get_by_role("button", name="Claim code").click()
    expect(page.get_by_label("Code", exact=True)).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "the widget with field errors")
    claim_through(page, "ada@example.com", "not-a-code")
    expect(page.get_by_role("alert")).to_contain_text("We couldn't find that code.")
    assert_accessible(page, "the widget with a refusal")
    claim_through(page, "ada@example.com", code)
    expect(page.get_by_role("status")).to_have_text("Code claimed. It's yours.")
    assert_accessible(page, "the widget after a claim")


def test_axe_does_find_violations(page):
    """The scan is not blind: an unlabelled field and low-contrast text are reported."""
    page.set_content(
        '<!doctype html><html lang="en"><head><title>t</title></head><body><main>'
        '<input id="x"><p style="color:#ccc;background:#fff">faint</p></main></body></html>'
    )
    found = {v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in BLOCKING}
    assert {"label", "color-contrast"} <= found


# --- screenshots for the README -------------------------------------------------------------------


def _keep(shot: Path, name: str) -> None:
    assert shot.stat().st_size > 5_000, "a blank screenshot"
    if os.environ.get("UPDATE_SCREENSHOTS"):
        shutil.copyfile(shot, DOCS / name)


@pytest.mark.slow
def test_screenshots(site, browser, make_project, hosts, session_factory, tmp_path):
    project = make_project("Acme Beta")
    desktop = browser.new_context(viewport={"width": 900, "height": 560})
    phone = browser.new_context(viewport={"width": 360, "height": 640}, device_scale_factor=2)
    try:
        page = desktop.new_page()
        page.goto(f"{site.url}/p/acme-beta?code=curious-pineapple")
        page.get_by_label("Email address").fill("ada@example.com")
        page.screenshot(path=tmp_path / "desktop.png")
        _keep(tmp_path / "desktop.png", "claim-page-desktop.png")

        page = phone.new_page()
        code = site.generate(project.keys.secret_key, validFrom="2031-01-01T09:00:00Z")
        page.goto(f"{site.url}/p/acme-beta?code={code}")
        claim_through(page, "ada@example.com")
        expect(page.get_by_role("alert")).to_contain_text("from 1 January 2031 at 09:00 UTC.")
        page.screenshot(path=tmp_path / "phone.png")
        _keep(tmp_path / "phone.png", "claim-page-phone.png")

        allowed, _other = hosts
        with session_factory() as session:
            set_allowed_origins(session, "Acme Beta", [allowed.origin])
            session.commit()
        style = ".brand { --codes-accent: #7c2d12; --codes-focus: #7c2d12; }"
        html = widget_page(site, project.keys.public_key, attributes='class="brand"', style=style)
        page = desktop.new_page()
        page.goto(allowed.page("shot.html", html) + "?code=curious-pineapple")
        claim_through(page, "ada@example.com")
        expect(page.get_by_role("alert")).to_contain_text("We couldn't find that code.")
        page.screenshot(path=tmp_path / "widget.png")
        _keep(tmp_path / "widget.png", "claim-widget.png")
    finally:
        desktop.close()
        phone.close()
