"""Through a real gunicorn server with several workers: 200 people race for a code, and the
receiver hears of exactly the claims that won, once each, signed."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.webhooks.worker import WebhookWorker
from tests.api.conftest import bearer
from tests.webhook_receiver import Receiver, deliver_until, register, webhook_settings

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_a_200_way_claim_race_sends_one_code_claimed_per_winner_and_none_for_the_rest(
    live_server, project, engine, session_factory, database
):
    secret, public = bearer(project.keys.secret_key), bearer(project.keys.public_key)
    code = live_server.post(
        "/codes/generate", json={"amount": 1, "allowedClaims": 50}, headers=secret
    ).json()["data"][0]["code"]
    with Receiver() as receiver:
        hook = register(session_factory, project.id, receiver.url, ["code.claimed"])

        def claim(number: int):
            response = live_server.post(
                "/codes/claim", json={"code": code, "email": f"lead{number}@example.com"}, headers=public
            )
            return number, response.status_code

        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(claim, range(200)))
        # The same claimant again, and a code that does not exist: refusals, no events.
        assert claim(next(n for n, status in results if status == 200))[1] == 409
        assert (
            live_server.post(
                "/codes/claim", json={"code": "no-such-code", "email": "x@example.com"}, headers=public
            ).status_code
            == 404
        )

        assert Counter(status for _, status in results) == {200: 50, 409: 150}
        winners = {f"lead{number}@example.com" for number, status in results if status == 200}
        worker = WebhookWorker(session_factory, webhook_settings(database.url, worker_batch_size=25))
        deliver_until(worker, lambda: len(receiver.requests) >= 50)
        worker.run_once()
        requests = receiver.wait_for(50)

    assert len(requests) == 50 and receiver.duplicates() == {}
    bodies = [request.verified(hook.secret) for request in requests]
    assert {body["data"]["email"] for body in bodies} == winners
    assert {body["data"]["source"] for body in bodies} == {"api"}
    assert sorted(body["data"]["code"]["claims"] for body in bodies) == list(range(1, 51))
