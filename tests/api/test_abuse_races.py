"""Races through a real gunicorn server on PostgreSQL: nothing over-claimed, no orphan rows, no 5xx.

About a thousand concurrent claims over codes with small limits; deletes racing with claims and
sends; generates racing with deletes; and duplicate requests racing with one Idempotency-Key.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select, text

from shared.models import Claim, Code, Delivery
from tests.api.conftest import bearer

pytestmark = [
    pytest.mark.server,
    pytest.mark.slow,
    pytest.mark.parametrize("database", ["postgresql"], indirect=True),
]

_local = threading.local()


def call(live_server, method: str, path: str, **kwargs) -> tuple[int, dict]:
    """One request on this thread's keep-alive session: (status, JSON body)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    response = session.request(method, live_server.url + path, timeout=60, **kwargs)
    return response.status_code, response.json()


def generate(live_server, project, **body) -> list[str]:
    status, payload = call(
        live_server, "POST", "/codes/generate", json=body, headers=bearer(project.keys.secret_key)
    )
    assert status == 200, payload
    return [code["code"] for code in payload["data"]]


def run_all(tasks, workers: int = 48) -> list:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda task: task(), tasks))


def assert_no_orphans(engine) -> None:
    with engine.connect() as conn:
        orphans = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM claims WHERE code_id NOT IN (SELECT id FROM codes)),"
                " (SELECT count(*) FROM deliveries WHERE code_id IS NOT NULL"
                "  AND code_id NOT IN (SELECT id FROM codes))"
            )
        ).one()
    assert tuple(orphans) == (0, 0)


def test_a_thousand_concurrent_claims_never_over_claim(live_server, project, engine):
    allowed = {}
    for claims_allowed in range(1, 6):
        for code in generate(live_server, project, amount=5, type="numeric", allowedClaims=claims_allowed):
            allowed[code] = claims_allowed
    rng = random.Random(5)
    emails = [f"lead{i}@example.com" for i in range(40)]
    attempts = [(rng.choice(list(allowed)), rng.choice(emails)) for _ in range(1000)]
    public = bearer(project.keys.public_key)

    def claim(code, email):
        return lambda: (
            code,
            email,
            *call(live_server, "POST", "/codes/claim", json={"code": code, "email": email}, headers=public),
        )

    results = run_all([claim(code, email) for code, email in attempts])

    statuses = Counter(status for _, _, status, _ in results)
    assert set(statuses) <= {200, 409}, statuses
    refusals = Counter(body["error"] for _, _, status, body in results if status == 409)
    assert set(refusals) <= {"code_fully_claimed", "code_already_claimed"}, refusals
    won: dict[str, set[str]] = defaultdict(set)
    tried: dict[str, set[str]] = defaultdict(set)
    for code, email, status, _ in results:
        tried[code].add(email)
        if status == 200:
            assert email not in won[code], "one email won the same code twice"
            won[code].add(email)
    for code, limit in allowed.items():
        assert len(won[code]) == min(limit, len(tried[code])), code

    with engine.connect() as conn:
        counters = dict(
            conn.execute(select(Code.code, Code.claims).where(Code.project_id == project.id)).all()
        )
        rows = conn.execute(select(Code.code, Claim.email).join(Claim, Claim.code_id == Code.id)).all()
    assert counters == {code: len(won[code]) for code in allowed}
    assert Counter(code for code, _ in rows) == Counter({code: len(w) for code, w in won.items() if w})
    assert {(code, email) for code, email in rows} == {(c, e) for c, w in won.items() for e in w}
    assert statuses[200] == sum(counters.values()) <= sum(allowed.values())


