"""The benchmark's own pieces, fast: the floor is correct, the results file has the issue's shape.

No timing is asserted here; speed is measured only by ``make bench``.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from bench import floor, generate_floor, handout, harness, raw_db, report, stats, wrk
from shared.codes import generate_codes

# The floor speaks PostgreSQL only.
postgresql_only = pytest.mark.parametrize("database", ["postgresql"], indirect=True)


@pytest.fixture
def pg(database, engine):
    return database.url


@pytest.fixture
def code_with(session_factory, project):
    def make(allowed_claims: int) -> str:
        with session_factory() as session:
            [record] = generate_codes(
                session, project.id, amount=1, code_type="alphanumeric", allowed_claims=allowed_claims
            )
            session.commit()
        return record.code

    return make


@postgresql_only
def test_the_floor_claim_transaction_takes_exactly_the_allowed_claims(pg, project, code_with):
    code = code_with(2)
    with psycopg.connect(floor.libpq_url(pg)) as conn:
        first = floor.claim_transaction(conn, project.id, code, "a@example.com")
        with pytest.raises(psycopg.errors.UniqueViolation):
            floor.claim_transaction(conn, project.id, code, "a@example.com")
        second = floor.claim_transaction(conn, project.id, code, "b@example.com")
        third = floor.claim_transaction(conn, project.id, code, "c@example.com")
    assert first[1] == 1 and second[1] == 2 and third is None
    assert len(first[0]) == 32
    check = harness.check_claims(pg, project.id, [code])
    assert check == {"codes": 1, "counter": 2, "rows": 2, "over_claims": 0, "mismatched": 0}


@postgresql_only
def test_the_floor_app_claims_and_looks_up(pg, project, code_with):
    code = code_with(10)
    app = floor.create_app(pg, project.id, pool_size=1)
    try:
        client = app.test_client()
        claimed = client.post("/codes/claim", json={"code": code, "email": "a@example.com"})
        again = client.post("/codes/claim", json={"code": code, "email": "a@example.com"})
        found = client.get(f"/codes/{code}")
        missing = client.get("/codes/nope")
    finally:
        app.extensions["floor_pool"].close()
    assert claimed.status_code == 200 and claimed.get_json()["data"]["claims"] == 1
    assert again.status_code == 409
    assert found.status_code == 200 and found.get_json()["data"]["claims"] == 1
    assert missing.status_code == 404


@postgresql_only
def test_the_floor_hands_out_one_code_per_email_and_the_check_counts_them(pg, project, session_factory):
    with session_factory() as session:
        generate_codes(session, project.id, amount=2, code_type="alphanumeric", batch="b")
        session.commit()
    app = floor.create_app(pg, project.id, pool_size=1)
    try:
        client = app.test_client()
        first = client.post("/codes/assign", json={"batch": "b", "email": "a@example.com"}).get_json()
        again = client.post("/codes/assign", json={"batch": "b", "email": "a@example.com"}).get_json()
        other = client.post("/codes/assign", json={"batch": "b", "email": "b@example.com"})
        none_left = client.post("/codes/assign", json={"batch": "b", "email": "c@example.com"})
    finally:
        app.extensions["floor_pool"].close()
        app.extensions["floor_autocommit_pool"].close()
    assert first["data"]["new"] is True and again["data"] == {"code": first["data"]["code"], "new": False}
    assert other.status_code == 200 and other.get_json()["data"]["code"] != first["data"]["code"]
    assert none_left.status_code == 409
    assert handout.check_batch(pg, project.id, "b") == (2, 2)
    checks = handout.HandOutChecks()
    checks.add("run", assigned=2, emails=2, answered=2)
    checks.add("run", assigned=3, emails=2, answered=4)
    assert (checks.double_assignments, checks.lost) == (1, 1)


@postgresql_only
def test_the_raw_loop_and_the_check_agree_when_claimers_outnumber_claims(pg, project, code_with):
    code = code_with(2)
    run = raw_db.claim_loop(pg, project.id, [code], clients=3, seconds=1, email_prefix="t")
    assert run.transactions == 2 and run.refused > 0
    assert harness.check_claims(pg, project.id, [code])["rows"] == 2


@postgresql_only
def test_the_generate_floor_inserts_and_serialises_every_code(pg, project):
    with psycopg.connect(floor.libpq_url(pg)) as conn:
        body = json.loads(generate_floor.generate(conn, project.id, 50))
        stored = conn.execute("SELECT count(*) FROM codes WHERE project_id = %s", (project.id,)).fetchone()[0]
    assert len({item["code"] for item in body["data"]}) == 50 == stored


def _measurement(ours, floor_, raw=()):
    m = report.Measurement()
    for value in ours:
        m.ours.add(value, 5.0, 20.0)
    for value in floor_:
        m.floor.add(value, 4.0, 15.0)
    for value in raw:
        m.raw.add(value, 1.0, 3.0)
    return m


def _results(over_claims=0):
    correctness = report.Correctness()
    correctness.add("hot-ours-0", 1, 10, 10, over_claims, 0)
    handed = handout.HandOutChecks()
    handed.add("handout-ours-0", assigned=500, emails=500, answered=498)
    return report.Results(
        claim_hot=_measurement([110, 100, 120], [100, 100, 100], [300, 310, 290]),
        claim_spread=_measurement([90, 95, 100], [100, 100, 100], [900, 950, 1000]),
        lookup=_measurement([85, 90, 95], [100, 100, 100]),
        generate_10k=_measurement([0.3, 0.4, 0.5], [0.2, 0.2, 0.2]),
        correctness=correctness,
        machine="test machine",
        when="2030-01-01T00:00:00Z",
        settings={},
        hand_out=_measurement([95, 90, 100], [100, 100, 100]),
        hand_out_checks=handed,
    )


def test_latest_json_has_exactly_the_issues_shape(tmp_path):
    path = tmp_path / "latest.json"
    report.write_json(path, _results().latest())
    written = json.loads(path.read_text())
    assert set(written) == {
        "claim_hot",
        "claim_spread",
        "lookup",
        "generate_10k",
        "over_claims",
        "hand_out",
        "machine",
        "when",
    }
    assert (
        set(written["claim_hot"])
        == set(written["claim_spread"])
        == {"ours_rps", "floor_rps", "raw_db_tps", "ratio"}
    )
    assert set(written["lookup"]) == {"ours_rps", "floor_rps", "ratio"}
    assert set(written["generate_10k"]) == {"ours_s", "floor_s", "ratio"}
    assert written["claim_hot"] == {"ours_rps": 110.0, "floor_rps": 100.0, "raw_db_tps": 300.0, "ratio": 1.1}
    assert written["generate_10k"]["ratio"] == 2.0
    assert written["over_claims"] == 0
    assert written["hand_out"] == {
        "ours_rps": 95.0,
        "floor_rps": 100.0,
        "ratio": 0.95,
        "double_assignments": 0,
    }


def test_the_table_says_which_targets_were_met():
    met = {what: ok for what, _target, ok in _results().targets()}
    assert met == {
        "hot claims ratio": True,
        "hot claims p99": True,
        "spread claims ratio": False,
        "lookups ratio": True,
        "generate 10k ratio": True,
        "over-claims": True,
        "double assignments": True,
    }
    table = _results(over_claims=1).table()
    assert "MISSED" in table and "110 (100-120)" in table
    assert "hand-out assigns /s" in table and "95 (90-100)" in table


def test_wrk_results_are_read_from_the_scripts_line_and_only_loopback_is_loaded():
    line = (
        'WRK_JSON {"requests":1000,"duration_us":2000000,"connect_errors":0,"read_errors":0,'
        '"write_errors":0,"status_errors":10,"timeouts":0,"p50_us":4000,"p99_us":9000,'
        '"mean_us":4100.0,"max_us":12000}'
    )
    run = wrk.parse_output(f"Running 2s test\n{line}\n")
    assert (run.rps, run.p50_ms, run.p99_ms, run.failed) == (495.0, 4.0, 9.0, 10)
    with pytest.raises(ValueError, match="loopback"):
        wrk.run("http://192.0.2.1:8000", mode="lookup", codes_file=wrk.SCRIPT)


def test_percentiles_and_spreads():
    assert stats.percentile([1, 2, 3, 4], 50) == 2
    assert stats.percentile([1, 2, 3, 4], 99) == 4
    assert stats.Spread.of([3, 1, 2]).as_dict() == {"median": 2, "min": 1, "max": 3, "samples": [3, 1, 2]}


def test_the_cpu_comparison_calls_each_app_with_its_own_requests_and_stops_on_a_failure():
    from bench import cpu

    seen: dict[str, list[str]] = {"ours": [], "floor": []}

    def app_named(name: str, status: str = "200 OK"):
        def app(environ, start_response):
            seen[name].append(environ["PATH_INFO"])
            start_response(status, [("Content-Type", "application/json")])
            return [b"{}"]

        return app

    medians = cpu.median_cpu_us(
        {"ours": app_named("ours"), "floor": app_named("floor")},
        lambda name: cpu.environ("GET", f"/{name}"),
        batch=5,
        rounds=4,
    )
    assert set(medians) == {"ours", "floor"} and all(value >= 0 for value in medians.values())
    assert seen == {"ours": ["/ours"] * 70, "floor": ["/floor"] * 70}  # 50 to warm up, 4 x 5 measured
    with pytest.raises(RuntimeError, match="ours: 500"):
        cpu.median_cpu_us(
            {"ours": app_named("ours", "500 INTERNAL SERVER ERROR")},
            lambda name: cpu.environ("GET", "/"),
            batch=1,
            rounds=1,
        )
