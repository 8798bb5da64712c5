"""The benchmark's own pieces, fast: the floor is correct, the results file has the issue's shape,
the seeded codes are the ones the harness asks for, the production configuration counts in Redis.

No timing is asserted here; speed is measured only by ``make bench``.
"""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from api import create_app
from bench import floor, generate_floor, handout, harness, production, raw_db, report, scale, stats, wrk
from shared.codegen import is_in_space
from shared.codes import generate_codes
from shared.config import Settings
from tests.support import redis_url_or_skip

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


@postgresql_only
def test_seeding_stores_exactly_the_codes_the_harness_will_ask_for(pg, project):
    scale.seed_codes(floor.libpq_url(pg), project.id, 0, 40)
    scale.seed_codes(floor.libpq_url(pg), project.id, 40, 100, parts=3)
    with psycopg.connect(floor.libpq_url(pg)) as conn:
        rows = conn.execute(
            "SELECT code, type, allowed_claims, claims FROM codes WHERE project_id = %s", (project.id,)
        ).fetchall()
    assert {code for code, *_ in rows} == {scale.seeded_code(i) for i in range(100)}
    assert len(rows) == 100 and {tuple(rest) for _, *rest in rows} == {("alphanumeric", 1, 0)}
    # Codes generate could draw too, so its free-space check counts them.
    assert all(is_in_space(code, "alphanumeric") for code, *_ in rows)


def _through(client):
    """DataGrowth's request, served by a Flask test client instead of gunicorn."""

    def request(method, path, body, key):
        response = client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {key}"})
        return response.status_code, response.get_data()

    return request


@postgresql_only
def test_scale_times_every_operation_of_both_projects_in_turns_and_keeps_their_sizes(
    pg, project, make_project
):
    app = create_app({"SQLALCHEMY_DATABASE_URI": pg, "TESTING": True, "RATELIMIT_ENABLED": False})
    reference_project = make_project("reference")
    request = _through(app.test_client())
    growing, reference = (
        scale.Project(pg, p.id, public_key=p.keys.public_key, secret_key=p.keys.secret_key, request=request)
        for p in (project, reference_project)
    )
    try:
        growing.grow_to(250)  # a deep page, half-way down, still holds a full page
        first = scale.measure({"growing": growing}, rounds=2, requests_per_round=3, generates=2)
        growing.grow_to(400)
        reference.grow_to(250)
        second = scale.measure(
            {"growing": growing, "reference": reference}, rounds=2, requests_per_round=3, generates=2
        )
        stored = dict(
            growing.conn.execute(
                "SELECT p.id, (SELECT count(*) FROM codes c WHERE c.project_id = p.id)"
                " || '/' || (SELECT count(*) FROM claims k WHERE k.project_id = p.id)"
                " FROM projects p WHERE p.id = ANY(%s)",
                ([project.id, reference_project.id],),
            ).fetchall()
        )
    finally:
        growing.close()
        reference.close()
        from api.extensions import db

        with app.app_context():
            db.engine.dispose()
    for measured in (first["growing"], second["growing"], second["reference"]):
        assert list(measured) == list(scale.OPERATIONS)
        assert [len(r) for r in measured["lookup"].rounds] == [3, 3]
        assert [len(r) for r in measured["generate_1k"].rounds] == [1, 1]
        assert all(latencies.percentile(50) > 0 for latencies in measured.values())
    # The generated batches were deleted; every claim (5 to warm up, then 2 x 3 per measure) held.
    assert stored == {project.id: f"400/{2 * (5 + 2 * 3)}", reference_project.id: f"250/{5 + 2 * 3}"}


def test_the_limited_server_reads_every_limit_raised_and_redis_from_its_environment():
    settings = Settings.from_env(production.limited_env({"RATELIMIT_ENABLED": "false"}, "redis://r:6379/3"))
    assert settings.ratelimit_enabled and settings.redis_url == "redis://r:6379/3"
    from api.limits import RULES

    assert set(production.LIMIT_SETTINGS) == {rule.setting for rule in RULES}
    assert {getattr(settings, name.lower()) for name in production.LIMIT_SETTINGS} == {
        production.RAISED_LIMIT
    }


@postgresql_only
def test_the_runs_counters_are_found_in_redis_and_only_they_are_deleted(pg, project):
    url = redis_url_or_skip()
    prefix = f"codes-bench-test-{uuid.uuid4().hex[:8]}"
    config = {
        "SQLALCHEMY_DATABASE_URI": pg,
        "TESTING": True,
        "RATELIMIT_ENABLED": True,
        "REDIS_URL": url,
        "RATELIMIT_KEY_PREFIX": prefix,
        **dict.fromkeys(production.LIMIT_SETTINGS, production.RAISED_LIMIT),
    }
    app = create_app(config)
    counters = production.Counters(url, prefix)
    bystander = f"{prefix}-bystander"
    counters.client.set(bystander, "1", ex=60)
    try:
        counters.check_reachable()
        headers = {"Authorization": f"Bearer {project.keys.secret_key}"}
        assert app.test_client().get("/codes", headers=headers).status_code == 200
        assert counters.keys()
        assert counters.delete() >= 2  # per key and per IP, at least
        assert counters.keys() == [] and counters.client.get(bystander) == b"1"
    finally:
        counters.client.delete(bystander)
        counters.close()
        from api.extensions import db

        with app.app_context():
            db.engine.dispose()
    with pytest.raises(production.RedisUnreachable, match="BENCH_REDIS_URL"):
        production.Counters("redis://127.0.0.1:1/0", prefix).check_reachable()


