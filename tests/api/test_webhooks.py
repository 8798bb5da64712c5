"""The /webhooks routes and the ``flask --app wsgi webhooks`` commands."""

from __future__ import annotations

import dataclasses
import json

import pytest

from api.render import code_json
from shared.codes import get_code
from shared.config import Settings
from shared.webhooks.events import code_snapshot
from shared.webhooks.payloads import code_object
from shared.webhooks.worker import WebhookWorker
from tests.api.conftest import bearer
from tests.api.test_claim_page import PageVisit
from tests.webhook_receiver import Receiver, register, webhook_settings


@pytest.fixture
def private_ok(make_app):
    """The app with WEBHOOKS_ALLOW_PRIVATE=true, so endpoints may be on loopback."""
    app = make_app(SETTINGS=dataclasses.replace(Settings.from_env(), webhooks_allow_private=True))
    return app.test_client()


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def add(client, headers, url, **body):
    response = client.post("/webhooks", json={"url": url, **body}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def test_registering_answers_the_secret_once_and_listing_never_shows_it(private_ok, secret, receiver):
    created = add(private_ok, secret, receiver.url, events=["code.claimed"])
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["code.claimed"]
    assert created["enabled"] is True and created["health"] == "healthy"
    assert created["failingSince"] is None and created["disabledAt"] is None
    listed = private_ok.get("/webhooks", headers=secret).get_json()["data"]
    assert [hook["id"] for hook in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert created["secret"] not in json.dumps(listed)


def test_without_the_setting_loopback_and_plain_http_are_refused(client, secret):
    response = client.post("/webhooks", json={"url": "https://127.0.0.1:8443/x"}, headers=secret)
    assert response.status_code == 422
    assert "private" in response.get_json()["errors"]["url"][0]
    response = client.post("/webhooks", json={"url": "http://localhost/x"}, headers=secret)
    assert response.status_code == 422 and "url" in response.get_json()["errors"]
    response = client.post("/webhooks", json={"url": "https://x.example", "events": ["nope"]}, headers=secret)
    assert response.status_code == 422 and set(response.get_json()["errors"]) == {"events.0"}
    response = client.post("/webhooks", json={"url": "https://x.example", "extra": 1}, headers=secret)
    assert response.status_code == 422
    assert client.get("/webhooks", headers=secret).get_json()["data"] == []


def test_webhooks_need_the_secret_key(client, public):
    assert client.get("/webhooks", headers=public).get_json()["error"] == "secret_key_required"
    assert client.post("/webhooks/construct", json={"event": "x"}, headers=public).status_code == 403


def test_remove_rotate_and_enable_only_the_projects_own_endpoints(private_ok, secret, make_project, receiver):
    mine = add(private_ok, secret, receiver.url)
    theirs = add(private_ok, bearer(make_project("theirs").keys.secret_key), receiver.url)
    for path in (f"/webhooks/{theirs['id']}/rotate-secret", f"/webhooks/{theirs['id']}/enable"):
        response = private_ok.post(path, headers=secret)
        assert (response.status_code, response.get_json()["error"]) == (404, "webhook_not_found")
    assert private_ok.delete(f"/webhooks/{theirs['id']}", headers=secret).status_code == 404
    assert private_ok.get(f"/webhooks/{theirs['id']}/deliveries", headers=secret).status_code == 404

    rotated = private_ok.post(f"/webhooks/{mine['id']}/rotate-secret", headers=secret).get_json()["data"]
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != mine["secret"]
    assert private_ok.post(f"/webhooks/{mine['id']}/enable", headers=secret).get_json()["data"]["enabled"]
    removed = private_ok.delete(f"/webhooks/{mine['id']}", headers=secret)
    assert removed.status_code == 200 and removed.get_json()["data"]["id"] == mine["id"]
    assert private_ok.get("/webhooks", headers=secret).get_json()["data"] == []


def test_construct_answers_the_mirrored_products_shapes(private_ok, secret, public, receiver, make_project):
    add(private_ok, secret, receiver.url)
    codes = private_ok.post("/codes/generate", json={"amount": 2}, headers=secret).get_json()["data"]
    claimed = private_ok.post(
        "/codes/claim", json={"code": codes[0]["code"], "email": "ada@example.com"}, headers=public
    ).get_json()["data"]
    events = _events(private_ok.application)
    created_id, claimed_id = events["code.created"], events["code.claimed"]

    construct = private_ok.post("/webhooks/construct", json={"event": claimed_id}, headers=secret)
    assert construct.status_code == 200
    body = construct.get_json()["data"]
    assert body["event"] == "CODE_CLAIM"
    assert body["data"]["lead"] == body["data"]["customer"] == {"email": "ada@example.com"}
    assert body["data"]["code"]["code"] == codes[0]["code"]
    assert body["data"]["code"]["claims"] == 1
    assert body["data"]["claimedAt"] == claimed["claimedAt"]

    creation = private_ok.post("/webhooks/construct", json={"event": created_id}, headers=secret).get_json()[
        "data"
    ]
    assert creation["event"] == "CODE_CREATION"
    assert creation["data"] == codes[0]
    assert creation["codes"] == codes

    other = bearer(make_project("other").keys.secret_key)
    for headers, event in ((other, claimed_id), (secret, "fdbc0cc8-7718-4e4f-a8cb-c969d31b543e")):
        missing = private_ok.post("/webhooks/construct", json={"event": event}, headers=headers)
        assert (missing.status_code, missing.get_json()["error"]) == (404, "event_not_found")


def _events(app) -> dict[str, str]:
    from sqlalchemy import select

    from api.extensions import db
    from shared.models import WebhookEvent

    with app.app_context():
        return dict(db.session.execute(select(WebhookEvent.type, WebhookEvent.public_id)).all())


def test_the_delivery_log_and_a_replay(private_ok, secret, public, receiver, database, session_factory):
    hook = add(private_ok, secret, receiver.url, events=["code.claimed"])
    [code] = private_ok.post("/codes/generate", json={"amount": 1}, headers=secret).get_json()["data"]
    private_ok.post("/codes/claim", json={"code": code["code"], "email": "ada@example.com"}, headers=public)
    receiver.respond(503)
    worker = WebhookWorker(session_factory, webhook_settings(database.url, webhook_retry_base_seconds=0.01))
    worker.run_round()

    page = private_ok.get(f"/webhooks/{hook['id']}/deliveries", headers=secret).get_json()["data"]
    [delivery] = page["items"]
    assert page["nextCursor"] is None
    assert delivery["eventType"] == "code.claimed" and delivery["status"] == "pending"
    assert delivery["lastStatusCode"] == 503 and delivery["attempts"] == 1
    [attempt] = delivery["log"]
    assert attempt["attempt"] == 1 and attempt["statusCode"] == 503 and attempt["nextAttemptAt"]
    assert delivery["eventId"] == receiver.requests[0].webhook_id

    retried = private_ok.post(f"/webhooks/{hook['id']}/deliveries/{delivery['id']}/retry", headers=secret)
    assert retried.status_code == 200 and retried.get_json()["data"]["status"] == "pending"
    worker.run_once()
    [delivery] = private_ok.get(f"/webhooks/{hook['id']}/deliveries", headers=secret).get_json()["data"][
        "items"
    ]
    assert delivery["status"] == "succeeded" and [a["statusCode"] for a in delivery["log"]] == [503, 200]
    missing = private_ok.post(f"/webhooks/{hook['id']}/deliveries/999999/retry", headers=secret)
    assert (missing.status_code, missing.get_json()["error"]) == (404, "delivery_not_found")
    bad_page = private_ok.get(f"/webhooks/{hook['id']}/deliveries?limit=0", headers=secret)
    assert bad_page.status_code == 422


def test_the_lancero_signature_switch(client, secret):
    assert client.get("/webhooks/settings", headers=secret).get_json()["data"] == {"lanceroSignature": True}
    changed = client.put("/webhooks/settings", json={"lanceroSignature": False}, headers=secret)
    assert changed.get_json()["data"] == {"lanceroSignature": False}
    assert client.get("/webhooks/settings", headers=secret).get_json()["data"] == {"lanceroSignature": False}
    assert (
        client.put("/webhooks/settings", json={"lanceroSignature": "no"}, headers=secret).status_code == 422
    )


def test_webhook_codes_have_the_apis_code_object_shape(client, secret, public, session, project):
    [made] = client.post(
        "/codes/generate",
        json={
            "amount": 1,
            "allowedClaims": 3,
            "reservedFor": "ada@example.com",
            "validUntil": "2040-01-01T00:00:00Z",
        },
        headers=secret,
    ).get_json()["data"]
    client.post("/codes/claim", json={"code": made["code"], "email": "ada@example.com"}, headers=public)
    record = get_code(session, project.id, made["code"])
    now = record.updated_at
    assert code_object(json.loads(json.dumps(code_snapshot(record))), now) == code_json(record, now)


def test_the_cli_adds_lists_rotates_enables_and_removes(make_app, project, receiver):
    runner = make_app(
        SETTINGS=dataclasses.replace(Settings.from_env(), webhooks_allow_private=True)
    ).test_cli_runner()
    added = runner.invoke(args=["webhooks", "add", "acme", receiver.url, "--event", "code.claimed", "--json"])
    assert added.exit_code == 0, added.output
    created = json.loads(added.output)
    assert created["secret"].startswith("whsec_") and created["events"] == ["code.claimed"]

    listed = runner.invoke(args=["webhooks", "list", "acme"])
    assert receiver.url in listed.output and "healthy" in listed.output and "whsec_" not in listed.output
    rotated = runner.invoke(args=["webhooks", "rotate-secret", "acme", str(created["id"])])
    assert "signing secret: whsec_" in rotated.output and created["secret"] not in rotated.output
    assert runner.invoke(args=["webhooks", "enable", "acme", str(created["id"])]).exit_code == 0
    assert "off" in runner.invoke(args=["webhooks", "lancero-signature", "acme", "off"]).output
    assert runner.invoke(args=["webhooks", "remove", "acme", str(created["id"])]).exit_code == 0
    assert "No webhook endpoints" in runner.invoke(args=["webhooks", "list", "acme"]).output

    for args, complaint in (
        (["webhooks", "remove", "acme", "12345"], "webhook_not_found"),
        (["webhooks", "list", "nobody"], "project_not_found"),
        (["webhooks", "add", "acme", "ftp://x"], "url"),
    ):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and complaint in result.output


def test_the_cli_refuses_private_urls_by_default(runner, project):
    result = runner.invoke(args=["webhooks", "add", "acme", "https://10.0.0.5/hooks"])
    assert result.exit_code != 0 and "private" in result.output


def test_a_claim_on_the_hosted_page_sends_one_code_claimed_with_source_page(
    client, generate, project, session_factory, database, receiver
):
    [code] = generate(allowedClaims=5)
    hook = register(session_factory, project.id, receiver.url, ["code.claimed"])
    visit = PageVisit(client)
    assert visit.claim(code["code"], "Ada@Example.com").status_code == 303
    assert visit.claim(code["code"], "ada@example.com").status_code == 409  # already claimed
    assert visit.claim("no-such-code", "ada@example.com").status_code == 404
    assert WebhookWorker(session_factory, webhook_settings(database.url)).run_once().succeeded == 1
    [request] = receiver.wait_for(1)
    body = request.verified(hook.secret)
    assert (body["data"]["source"], body["data"]["email"]) == ("page", "ada@example.com")
    assert body["data"]["code"]["code"] == code["code"]
