"""The /codes and /claims routes as a REST client sees them."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest

from tests.api.conftest import bearer
from tests.api.test_errors import assert_error

ISO_MS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CODE_FIELDS = {
    "code",
    "type",
    "allowedClaims",
    "claims",
    "validFrom",
    "validUntil",
    "reservedFor",
    "status",
    "createdAt",
    "updatedAt",
    "batch",
    "assignedTo",
}


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


NOW = dt.datetime(2030, 1, 1, 12, 0, 0)


# --- generate ---------------------------------------------------------------------------------


def test_generate_defaults_to_one_creative_single_claim_code(generate):
    (code,) = generate(amount=1)
    assert set(code) == CODE_FIELDS
    assert re.fullmatch(r"[a-z]+-[a-z]+", code["code"])
    assert code["type"] == "creative"
    assert code["allowedClaims"] == 1 and code["claims"] == 0
    assert code["validFrom"] is None and code["validUntil"] is None and code["reservedFor"] is None
    assert code["batch"] is None and code["assignedTo"] is None
    assert code["status"] == "active"
    assert ISO_MS_Z.fullmatch(code["createdAt"]) and ISO_MS_Z.fullmatch(code["updatedAt"])


def test_generate_stores_every_field(generate, clock_at):
    clock_at(NOW)
    codes = generate(
        amount=3,
        type="numeric",
        allowedClaims=7,
        reservedFor="Lead@Example.COM",
        validFrom="2029-12-01T00:00:00+01:00",
        validUntil="2030-02-01T10:00:00",
    )
    assert len(codes) == 3 and len({c["code"] for c in codes}) == 3
    for code in codes:
        assert re.fullmatch(r"\d{6}", code["code"])
        assert code["allowedClaims"] == 7
        assert code["reservedFor"] == {"email": "lead@example.com"}
        assert code["validFrom"] == "2029-11-30T23:00:00.000Z"
        assert code["validUntil"] == "2030-02-01T10:00:00.000Z"
        assert code["createdAt"] == iso(NOW)


def test_generate_alphanumeric(generate):
    codes = generate(amount=20, type="alphanumeric")
    assert all(re.fullmatch(r"[a-z0-9]{6}", c["code"]) for c in codes)


def test_valid_from_may_be_in_the_past_and_then_the_code_is_active(generate):
    (code,) = generate(validFrom="2001-01-01T00:00:00Z")
    assert code["status"] == "active"


def test_valid_until_must_be_after_valid_from_and_in_the_future(client, secret, clock_at):
    clock_at(NOW)
    response = client.post(
        "/codes/generate",
        headers=secret,
        json={"amount": 1, "validFrom": "2030-03-01T00:00:00Z", "validUntil": "2030-02-01T00:00:00Z"},
    )
    assert assert_error(response, 422, "validation_error")["errors"]["validUntil"] == [
        "Must be after the time the code becomes valid."
    ]
    response = client.post(
        "/codes/generate", headers=secret, json={"amount": 1, "validUntil": "2029-12-31T00:00:00Z"}
    )
    assert assert_error(response, 422, "validation_error")["errors"]["validUntil"] == [
        "Must be in the future."
    ]


def test_bad_timestamp_is_422(client, secret):
    response = client.post("/codes/generate", headers=secret, json={"amount": 1, "validFrom": "tomorrow"})
    assert "validFrom" in assert_error(response, 422, "validation_error")["errors"]


def test_generating_10000_codes_in_one_request(client, secret):
    started = time.perf_counter()
    response = client.post("/codes/generate", json={"amount": 10_000}, headers=secret)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    codes = response.get_json()["data"]
    assert len(codes) == 10_000 and len({c["code"] for c in codes}) == 10_000
    listed = client.get("/codes?limit=100", headers=secret).get_json()["data"]
    assert len(listed["items"]) == 100 and listed["nextCursor"]
    print(f"generated 10,000 codes through the API in {elapsed:.2f}s")


def test_exhausted_space_is_409_and_creates_nothing(client, secret, monkeypatch):
    from shared.codegen import CodeGenerator

    original = CodeGenerator.__init__

    def tiny(self, rng=None):
        original(self, rng)
        self.spaces = {**self.spaces, "numeric": 5}

    monkeypatch.setattr(CodeGenerator, "__init__", tiny)
    assert (
        client.post("/codes/generate", json={"amount": 3, "type": "numeric"}, headers=secret).status_code
        == 200
    )
    response = client.post("/codes/generate", json={"amount": 3, "type": "numeric"}, headers=secret)
    assert_error(response, 409, "code_space_exhausted")
    listed = client.get("/codes", headers=secret).get_json()["data"]["items"]
    assert len(listed) == 3


# --- look up ----------------------------------------------------------------------------------


def test_get_code_and_its_sdk_alias_ignore_case_and_whitespace(client, secret, generate):
    (code,) = generate()
    for path in (f"/codes/{code['code'].upper()}", f"/codes/code/%20{code['code']}%20"):
        response = client.get(path, headers=secret)
        assert response.status_code == 200
        assert response.get_json() == {"success": True, "data": code}


def test_unknown_code_is_404(client, secret):
    assert_error(client.get("/codes/no-such-code", headers=secret), 404, "code_not_found")


def test_another_projects_code_is_404_never_403(client, generate, make_project):
    (code,) = generate()
    other = bearer(make_project("other").keys.secret_key)
    other_public = bearer(make_project("third").keys.public_key)
    assert_error(client.get(f"/codes/{code['code']}", headers=other), 404, "code_not_found")
    assert_error(
        client.post(
            "/codes/claim", json={"code": code["code"], "email": "a@example.com"}, headers=other_public
        ),
        404,
        "code_not_found",
    )
    assert_error(
        client.post("/codes/delete", json={"code": code["code"]}, headers=other), 404, "code_not_found"
    )
    assert_error(
        client.post("/codes/send", json={"code": code["code"], "emails": ["a@example.com"]}, headers=other),
        404,
        "code_not_found",
    )
    assert client.get("/codes", headers=other).get_json()["data"]["items"] == []


# --- claim ------------------------------------------------------------------------------------


def test_claim_returns_token_code_email_and_time(client, public, generate, clock_at):
    clock_at(NOW)
    (code,) = generate(allowedClaims=2)
    response = client.post(
        "/codes/claim", json={"code": f" {code['code'].upper()} ", "email": "Ada@Example.com"}, headers=public
    )
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert re.fullmatch(r"[0-9a-f]{24,}", data["token"])
    assert data["email"] == "ada@example.com"
    assert data["claimedAt"] == iso(NOW)
    assert data["code"]["claims"] == 1 and data["code"]["code"] == code["code"]


def test_claim_works_with_the_secret_key_too(client, secret, generate):
    (code,) = generate()
    assert (
        client.post(
            "/codes/claim", json={"code": code["code"], "email": "a@example.com"}, headers=secret
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    "setup,error,status",
    [
        ({}, "code_not_found", 404),
        ({"reservedFor": "vip@example.com"}, "code_reserved", 403),
        ({"validFrom": "2030-06-01T00:00:00Z"}, "code_not_yet_valid", 409),
    ],
)
def test_claim_refusals(client, public, generate, clock_at, setup, error, status):
    clock_at(NOW)
    code = generate(**setup)[0]["code"] if setup else "missing-code"
    response = client.post("/codes/claim", json={"code": code, "email": "a@example.com"}, headers=public)
    assert_error(response, status, error)


def test_claim_after_valid_until_is_expired(client, public, generate, clock_at):
    clock = clock_at(NOW)
    (code,) = generate(validUntil="2030-01-01T13:00:00Z")
    clock.advance(hours=2)
    response = client.post(
        "/codes/claim", json={"code": code["code"], "email": "a@example.com"}, headers=public
    )
    assert_error(response, 409, "code_expired")


def test_claim_twice_by_one_email_then_fully_claimed(client, public, generate):
    (code,) = generate(allowedClaims=2)
    body = {"code": code["code"], "email": "a@example.com"}
    assert client.post("/codes/claim", json=body, headers=public).status_code == 200
    assert_error(
        client.post("/codes/claim", json={**body, "email": "A@EXAMPLE.com"}, headers=public),
        409,
        "code_already_claimed",
    )
    assert (
        client.post("/codes/claim", json={**body, "email": "b@example.com"}, headers=public).status_code
        == 200
    )
    assert_error(
        client.post("/codes/claim", json={**body, "email": "c@example.com"}, headers=public),
        409,
        "code_fully_claimed",
    )
    assert_error(client.post("/codes/claim", json=body, headers=public), 409, "code_already_claimed")


def test_reserved_code_is_claimed_by_its_email_in_any_case(client, public, generate):
    (code,) = generate(reservedFor="vip@example.com")
    response = client.post(
        "/codes/claim", json={"code": code["code"], "email": "VIP@example.com"}, headers=public
    )
    assert response.status_code == 200


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)  # SQLite has no server to drop them
def test_claims_and_lookups_go_on_after_the_database_drops_its_connections(
    make_app, database, public, secret
):
    """A database restart or an idle timeout closes pooled connections; no request may fail on one."""
    from sqlalchemy import create_engine, text

    name = "codes-test-dropped"
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"application_name": name}})
    client = app.test_client()
    generated = client.post("/codes/generate", json={"amount": 1, "allowedClaims": 10}, headers=secret)
    assert generated.status_code == 200, generated.get_json()
    code = generated.get_json()["data"][0]
    claim = {"code": code["code"], "email": "before@example.com"}
    assert client.post("/codes/claim", json=claim, headers=public).status_code == 200
    assert client.get(f"/codes/{code['code']}", headers=secret).status_code == 200
    admin = create_engine(database.url)  # not the app's pool: every one of its connections goes
    try:
        # Autocommit: pg_stat_activity is a snapshot per transaction.
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            backends = "FROM pg_stat_activity WHERE application_name = :name"
            dropped = connection.execute(
                text(f"SELECT count(pg_terminate_backend(pid)) {backends}"), {"name": name}
            ).scalar_one()
            assert dropped >= 1
            deadline = time.monotonic() + 5
            while connection.execute(text(f"SELECT count(*) {backends}"), {"name": name}).scalar_one():
                assert time.monotonic() < deadline
                time.sleep(0.02)
    finally:
        admin.dispose()
    response = client.post("/codes/claim", json={**claim, "email": "after@example.com"}, headers=public)
    assert response.status_code == 200, response.get_json()
    looked_up = client.get(f"/codes/{code['code']}", headers=secret)
    assert looked_up.status_code == 200 and looked_up.get_json()["data"]["claims"] == 2


# --- exchange ---------------------------------------------------------------------------------


def test_exchange_verifies_a_claim_once(client, public, secret, generate):
    (code,) = generate()
    token = client.post(
        "/codes/claim", json={"code": code["code"], "email": "a@example.com"}, headers=public
    ).get_json()["data"]["token"]
    response = client.post("/claims/exchange", json={"token": token}, headers=secret)
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data["lead"] == data["customer"] == {"email": "a@example.com"}
    assert data["code"]["code"] == code["code"] and data["code"]["claims"] == 1
    assert ISO_MS_Z.fullmatch(data["claimedAt"])
    assert_error(
        client.post("/claims/exchange", json={"token": token}, headers=secret), 404, "token_not_found"
    )


def test_exchange_expires_after_60_seconds(client, public, secret, generate, clock_at):
    clock = clock_at(NOW)
    (code,) = generate()
    token = client.post(
        "/codes/claim", json={"code": code["code"], "email": "a@example.com"}, headers=public
    ).get_json()["data"]["token"]
    clock.advance(seconds=61)
    assert_error(
        client.post("/claims/exchange", json={"token": token}, headers=secret), 404, "token_not_found"
    )


def test_another_project_cannot_use_up_a_token(client, public, secret, generate, make_project):
    (code,) = generate()
    token = client.post(
        "/codes/claim", json={"code": code["code"], "email": "a@example.com"}, headers=public
    ).get_json()["data"]["token"]
    other = bearer(make_project("other").keys.secret_key)
    assert_error(
        client.post("/claims/exchange", json={"token": token}, headers=other), 404, "token_not_found"
    )
    assert client.post("/claims/exchange", json={"token": token}, headers=secret).status_code == 200


def test_unknown_token_is_404(client, secret):
    assert_error(
        client.post("/claims/exchange", json={"token": "0" * 32}, headers=secret), 404, "token_not_found"
    )


# --- send -------------------------------------------------------------------------------------


def test_send_counts_distinct_leads_and_skips_with_reasons(client, public, secret, generate, engine):
    (code,) = generate(allowedClaims=5)
    client.post("/codes/claim", json={"code": code["code"], "email": "done@example.com"}, headers=public)
    response = client.post(
        "/codes/send",
        headers=secret,
        json={
            "code": code["code"],
            "emails": ["a@example.com", "A@Example.com", "done@example.com", "b@example.com"],
        },
    )
    assert response.status_code == 200
    assert response.get_json()["data"] == {
        "receivedLeads": 3,
        "notifiedLeads": 2,
        "skipped": [{"email": "done@example.com", "reason": "code_already_claimed"}],
    }
    from sqlalchemy import select

    from shared.models import Delivery

    with engine.connect() as conn:
        rows = conn.execute(select(Delivery.email, Delivery.status).order_by(Delivery.email)).all()
    assert [tuple(r) for r in rows] == [("a@example.com", "queued"), ("b@example.com", "queued")]


def test_send_of_a_reserved_code_skips_everyone_else_with_200(client, secret, generate):
    (code,) = generate(reservedFor="vip@example.com")
    response = client.post(
        "/codes/send", headers=secret, json={"code": code["code"], "emails": ["x@example.com"]}
    )
    assert response.status_code == 200
    assert response.get_json()["data"] == {
        "receivedLeads": 1,
        "notifiedLeads": 0,
        "skipped": [{"email": "x@example.com", "reason": "code_reserved"}],
    }


def test_send_with_an_invalid_address_queues_nothing(client, secret, generate, engine):
    (code,) = generate()
    response = client.post(
        "/codes/send", headers=secret, json={"code": code["code"], "emails": ["ok@example.com", "broken"]}
    )
    assert assert_error(response, 422, "validation_error")["errors"] == {
        "emails.1": ["Not a valid email address."]
    }
    from sqlalchemy import func, select

    from shared.models import Delivery

    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Delivery)).scalar_one() == 0


@pytest.mark.parametrize("emails", [[], [f"a{i}@example.com" for i in range(1001)], "a@example.com"])
def test_send_needs_1_to_1000_addresses(client, secret, generate, emails):
    (code,) = generate()
    response = client.post("/codes/send", headers=secret, json={"code": code["code"], "emails": emails})
    assert "emails" in assert_error(response, 422, "validation_error")["errors"]


def test_send_refuses_expired_and_fully_claimed_codes_but_not_future_ones(
    client, public, secret, generate, clock_at
):
    clock = clock_at(NOW)
    (future,) = generate(validFrom="2030-02-01T00:00:00Z")
    (expiring,) = generate(validUntil="2030-01-01T12:30:00Z")
    (single,) = generate()
    client.post("/codes/claim", json={"code": single["code"], "email": "a@example.com"}, headers=public)
    body = {"emails": ["lead@example.com"]}
    assert (
        client.post("/codes/send", json={**body, "code": future["code"]}, headers=secret).status_code == 200
    )
    assert_error(
        client.post("/codes/send", json={**body, "code": single["code"]}, headers=secret),
        409,
        "code_fully_claimed",
    )
    clock.advance(hours=1)
    assert_error(
        client.post("/codes/send", json={**body, "code": expiring["code"]}, headers=secret),
        409,
        "code_expired",
    )


# --- delete -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "delete"])
def test_delete_returns_the_code_as_it_was_and_removes_it(client, public, secret, generate, method):
    (code,) = generate(allowedClaims=3)
    client.post("/codes/claim", json={"code": code["code"], "email": "a@example.com"}, headers=public)
    response = getattr(client, method)("/codes/delete", json={"code": code["code"].upper()}, headers=secret)
    assert response.status_code == 200
    assert response.get_json()["data"]["claims"] == 1
    assert_error(client.get(f"/codes/{code['code']}", headers=secret), 404, "code_not_found")
    assert_error(
        getattr(client, method)("/codes/delete", json={"code": code["code"]}, headers=secret),
        404,
        "code_not_found",
    )


# --- list -------------------------------------------------------------------------------------


def test_list_pages_newest_first_without_gaps(client, secret, generate):
    first = generate(amount=5)
    second = generate(amount=5)
    seen, cursor = [], None
    while True:
        query = "/codes?limit=3" + (f"&cursor={cursor}" if cursor else "")
        data = client.get(query, headers=secret).get_json()["data"]
        seen += [c["code"] for c in data["items"]]
        cursor = data["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 10 and set(seen) == {c["code"] for c in first + second}
    assert set(seen[:5]) == {c["code"] for c in second}


def test_list_filters_by_type_status_and_reservation(client, public, secret, generate, clock_at):
    clock_at(NOW)
    (numeric,) = generate(type="numeric")
    (reserved,) = generate(reservedFor="vip@example.com")
    (future,) = generate(validFrom="2030-02-01T00:00:00Z")
    (full,) = generate()
    client.post("/codes/claim", json={"code": full["code"], "email": "a@example.com"}, headers=public)

    def codes(query):
        return {c["code"] for c in client.get(f"/codes?{query}", headers=secret).get_json()["data"]["items"]}

    assert codes("type=numeric") == {numeric["code"]}
    assert codes("reservedFor=VIP@example.com") == {reserved["code"]}
    assert codes("status=not_yet_valid") == {future["code"]}
    assert codes("status=fully_claimed") == {full["code"]}
    assert codes("status=active") == {numeric["code"], reserved["code"]}
    assert codes("status=expired") == set()


@pytest.mark.parametrize(
    "query,field",
    [
        ("limit=101", "limit"),
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("status=gone", "status"),
        ("type=emoji", "type"),
    ],
)
def test_list_rejects_bad_queries(client, secret, query, field):
    response = client.get(f"/codes?{query}", headers=secret)
    assert field in assert_error(response, 422, "validation_error")["errors"]


@pytest.mark.parametrize("cursor", ["%%%", "djE6OTIyMzM3MjAzNjg1NDc3NTgwOA", "djE6MA", "eDox"])
def test_a_cursor_that_names_no_position_is_invalid_cursor(client, secret, cursor):
    """Not base64, 2^63, zero, another version: 422 invalid_cursor, not a 500 or an empty page."""
    response = client.get(f"/codes?cursor={cursor}", headers=secret)
    assert assert_error(response, 422, "invalid_cursor")["errors"] == {"cursor": ["Not a valid cursor."]}


def test_claims_of_a_code_are_listed_newest_first(client, public, secret, generate):
    (code,) = generate(allowedClaims=5)
    for name in ("a", "b", "c"):
        client.post(
            "/codes/claim", json={"code": code["code"], "email": f"{name}@example.com"}, headers=public
        )
    page = client.get(f"/codes/{code['code']}/claims?limit=2", headers=secret).get_json()["data"]
    assert [c["email"] for c in page["items"]] == ["c@example.com", "b@example.com"]
    rest = client.get(
        f"/codes/{code['code']}/claims?limit=2&cursor={page['nextCursor']}", headers=secret
    ).get_json()["data"]
    assert [c["email"] for c in rest["items"]] == ["a@example.com"] and rest["nextCursor"] is None
    assert_error(client.get("/codes/missing/claims", headers=secret), 404, "code_not_found")
