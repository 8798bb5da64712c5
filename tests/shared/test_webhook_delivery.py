"""Webhook delivery to a real HTTP receiver on loopback, signatures checked by the
``standardwebhooks`` package (not our code): retries with growing delays, giving up, disabling,
enabling, replaying, rotation, the SSRF check at delivery time, and two workers on one queue.

These use the real clock: the signature's timestamp must be close to the receiver's time.
"""

from __future__ import annotations

import datetime as dt
import ssl
import threading

import pytest
import trustme
from sqlalchemy import select, update
from standardwebhooks.webhooks import WebhookVerificationError

from shared.codes import claim_code, generate_codes
from shared.db import make_sessionmaker
from shared.models import WebhookDelivery, WebhookEndpoint
from shared.transactions import begin_read
from shared.webhooks import deliveries, endpoints
from shared.webhooks.worker import WebhookWorker
from tests.support import free_port
from tests.webhook_receiver import Receiver, deliver_until, register, webhook_settings


@pytest.fixture
def receiver():
    with Receiver(stall_seconds=1.5) as server:
        yield server


@pytest.fixture
def make_worker(database, session_factory):
    def make(**overrides) -> WebhookWorker:
        return WebhookWorker(session_factory, webhook_settings(database.url, **overrides))

    return make


def claim(session_factory, project_id: int, code: str, email: str, **options):
    with session_factory() as session:
        result = claim_code(session, project_id, code, email=email, **options)
        session.commit()
        return result


def statuses(session_factory) -> list[str]:
    with session_factory() as session:
        begin_read(session)
        return list(session.scalars(select(WebhookDelivery.status).order_by(WebhookDelivery.id)))


def test_every_delivery_is_signed_the_standard_way_and_carries_the_event_id(
    session_factory, project, make_code, receiver, make_worker
):
    code = make_code(allowed_claims=5)
    hook = register(session_factory, project.id, receiver.url)
    claim(session_factory, project.id, code.code, "Ada@Example.com", source="page")
    with session_factory() as session:
        generate_codes(session, project.id, amount=2)
        session.commit()

    assert make_worker().run_once().succeeded == 2
    claimed, created = sorted(receiver.wait_for(2), key=lambda r: r.json["type"])
    body = claimed.verified(hook.secret)
    assert body["type"] == "code.claimed"
    assert body["event"] == body["id"] == claimed.webhook_id
    assert body["data"]["email"] == "ada@example.com"
    assert body["data"]["source"] == "page"
    assert body["data"]["discordUserId"] is None
    assert body["data"]["code"]["code"] == code.code
    assert body["data"]["code"]["claims"] == 1
    assert body["data"]["claimedAt"].endswith("Z")
    assert len(created.verified(hook.secret)["data"]["codes"]) == 2
    # The mirrored product's header: the secret itself.
    assert claimed.headers["lancero-signature"] == hook.secret
    assert claimed.headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        claimed.verified(register(session_factory, project.id, receiver.url + "/other").secret)


def test_a_project_can_turn_the_lancero_signature_header_off(
    session_factory, project, make_code, receiver, make_worker
):
    code = make_code()
    hook = register(session_factory, project.id, receiver.url)
    with session_factory() as session:
        endpoints.set_lancero_signature(session, project.id, False)
        session.commit()
    claim(session_factory, project.id, code.code, "ada@example.com")
    make_worker().run_once()
    [request] = receiver.wait_for(1)
    assert "lancero-signature" not in request.headers
    request.verified(hook.secret)