def _measurement(ours, floor_, raw=(), limited=()):
    m = report.Measurement()
    for value in ours:
        m.ours.add(value, 5.0, 20.0)
    for value in floor_:
        m.floor.add(value, 4.0, 15.0)
    for value in raw:
        m.raw.add(value, 1.0, 3.0)
    for value in limited:
        m.limited.add(value, 9.0, 30.0)
    return m


def _latencies(*rounds):
    return report.Latencies([list(values) for values in rounds])


def _scale():
    operations = ("claim", "generate_1k")
    return report.Scale(
        sizes={
            10_000: dict(
                zip(operations, (_latencies([4, 5, 6], [5, 5, 7]), _latencies([60], [70])), strict=True)
            ),
            1_000_000: dict(
                zip(operations, (_latencies([5, 6, 6], [6, 6, 90]), _latencies([200], [240])), strict=True)
            ),
        },
        beside={
            1_000_000: dict(
                zip(operations, (_latencies([6, 6, 7], [6, 7, 8]), _latencies([80], [100])), strict=True)
            ),
        },
        seed_seconds={10_000: 0.2, 1_000_000: 12.5},
    )


def _results(over_claims=0):
    correctness = report.Correctness()
    correctness.add("hot-ours-0", 1, 10, 10, over_claims, 0)
    handed = handout.HandOutChecks()
    handed.add("handout-ours-0", assigned=500, emails=500, answered=498)
    return report.Results(
        claim_hot=_measurement([110, 100, 120], [100, 100, 100], [300, 310, 290], limited=[60, 50, 70]),
        claim_spread=_measurement([90, 95, 100], [100, 100, 100], [900, 950, 1000], limited=[80, 85, 90]),
        lookup=_measurement([85, 90, 95], [100, 100, 100], limited=[45, 36, 50]),
        generate_10k=_measurement([0.3, 0.4, 0.5], [0.2, 0.2, 0.2]),
        correctness=correctness,
        scale=_scale(),
        machine="test machine",
        when="2030-01-01T00:00:00Z",
        settings={},
        hand_out=_measurement([95, 90, 100], [100, 100, 100]),
        hand_out_checks=handed,
    )


def test_latest_json_has_the_issues_shape(tmp_path):
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
        "production",
        "scale",
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


def test_the_production_ratio_is_the_lower_of_hot_claims_and_lookups_limits_on_over_off():
    written = _results().latest()["production"]
    assert set(written) == {"ratio", "claim_hot", "claim_spread", "lookup"}
    assert written["claim_hot"] == {
        "limits_on_rps": 60.0,
        "limits_off_rps": 110.0,
        "limits_on_p50_ms": 9.0,
        "limits_off_p50_ms": 5.0,
        "ratio": 0.545,
    }
    assert written["lookup"]["ratio"] == 0.5
    assert written["claim_spread"]["ratio"] == 0.895  # not in the lower of the two
    assert written["ratio"] == 0.5


def test_scale_gives_each_operations_p50_at_both_sizes_and_their_ratio():
    written = _results().latest()["scale"]
    # Nearest-rank percentiles over every request of every round.
    assert written["claim"] == {
        "p50_10k_ms": 5,
        "p50_1m_ms": 6,
        "p99_10k_ms": 7,
        "p99_1m_ms": 90,
        "ratio": 1.2,
        "p50_10k_beside_1m_ms": 6,
        "ratio_side_by_side": 1.0,
    }
    assert written["generate_1k"]["ratio"] == 3.333
    assert written["generate_1k"]["ratio_side_by_side"] == 2.5
    full = _results().full()["scale"]
    assert full["seed_seconds"] == {"10k": 0.2, "1m": 12.5}
    assert full["latencies"]["1m"]["claim"]["p50_ms_by_round"] == [6, 6]
    assert full["latencies_of_10k_beside"]["1m"]["generate_1k"]["p50_ms_by_round"] == [80, 100]
    assert [report.size_label(n) for n in (250, 10_000, 1_000_000, 2_500_000)] == [
        "250",
        "10k",
        "1m",
        "2500k",
    ]


def test_the_table_says_which_targets_were_met():
    met = {what: ok for what, _target, ok in _results().targets()}
    assert met == {
        "hot claims ratio": True,
        "hot claims p99": True,
        "spread claims ratio": True,  # 0.95: issue 11 asks for 0.90
        "lookups ratio": True,  # 0.90 against 0.85
        "generate 10k ratio": True,
        "over-claims": True,
        "scale claim": True,
        "scale generate_1k": False,
        "double assignments": True,
    }
    table = _results(over_claims=1).table()
    assert "MISSED" in table and "110 (100-120)" in table
    assert "hand-out assigns /s" in table and "95 (90-100)" in table
    limits = table.split("Production configuration")[1].split("Cost as the data grows")[0]
    assert "lookups /s" in limits and "0.50 (0.40-0.53)" in limits
    growth = table.split("Cost as the data grows")[1]
    assert "1,000,000 codes in 12.5 s" in growth
    assert "generate_1k" in growth and "3.33" in growth and "MISSED" in growth


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
