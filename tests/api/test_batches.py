"""Batches over HTTP: import, assign, GET /batches, the batch filter, CSV exports, send from a batch."""

from __future__ import annotations

import csv
import io
import json

import pytest

from shared.validation import MAX_IMPORT
from tests.api.conftest import bearer
from tests.api.test_errors import assert_error


@pytest.fixture
def post(client, secret):
    def send(path: str, body: dict, headers: dict | None = None):
        return client.post(path, json=body, headers=headers or secret)

    return send


def imported(post, codes: list[str], **settings) -> dict:
    response = post("/codes/import", {"codes": codes, **settings})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


# --- import -----------------------------------------------------------------------------------


def test_import_creates_custom_codes_with_the_shared_settings(post, client, secret):
    data = imported(
        post,
        ["  STEAM-AAAA ", "gift_01"],
        allowedClaims=2,
        validUntil="2099-01-01T00:00:00Z",
        batch="Beta keys",
    )
    assert data == {"imported": 2, "skipped": []}
    code = client.get("/codes/Steam-AAAA", headers=secret).get_json()["data"]
    assert (code["code"], code["type"], code["allowedClaims"], code["batch"]) == (
        "steam-aaaa",
        "custom",
        2,
        "Beta keys",
    )
    assert code["validUntil"] == "2099-01-01T00:00:00.000Z" and code["assignedTo"] is None


def test_import_refuses_normalization_collisions_and_existing_values_naming_them(post, client, secret):
    body = assert_error(post("/codes/import", {"codes": ["ABC", "x", " abc "]}), 409, "code_exists")
    assert body["errors"] == {"codes.2": ["Repeats codes.0."]}
    imported(post, ["abc"])
    body = assert_error(post("/codes/import", {"codes": ["new", "ABC"]}), 409, "code_exists")
    assert body["errors"] == {"codes.1": ["Exists already in this project."]}
    assert "abc" in body["message"]
    # All or nothing: "new" was not kept.
    assert_error(client.get("/codes/new", headers=secret), 404, "code_not_found")


def test_skip_existing_imports_the_rest(post):
    imported(post, ["abc"])
    data = imported(post, ["ABC", "new", "NEW"], skipExisting=True)
    assert data == {
        "imported": 1,
        "skipped": [{"code": "abc", "reason": "code_exists"}, {"code": "new", "reason": "duplicate"}],
    }


def test_import_checks_charset_size_and_types(post, client, secret):
    body = assert_error(
        post("/codes/import", {"codes": ["ok", "has space", 7, "a" * 65]}), 422, "validation_error"
    )
    assert body["errors"] == {"codes.2": ["Not a valid string."]}  # types first, then the charset
    body = assert_error(
        post("/codes/import", {"codes": ["ok", "has space", "dot.ted"]}), 422, "validation_error"
    )
    assert set(body["errors"]) == {"codes.1", "codes.2"}
    assert "letters, digits" in body["errors"]["codes.1"][0]
    body = assert_error(post("/codes/import", {"codes": []}), 422, "validation_error")
    assert set(body["errors"]) == {"codes"}
    too_many = [f"c{n}" for n in range(MAX_IMPORT + 1)]
    body = assert_error(post("/codes/import", {"codes": too_many}), 422, "validation_error")
    assert set(body["errors"]) == {"codes"}
    body = assert_error(
        post("/codes/import", {"codes": ["x"], "batch": "", "allowedClaims": 0, "type": "custom"}),
        422,
        "validation_error",
    )
    assert set(body["errors"]) == {"batch", "allowedClaims", "type"}
    assert client.get("/codes", headers=secret).get_json()["data"]["items"] == []


def test_ten_thousand_values_fit_in_one_request(post, client, secret):
    values = [f"LICENCE-{n:05d}-ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789-abcdef" for n in range(MAX_IMPORT)]
    assert len(json.dumps({"codes": values})) < 1024 * 1024
    assert imported(post, values, batch="big")["imported"] == MAX_IMPORT
    assert client.get("/batches/big", headers=secret).get_json()["data"]["total"] == MAX_IMPORT


