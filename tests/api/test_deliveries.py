"""GET /codes/<code>/deliveries and the email commands of the CLI, as a client and an operator
see them, with the worker sending through a real SMTP server on loopback."""

from __future__ import annotations

import dataclasses
import re
from email import message_from_bytes, policy

import pytest

from shared.config import Settings
from tests.api.conftest import bearer
from tests.api.test_errors import assert_error
from tests.mailserver import SmtpServer

ISO_MS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
FIELDS = {"email", "status", "attempts", "lastError", "nextAttemptAt", "sentAt", "createdAt"}


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def send(client, secret):
    def post(code: str, *emails: str) -> dict:
        response = client.post("/codes/send", json={"code": code, "emails": list(emails)}, headers=secret)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["data"]

    return post


def deliveries(client, headers, code: str, **query) -> dict:
    response = client.get(f"/codes/{code}/deliveries", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["success"] is True
    return body["data"]


def test_statuses_after_the_worker_sent_through_smtp(app, client, secret, runner, generate, send, smtp):
    (code,) = generate()
    send(code["code"], "a@example.com", "gone@example.com", "later@example.com")
    smtp.refuse("gone@example.com", "550 5.1.1 <gone@example.com>: no such user", times=None)
    smtp.refuse("later@example.com", "451 4.3.0 Try again later")
    app.config["SETTINGS"] = smtp.settings()

    queued = deliveries(client, secret, code["code"])
    assert [(d["email"], d["status"], d["attempts"]) for d in queued["items"]] == [
        ("later@example.com", "queued", 0),
        ("gone@example.com", "queued", 0),
        ("a@example.com", "queued", 0),
    ]
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output

    data = deliveries(client, secret, f"  {code['code'].upper()} ")
    assert data["nextCursor"] is None
    by_email = {d["email"]: d for d in data["items"]}
    for item in data["items"]:
        assert set(item) == FIELDS
        assert ISO_MS_Z.fullmatch(item["createdAt"])
    sent = by_email["a@example.com"]
    assert (sent["status"], sent["attempts"], sent["lastError"], sent["nextAttemptAt"]) == (
        "sent",
        1,
        None,
        None,
    )
    assert ISO_MS_Z.fullmatch(sent["sentAt"])
    gone = by_email["gone@example.com"]
    assert (gone["status"], gone["attempts"], gone["sentAt"]) == ("failed", 1, None)
    assert gone["lastError"] == "550 5.1.1 <gone@example.com>: no such user"
    later = by_email["later@example.com"]
    assert (later["status"], later["attempts"], later["lastError"]) == (
        "queued",
        1,
        "451 4.3.0 Try again later",
    )
    assert ISO_MS_Z.fullmatch(later["nextAttemptAt"]) and later["nextAttemptAt"] > later["createdAt"]
    assert smtp.recipients() == ["a@example.com"]


def test_pages_newest_first(client, secret, generate, send):
    (code,) = generate()
    emails = [f"lead{i}@example.com" for i in range(5)]
    send(code["code"], *emails)
    seen, cursor = [], None
    for _ in range(3):
        query = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        page = deliveries(client, secret, code["code"], **query)
        seen += [d["email"] for d in page["items"]]
        cursor = page["nextCursor"]
    assert seen == list(reversed(emails))
    assert cursor is None


def test_refusals(client, secret, public, generate, send, make_project):
    (code,) = generate()
    send(code["code"], "a@example.com")
    path = f"/codes/{code['code']}/deliveries"
    assert_error(client.get(path), 401, "unauthorized")
    assert_error(client.get(path, headers=public), 403, "secret_key_required")
    assert_error(client.get("/codes/no-such-code/deliveries", headers=secret), 404, "code_not_found")
    other = make_project("other")
    assert_error(client.get(path, headers=bearer(other.keys.secret_key)), 404, "code_not_found")
    for limit in (0, 101, "x"):
        body = assert_error(
            client.get(path, query_string={"limit": limit}, headers=secret), 422, "validation_error"
        )
        assert "limit" in body["errors"]
    body = assert_error(
        client.get(path, query_string={"cursor": "%%%"}, headers=secret), 422, "invalid_cursor"
    )
    assert "cursor" in body["errors"]


def test_a_deleted_code_has_no_deliveries_to_show(client, secret, generate, send):
    (code,) = generate()
    send(code["code"], "a@example.com")
    assert client.post("/codes/delete", json={"code": code["code"]}, headers=secret).status_code == 200
    assert_error(client.get(f"/codes/{code['code']}/deliveries", headers=secret), 404, "code_not_found")


def test_the_route_is_in_the_openapi_document(client):
    operation = client.get("/openapi.json").get_json()["paths"]["/codes/{code}/deliveries"]["get"]
    assert operation["summary"]
    assert {"200", "401", "403", "404", "422"} <= set(operation["responses"])


# --- CLI --------------------------------------------------------------------------------------


def test_set_template_from_files_and_a_preview(runner, project, tmp_path):
    text = tmp_path / "body.txt"
    text.write_text("Your {{project}} code is {{code}}.\nClaim it: {{claim_url}}\n")
    html = tmp_path / "body.html"
    html.write_text("<p>{{code}}</p>")
    result = runner.invoke(
        args=[
            "projects",
            "set-template",
            "acme",
            "--subject",
            "{{project}}: {{code}}",
            "--text",
            str(text),
            "--html",
            str(html),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Subject: acme: curious-pineapple" in result.output
    assert "| Your acme code is curious-pineapple." in result.output
    assert "custom template parts: subject, text, html" in result.output

    result = runner.invoke(args=["projects", "set-template", "acme", "--reset"])
    assert result.exit_code == 0
    assert "none (built-in message)" in result.output


def test_set_template_refuses_an_unknown_placeholder(runner, project):
    result = runner.invoke(args=["projects", "set-template", "acme", "--subject", "Hi {{first_name}}"])
    assert result.exit_code == 1
    assert "Unknown placeholder {{first_name}}" in result.output
    result = runner.invoke(args=["projects", "set-template", "acme"])
    assert result.exit_code == 2
    result = runner.invoke(args=["projects", "set-template", "nope", "--subject", "x"])
    assert result.exit_code == 1 and "nope" in result.output


def test_set_claim_url(runner, project):
    result = runner.invoke(args=["projects", "set-claim-url", "acme", "https://acme.test/c?code={code}"])
    assert result.exit_code == 0, result.output
    assert "Claim it here: https://acme.test/c?code=curious-pineapple" in result.output
    result = runner.invoke(args=["projects", "set-claim-url", "acme", "ftp://acme.test"])
    assert result.exit_code == 1 and "http" in result.output
    result = runner.invoke(args=["projects", "set-claim-url", "acme", "--clear"])
    assert result.exit_code == 0 and "claim URL (none)" in result.output


def test_worker_once_without_smtp_host_writes_eml_files(
    app, runner, client, secret, generate, send, tmp_path
):
    mail_dir = tmp_path / "mail"
    app.config["SETTINGS"] = dataclasses.replace(Settings(), mail_dir=str(mail_dir))
    (code,) = generate()
    send(code["code"], "a@example.com")

    result = runner.invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    assert f"messages are written as .eml files under {mail_dir}" in result.output
    [path] = mail_dir.glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "a@example.com" and code["code"] in message["Subject"]
    assert deliveries(client, secret, code["code"])["items"][0]["status"] == "sent"


def test_worker_refuses_a_wrong_security_mode(app, runner):
    app.config["SETTINGS"] = Settings(smtp_host="mail.test", smtp_security="tls")
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 1 and "SMTP_SECURITY" in result.output