def test_deletes_racing_with_claims_and_sends_leave_nothing_behind(live_server, project, engine):
    codes = generate(live_server, project, amount=8, allowedClaims=25)
    secret, public = bearer(project.keys.secret_key), bearer(project.keys.public_key)
    tasks = []
    for code in codes:
        for i in range(35):
            tasks.append(
                lambda code=code, i=i: (
                    "claim",
                    code,
                    *call(
                        live_server,
                        "POST",
                        "/codes/claim",
                        json={"code": code, "email": f"c{i}@example.com"},
                        headers=public,
                    ),
                )
            )
        for i in range(3):
            tasks.append(
                lambda code=code, i=i: (
                    "send",
                    code,
                    *call(
                        live_server,
                        "POST",
                        "/codes/send",
                        json={"code": code, "emails": [f"s{i}@example.com"]},
                        headers=secret,
                    ),
                )
            )
        for method in ("POST", "DELETE", "POST"):
            tasks.append(
                lambda code=code, method=method: (
                    "delete",
                    code,
                    *call(live_server, method, "/codes/delete", json={"code": code}, headers=secret),
                )
            )
    random.Random(7).shuffle(tasks)

    results = run_all(tasks)

    assert not [r for r in results if r[2] >= 500]
    by_kind = defaultdict(Counter)
    for kind, _, status, _ in results:
        by_kind[kind][status] += 1
    assert set(by_kind["claim"]) <= {200, 404, 409}
    assert set(by_kind["send"]) <= {200, 404, 409}
    deletes = Counter(code for kind, code, status, _ in results if kind == "delete" and status == 200)
    assert deletes == Counter({code: 1 for code in codes}), "each code is deleted exactly once"
    assert by_kind["delete"] == {200: len(codes), 404: 2 * len(codes)}
    # A deleted code answers with what it had: never more claims than allowed.
    for kind, _, status, body in results:
        if kind == "delete" and status == 200:
            assert body["data"]["claims"] <= 25

    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Code)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(Claim)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(Delivery)).scalar_one() == 0
    assert_no_orphans(engine)


def test_generates_racing_with_deletes_keep_every_code_accounted_for(live_server, project, engine):
    secret = bearer(project.keys.secret_key)
    generated: list[str] = []
    deleted: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def generator(i):
        def run():
            for _ in range(5):
                status, body = call(
                    live_server,
                    "POST",
                    "/codes/generate",
                    json={"amount": 20, "type": ["numeric", "alphanumeric", "creative"][i % 3]},
                    headers=secret,
                )
                assert status == 200, body
                with lock:
                    generated.extend(code["code"] for code in body["data"])

        return run

    def deleter():
        # Bounded: deletes what it sees until the generators are done.
        for _ in range(500):
            if done.is_set():
                return
            status, body = call(live_server, "GET", "/codes?limit=10", headers=secret)
            assert status == 200, body
            for item in body["data"]["items"]:
                status, body = call(
                    live_server, "DELETE", "/codes/delete", json={"code": item["code"]}, headers=secret
                )
                assert status in (200, 404), body
                if status == 200:
                    with lock:
                        deleted.append(item["code"])

    with ThreadPoolExecutor(max_workers=12) as pool:
        deleters = [pool.submit(deleter) for _ in range(4)]
        generators = [pool.submit(generator(i)) for i in range(8)]
        for future in generators:
            future.result()
        done.set()
        for future in deleters:
            future.result()

    assert len(generated) == 8 * 5 * 20
    assert deleted, "the deletes ran while codes were generated"
    assert len(deleted) == len(set(deleted)), "a code was deleted twice"
    with engine.connect() as conn:
        remaining = conn.execute(select(Code.code).where(Code.project_id == project.id)).scalars().all()
    # Every code generated is either deleted once or still there; nothing else exists.
    assert Counter(generated) == Counter(deleted) + Counter(remaining)
    assert_no_orphans(engine)


@pytest.mark.parametrize("route", ["generate", "claim"])
def test_duplicates_racing_with_one_idempotency_key_run_once(live_server, project, engine, route):
    code = generate(live_server, project, amount=1, allowedClaims=50)[0]
    if route == "generate":
        path, body, headers = "/codes/generate", {"amount": 5}, bearer(project.keys.secret_key)
    else:
        path, body = "/codes/claim", {"code": code, "email": "lead@example.com"}
        headers = bearer(project.keys.public_key)
    headers = {**headers, "Idempotency-Key": f"race-{route}"}
    barrier = threading.Barrier(24)

    def duplicate():
        barrier.wait()
        return call(live_server, "POST", path, json=body, headers=headers)

    results = run_all([duplicate] * 24, workers=24)
    # Late duplicates wait for the first, then replay it.
    for _ in range(3):
        results.append(call(live_server, "POST", path, json=body, headers=headers))

    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {200, 409}, statuses
    assert {body["error"] for status, body in results if status == 409} <= {"request_in_progress"}
    successes = [body for status, body in results if status == 200]
    assert successes and all(success == successes[0] for success in successes), "replays are identical"
    with engine.connect() as conn:
        if route == "generate":
            assert conn.execute(select(func.count()).select_from(Code)).scalar_one() == 1 + 5
        else:
            assert conn.execute(select(func.count()).select_from(Claim)).scalar_one() == 1
            assert conn.execute(select(Code.claims).where(Code.code == code)).scalar_one() == 1