def test_a_body_over_the_size_limit_is_413(post):
    values = ["x" * 60] * 20_000
    assert_error(post("/codes/import", {"codes": values}), 413, "payload_too_large")


def test_import_needs_the_secret_key_and_replays_with_an_idempotency_key(post, public, secret):
    assert_error(post("/codes/import", {"codes": ["x"]}, headers=public), 403, "secret_key_required")
    headers = {**secret, "Idempotency-Key": "import-1"}
    first = post("/codes/import", {"codes": ["x"]}, headers=headers)
    again = post("/codes/import", {"codes": ["x"]}, headers=headers)
    assert first.get_json() == again.get_json() and again.headers["Idempotent-Replayed"] == "true"


# --- generate with a batch, the code object, the filter --------------------------------------


def test_generate_puts_codes_in_a_batch_and_the_listing_filters_by_it(generate, client, secret):
    batch = {c["code"] for c in generate(amount=3, batch="beta")}
    generate(amount=2)
    assert all(
        c["batch"] == "beta"
        for c in client.get("/codes?batch=beta", headers=secret).get_json()["data"]["items"]
    )
    listed = {c["code"] for c in client.get("/codes?batch=beta", headers=secret).get_json()["data"]["items"]}
    assert listed == batch
    assert client.get("/codes?batch=Beta", headers=secret).get_json()["data"]["items"] == []
    body = assert_error(client.get("/codes?batch=%20", headers=secret), 422, "validation_error")
    assert set(body["errors"]) == {"batch"}
    assert_error(
        client.post("/codes/generate", json={"amount": 1, "type": "custom"}, headers=secret),
        422,
        "validation_error",
    )


# --- assign -----------------------------------------------------------------------------------


def test_assign_hands_out_one_code_per_email_and_the_same_again(post, generate, client, secret):
    batch = {c["code"] for c in generate(amount=2, batch="beta")}
    first = post("/codes/assign", {"batch": "beta", "email": "Ada@Example.com"}).get_json()["data"]
    assert first["new"] is True and first["code"]["code"] in batch
    assert first["code"]["reservedFor"] == {"email": "ada@example.com"}
    assigned = first["code"]["assignedTo"]
    assert (assigned["email"], assigned["discordUserId"]) == ("ada@example.com", None)
    again = post("/codes/assign", {"batch": " beta", "email": "ada@example.com"}).get_json()["data"]
    assert again["new"] is False and again["code"]["code"] == first["code"]["code"]
    second = post("/codes/assign", {"batch": "beta", "email": "bob@example.com"}).get_json()["data"]
    assert {first["code"]["code"], second["code"]["code"]} == batch
    body = assert_error(
        post("/codes/assign", {"batch": "beta", "email": "eve@example.com"}), 409, "batch_exhausted"
    )
    assert "handed out" in body["message"]
    # The one handed to ada can be claimed by ada only.
    claimed = client.post(
        "/codes/claim", json={"code": first["code"]["code"], "email": "eve@example.com"}, headers=secret
    )
    assert_error(claimed, 403, "code_reserved")


def test_assign_refusals(post, public):
    assert_error(post("/codes/assign", {"batch": "nope", "email": "a@example.com"}), 404, "batch_not_found")
    body = assert_error(post("/codes/assign", {"batch": "", "email": "nope"}), 422, "validation_error")
    assert set(body["errors"]) == {"batch", "email"}
    body = assert_error(
        post("/codes/assign", {"email": "a@example.com", "extra": 1}), 422, "validation_error"
    )
    assert set(body["errors"]) == {"batch", "extra"}
    assert_error(
        post("/codes/assign", {"batch": "b", "email": "a@example.com"}, headers=public),
        403,
        "secret_key_required",
    )


# --- GET /batches -------------------------------------------------------------------------------