@pytest.mark.slow
def test_refused_500_and_timeout_are_retried_with_growing_delays_then_succeed(
    session_factory, project, make_code, make_worker
):
    port = free_port()  # nothing listens yet: connection refused
    hook = register(session_factory, project.id, f"http://127.0.0.1:{port}/hooks", ["code.claimed"])
    code = make_code()
    claim(session_factory, project.id, code.code, "ada@example.com")
    worker = make_worker(webhook_retry_base_seconds=0.4)

    assert worker.run_round().retried == 1
    with Receiver(port=port, stall_seconds=1.5) as receiver:
        receiver.respond(500, "timeout", 200)
        deliver_until(worker, lambda: statuses(session_factory) == ["succeeded"])
        requests = receiver.wait_for(3)

    for request in requests:
        assert request.verified(hook.secret)["data"]["code"]["code"] == code.code
    assert len({request.webhook_id for request in requests}) == 1
    with session_factory() as session:
        [delivery] = deliveries.list_deliveries(session, project.id, hook.endpoint.id).items
    assert delivery.status == "succeeded"
    assert delivery.attempts == 4
    log = delivery.log
    assert [(a.attempt, a.status_code) for a in log] == [(1, None), (2, 500), (3, None), (4, 200)]
    assert log[0].error == "Connection refused"
    assert log[2].error == "Timed out"
    assert 400 <= log[2].duration_ms < 1500
    waits = [(a.next_attempt_at - a.started_at).total_seconds() - a.duration_ms / 1000 for a in log[:3]]
    # Base 0.4 s, doubling, times a factor in [0.5, 1): 0.2-0.4, 0.4-0.8, 0.8-1.6 seconds.
    assert 0.19 <= waits[0] <= 0.41 and 0.39 <= waits[1] <= 0.81 and 0.79 <= waits[2] <= 1.61
    assert waits[0] < waits[1] < waits[2]
    assert log[3].next_attempt_at is None
    with session_factory() as session:
        begin_read(session)
        assert session.get(WebhookEndpoint, hook.endpoint.id).failing_since is None


def test_a_delivery_gives_up_after_its_window_and_says_so_in_delivery_failed(
    session_factory, project, make_code, receiver, make_worker
):
    dead = register(session_factory, project.id, f"http://127.0.0.1:{free_port()}/dead", ["code.claimed"])
    watcher = register(session_factory, project.id, receiver.url, ["delivery.failed"])
    claim(session_factory, project.id, make_code().code, "ada@example.com")
    # A one-second window: the second failure is past it.
    worker = make_worker(webhook_retry_window_seconds=1.0, webhook_retry_base_seconds=0.6)
    deliver_until(worker, lambda: "failed" in statuses(session_factory))
    deliver_until(worker, lambda: len(receiver.requests) == 1)

    body = receiver.requests[0].verified(watcher.secret)
    assert body["type"] == "delivery.failed"
    assert body["data"]["webhookId"] == dead.endpoint.id
    assert body["data"]["eventType"] == "code.claimed"
    assert body["data"]["lastError"] == "Connection refused"
    with session_factory() as session:
        [failed] = deliveries.list_deliveries(session, project.id, dead.endpoint.id).items
    assert failed.status == "failed" and failed.next_attempt_at is None
    assert failed.log[-1].next_attempt_at is None


def test_an_endpoint_failing_for_the_whole_window_is_disabled_until_enabled(
    session_factory, project, make_code, make_worker
):
    port = free_port()
    hook = register(session_factory, project.id, f"http://127.0.0.1:{port}/hooks", ["code.claimed"])
    first, second = make_code(), make_code()
    claim(session_factory, project.id, first.code, "ada@example.com")
    worker = make_worker(webhook_retry_window_seconds=3600)
    worker.run_round()
    # It has failed since long ago: the next failure disables it.
    with session_factory() as session, session.begin():
        session.execute(
            update(WebhookEndpoint).values(
                failing_since=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=2)
            )
        )
        session.execute(update(WebhookDelivery).values(next_attempt_at=dt.datetime(2000, 1, 1)))
    worker.run_round()
    with session_factory() as session:
        [record] = endpoints.list_endpoints(session, project.id)
    assert record.health == "disabled"

    # While disabled, new events wait for it; nothing is taken.
    claim(session_factory, project.id, second.code, "bob@example.com")
    assert worker.run_round().taken == 0
    with Receiver(port=port) as receiver:
        with session_factory() as session:
            enabled = endpoints.enable_endpoint(
                session, project.id, hook.endpoint.id, retry_window=dt.timedelta(hours=1)
            )
            session.commit()
        assert enabled.health == "healthy"
        deliver_until(worker, lambda: statuses(session_factory) == ["succeeded", "succeeded"])
        emails = sorted(r.verified(hook.secret)["data"]["email"] for r in receiver.wait_for(2))
    assert emails == ["ada@example.com", "bob@example.com"]


