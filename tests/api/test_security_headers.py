"""Every response says ``X-Content-Type-Options: nosniff``; every answer that holds a claim token,
an exchange result or a webhook secret says ``Cache-Control: no-store`` (api/security_headers.py)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from shared import pages
from shared.config import Settings
from tests.api.test_claim_page import PageVisit
from tests.webhook_receiver import Receiver


def test_every_kind_of_response_says_nosniff(client, secret, public, project):
    answers = {
        "probe": client.get("/healthz"),
        "openapi": client.get("/openapi.json"),
        "docs": client.get("/docs"),
        "widget": client.get("/widget.js"),
        "page": client.get("/p/acme"),
        "page 404": client.get("/p/nowhere"),
        "list": client.get("/codes", headers=secret),
        "no key": client.get("/codes"),
        "public key": client.get("/codes", headers=public),
        "no route": client.get("/nowhere"),
        "wrong method": client.put("/codes/claim", headers=public),
        "invalid json": client.post("/codes/claim", data=b"[" * 100, headers=public),
        "invalid field": client.post(
            "/codes/claim", json={"code": "a\x00", "email": "a@b.co"}, headers=public
        ),
        "too large": client.post("/codes/claim", data=b"x" * (2 * 1024 * 1024), headers=public),
    }
    missing = {
        name: r.status_code
        for name, r in answers.items()
        if r.headers.get("X-Content-Type-Options") != "nosniff"
    }
    assert missing == {}
    assert {r.headers.get_all("X-Content-Type-Options").__len__() for r in answers.values()} == {1}


@pytest.fixture
def private_ok(make_app):
    """The app with WEBHOOKS_ALLOW_PRIVATE=true, so a webhook endpoint may be on loopback."""
    app = make_app(SETTINGS=dataclasses.replace(Settings.from_env(), webhooks_allow_private=True))
    return app.test_client()


def test_answers_with_a_token_or_a_secret_are_never_stored(private_ok, secret, public, generate):
    client = private_ok
    [code] = generate(allowedClaims=2)
    claimed = client.post(
        "/codes/claim", json={"code": code["code"], "email": "a@example.com"}, headers=public
    )
    assert claimed.status_code == 200 and claimed.get_json()["data"]["token"]
    exchanged = client.post(
        "/claims/exchange", json={"token": claimed.get_json()["data"]["token"]}, headers=secret
    )
    assert exchanged.status_code == 200
    refused = client.post("/codes/claim", json={"code": "nope", "email": "a@example.com"}, headers=public)
    assert refused.status_code == 404
    with Receiver() as receiver:
        created = client.post("/webhooks", json={"url": receiver.url}, headers=secret)
        assert created.status_code == 200 and created.get_json()["data"]["secret"]
        endpoint_id = created.get_json()["data"]["id"]
        rotated = client.post(f"/webhooks/{endpoint_id}/rotate-secret", headers=secret)
        assert rotated.status_code == 200
    for name, response in {
        "claim": claimed,
        "exchange": exchanged,
        "refused claim": refused,
        "webhook": created,
        "rotated secret": rotated,
    }.items():
        assert response.headers.get("Cache-Control") == "no-store", name
    # Answers without secrets stay cacheable by the client's own rules.
    assert "no-store" not in client.get("/codes", headers=secret).headers.get("Cache-Control", "")


def test_the_claim_pages_redirects_are_never_stored(client, generate, session_factory):
    [first, second] = generate(amount=2)
    visit = PageVisit(client)
    to_success_page = visit.claim(first["code"])
    assert to_success_page.status_code == 303
    success_page = client.get(to_success_page.headers["Location"])
    with session_factory() as session:
        pages.set_redirect_url(session, "acme", "https://acme.example/welcome")
        session.commit()
    to_project_site = PageVisit(client).claim(second["code"])
    assert re.search(r"claim_token=[0-9a-f]{32}", to_project_site.headers["Location"])
    for response in (to_success_page, success_page, to_project_site):
        assert response.headers.get("Cache-Control") == "no-store", response.status_code