def test_batches_are_listed_with_their_counts(post, generate, client, secret):
    generate(amount=3, batch="beta")
    imported(post, ["k1"], batch="alpha")
    generate(amount=1)
    code = post("/codes/assign", {"batch": "beta", "email": "a@example.com"}).get_json()["data"]["code"][
        "code"
    ]
    client.post("/codes/claim", json={"code": code, "email": "a@example.com"}, headers=secret)
    page = client.get("/batches", headers=secret).get_json()["data"]
    assert page == {
        "items": [
            {"name": "alpha", "total": 1, "unclaimed": 1, "assigned": 0, "claimed": 0, "available": 1},
            {"name": "beta", "total": 3, "unclaimed": 2, "assigned": 1, "claimed": 1, "available": 2},
        ],
        "nextCursor": None,
    }
    first = client.get("/batches?limit=1", headers=secret).get_json()["data"]
    assert [b["name"] for b in first["items"]] == ["alpha"]
    rest = client.get(f"/batches?limit=1&cursor={first['nextCursor']}", headers=secret).get_json()["data"]
    assert [b["name"] for b in rest["items"]] == ["beta"] and rest["nextCursor"] is None
    assert client.get("/batches/beta", headers=secret).get_json()["data"]["assigned"] == 1
    assert_error(client.get("/batches/gamma", headers=secret), 404, "batch_not_found")
    assert_error(client.get("/batches?cursor=bad", headers=secret), 422, "invalid_cursor")
    assert_error(client.get("/batches", headers=bearer("sk_" + "0" * 48)), 401, "unauthorized")


# --- exports ----------------------------------------------------------------------------------


def test_codes_export_streams_csv_with_the_listing_filters(post, generate, client, secret):
    generate(amount=2, batch="beta", type="numeric")
    imported(post, ["mine"])
    response = client.get("/codes/export.csv", headers=secret)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="codes.csv"'
    assert response.is_streamed
    rows = csv_rows(response)
    assert [row["type"] for row in rows] == ["numeric", "numeric", "custom"]
    assert [row["code"] for row in csv_rows(client.get("/codes/export.csv?type=custom", headers=secret))] == [
        "mine"
    ]
    assert len(csv_rows(client.get("/codes/export.csv?batch=beta&status=active", headers=secret))) == 2
    body = assert_error(
        client.get("/codes/export.csv?status=nope&batch=%3F", headers=secret), 422, "validation_error"
    )
    assert set(body["errors"]) == {"status", "batch"}
    assert_error(client.get("/codes/export.csv"), 401, "unauthorized")


def test_claims_export_of_one_code(generate, client, secret):
    [code] = generate(amount=1, allowedClaims=3)
    for email in ("a@example.com", "b@example.com"):
        client.post("/codes/claim", json={"code": code["code"], "email": email}, headers=secret)
    response = client.get(f"/codes/{code['code'].upper()}/claims.csv", headers=secret)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert [(r["code"], r["email"]) for r in csv_rows(response)] == [
        (code["code"], "a@example.com"),
        (code["code"], "b@example.com"),
    ]
    assert_error(client.get("/codes/missing/claims.csv", headers=secret), 404, "code_not_found")


# --- send from a batch ---------------------------------------------------------------------------


def test_send_hands_each_address_a_code_of_the_batch(post, generate, client, secret):
    generate(amount=2, batch="beta")
    emails = ["a@example.com", "b@example.com", "c@example.com"]
    data = post("/codes/send", {"batch": "beta", "emails": emails}).get_json()["data"]
    assert data == {
        "receivedLeads": 3,
        "notifiedLeads": 2,
        "skipped": [{"email": "c@example.com", "reason": "batch_exhausted"}],
    }
    again = post("/codes/send", {"batch": "beta", "emails": ["a@example.com"]}).get_json()["data"]
    assert again["skipped"] == [{"email": "a@example.com", "reason": "already_sent"}]
    body = assert_error(post("/codes/send", {"emails": emails}), 422, "validation_error")
    assert set(body["errors"]) == {"code"}
    body = assert_error(
        post("/codes/send", {"code": "x", "batch": "beta", "emails": emails}), 422, "validation_error"
    )
    assert set(body["errors"]) == {"batch"}
    assert_error(post("/codes/send", {"batch": "gamma", "emails": emails}), 404, "batch_not_found")