def test_a_delivery_replays_with_the_same_event_id(
    session_factory, project, make_code, receiver, make_worker
):
    hook = register(session_factory, project.id, receiver.url, ["code.claimed"])
    claim(session_factory, project.id, make_code().code, "ada@example.com")
    worker = make_worker()
    worker.run_once()
    with session_factory() as session:
        [delivery] = deliveries.list_deliveries(session, project.id, hook.endpoint.id).items
        replayed = deliveries.retry_delivery(
            session, project.id, hook.endpoint.id, delivery.id, retry_window=dt.timedelta(hours=1)
        )
        session.commit()
    assert replayed.status == "pending"
    worker.run_once()
    first, again = receiver.wait_for(2)
    assert first.webhook_id == again.webhook_id
    assert first.verified(hook.secret) == again.verified(hook.secret)
    with session_factory() as session:
        [delivery] = deliveries.list_deliveries(session, project.id, hook.endpoint.id).items
    assert delivery.status == "succeeded" and delivery.attempts == 2


def test_after_a_rotation_both_secrets_verify_for_a_while(
    session_factory, project, make_code, receiver, make_worker
):
    old = register(session_factory, project.id, receiver.url, ["code.claimed"])
    with session_factory() as session:
        new = endpoints.rotate_secret(session, project.id, old.endpoint.id)
        session.commit()
    assert new.secret != old.secret
    claim(session_factory, project.id, make_code().code, "ada@example.com")
    make_worker().run_once()
    [request] = receiver.wait_for(1)
    request.verified(new.secret)
    request.verified(old.secret)
    assert request.headers["lancero-signature"] == new.secret
    assert len(request.headers["webhook-signature"].split(" ")) == 2


def test_a_host_that_now_resolves_to_a_private_address_is_refused_at_delivery(
    database, session_factory, project, make_code, receiver
):
    hook = register(
        session_factory,
        project.id,
        f"https://hooks.example.com:{receiver.port}/hooks",
        ["code.claimed"],
        resolver=lambda host, port: ["93.184.216.34"],
    )
    claim(session_factory, project.id, make_code().code, "ada@example.com")
    # DNS rebinding: the name now points at loopback, and private addresses are not allowed.
    worker = WebhookWorker(
        session_factory,
        webhook_settings(database.url, webhooks_allow_private=False),
        resolver=lambda host, port: ["127.0.0.1"],
    )
    assert worker.run_round().retried == 1
    assert receiver.requests == []
    with session_factory() as session:
        [delivery] = deliveries.list_deliveries(session, project.id, hook.endpoint.id).items
    assert "private" in delivery.last_error and delivery.last_error.startswith("Refused")


def test_https_goes_to_the_checked_address_with_the_urls_name_for_tls_and_host(
    database, session_factory, project, make_code
):
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("hooks.example.com").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    pointed_home = lambda host, port: ["127.0.0.1"]  # noqa: E731
    code = make_code()
    with Receiver(tls=server_context) as receiver:
        good = register(
            session_factory,
            project.id,
            f"https://hooks.example.com:{receiver.port}/hooks",
            resolver=pointed_home,
        )
        wrong_name = register(
            session_factory, project.id, f"https://other.example.com:{receiver.port}/x", resolver=pointed_home
        )
        claim(session_factory, project.id, code.code, "ada@example.com")
        worker = WebhookWorker(
            session_factory, webhook_settings(database.url), resolver=pointed_home, ssl_context=client_context
        )
        worker.run_round()
        [request] = receiver.requests
    assert request.headers["host"] == f"hooks.example.com:{receiver.port}"
    assert request.verified(good.secret)["type"] == "code.claimed"
    with session_factory() as session:
        [refused] = deliveries.list_deliveries(session, project.id, wrong_name.endpoint.id).items
    assert refused.status == "pending" and refused.last_error.startswith("TLS error")


def test_two_workers_never_send_the_same_attempt(
    database, engine_for, session_factory, project, receiver, make_worker
):
    register(session_factory, project.id, receiver.url, ["code.claimed"])
    with session_factory() as session:
        codes = generate_codes(session, project.id, amount=40, allowed_claims=1)
        session.commit()
    for number, code in enumerate(codes):
        claim(session_factory, project.id, code.code, f"user{number}@example.com")
    # Each worker has a pool of its own, as two processes would.
    workers = [
        WebhookWorker(
            make_sessionmaker(engine_for(database.url)), webhook_settings(database.url, worker_batch_size=5)
        ),
        make_worker(worker_batch_size=5),
    ]
    threads = [threading.Thread(target=worker.run_once) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(receiver.wait_for(40)) == 40
    assert receiver.duplicates() == {}
    assert statuses(session_factory) == ["succeeded"] * 40
