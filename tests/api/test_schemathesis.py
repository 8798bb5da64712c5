"""schemathesis against /openapi.json: every operation, generated requests, in process.

No 5xx, and every response is documented (status, content type, headers) and matches its schema,
for requests generated from the documented schemas (positive) and against them (negative). The app
runs in process (WSGI) on SQLite with limits off, so a few hundred requests take seconds; the
server race tests cover a real server on PostgreSQL.

Each operation runs as its own Hypothesis test inside one pytest test (schemathesis's lazy pytest
integration does not run under pytest 9 yet).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import bearer

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database", ["sqlite"], indirect=True)]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}


@pytest.fixture
def fuzzed_app(make_app):
    return make_app(RATELIMIT_ENABLED=False)


@pytest.fixture
def secret_headers(fuzzed_app, project):
    # Some codes to find, claim, send and delete, besides the ones that do not exist.
    client = fuzzed_app.test_client()
    headers = bearer(project.keys.secret_key)
    for body in ({"amount": 5, "type": "numeric", "allowedClaims": 3}, {"amount": 5}):
        assert client.post("/codes/generate", json=body, headers=headers).status_code == 200
    return headers


def answers_as_documented(operation, mode: GenerationMode, headers: dict, checks: list) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode], deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def run(case):
        case.call_and_validate(headers=headers, checks=checks)

    try:
        run()
    except Unsatisfiable:
        # Nothing can be made invalid in a request that takes no input (GET /healthz).
        assert mode is GenerationMode.NEGATIVE, operation.label
    except Exception as exc:
        raise AssertionError(f"{operation.label} ({mode.value}): {exc}") from exc


def test_every_operation_answers_as_documented(fuzzed_app, secret_headers):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12, [op.label for op in operations]

    for operation in operations:
        checks = CHECKS
        if operation.path == "/readyz":
            # Its 503 is its answer (this test database was not migrated), documented like any error.
            checks = [check for check in CHECKS if check is not not_a_server_error]
        for mode in EXAMPLES:
            answers_as_documented(operation, mode, secret_headers, checks)
