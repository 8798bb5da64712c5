"""Through a real gunicorn server with several workers, as REST clients call it."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from shared.models import Claim, Code
from tests.api.conftest import bearer

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_120_concurrent_claimers_of_a_10_claim_code_exactly_10_win(live_server, project, engine):
    created = live_server.post(
        "/codes/generate", json={"amount": 1, "allowedClaims": 10}, headers=bearer(project.keys.secret_key)
    )
    assert created.status_code == 200
    code = created.json()["data"][0]["code"]
    headers = bearer(project.keys.public_key)

    def claim(i: int):
        response = live_server.post(
            "/codes/claim", json={"code": code, "email": f"lead{i}@example.com"}, headers=headers
        )
        return response.status_code, response.json().get("error")

    with ThreadPoolExecutor(max_workers=60) as pool:
        results = list(pool.map(claim, range(120)))

    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 10, 409: 110}, statuses
    assert {error for status, error in results if status == 409} == {"code_fully_claimed"}
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(Claim)).scalar_one()
        counter = conn.execute(select(Code.claims).where(Code.code == code)).scalar_one()
    assert rows == counter == 10


def test_the_same_email_racing_for_a_code_claims_it_once(live_server, project, engine):
    created = live_server.post(
        "/codes/generate", json={"amount": 1, "allowedClaims": 50}, headers=bearer(project.keys.secret_key)
    )
    code = created.json()["data"][0]["code"]

    def claim(_):
        return live_server.post(
            "/codes/claim",
            json={"code": code, "email": "same@example.com"},
            headers=bearer(project.keys.public_key),
        ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = Counter(pool.map(claim, range(20)))

    assert statuses == {200: 1, 409: 19}
    with engine.connect() as conn:
        assert conn.execute(select(Code.claims).where(Code.code == code)).scalar_one() == 1


def test_a_page_claims_with_the_public_key_and_its_backend_verifies(live_server, project):
    secret, public = bearer(project.keys.secret_key), bearer(project.keys.public_key)
    code = live_server.post("/codes/generate", json={"amount": 1, "type": "numeric"}, headers=secret).json()[
        "data"
    ][0]["code"]

    claimed = live_server.post(
        "/codes/claim", json={"code": f"  {code} ", "email": "Lead@Example.com"}, headers=public
    )
    assert claimed.status_code == 200
    token = claimed.json()["data"]["token"]
    verified = live_server.post("/claims/exchange", json={"token": token}, headers=secret)
    assert verified.status_code == 200
    assert verified.json()["data"]["lead"] == {"email": "lead@example.com"}
    assert verified.json()["data"]["code"]["claims"] == 1
    assert live_server.post("/claims/exchange", json={"token": token}, headers=secret).status_code == 404
    assert live_server.get("/nowhere").headers["Content-Type"] == "application/json"
