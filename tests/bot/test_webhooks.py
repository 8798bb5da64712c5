"""Claims made in Discord reach the project's webhooks, once each; /codes config shows the
project's endpoints and their health."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from shared.codes import generate_codes
from shared.models import WebhookEndpoint
from shared.webhooks.worker import WebhookWorker
from tests.bot.harness import MANAGER, MEMBER, OTHER_MEMBER, last_text
from tests.webhook_receiver import Receiver, register, webhook_settings


def make_code(session_factory, project_id, **options) -> str:
    with session_factory() as session:
        [code] = generate_codes(session, project_id, amount=1, **options)
        session.commit()
    return code.code


async def test_each_claim_in_discord_sends_one_code_claimed_and_refusals_none(
    harness, linked, session_factory, database
):
    value = make_code(session_factory, linked.id, allowed_claims=1)
    with Receiver() as receiver:
        hook = register(session_factory, linked.id, receiver.url, ["code.claimed"])
        assert "You claimed" in last_text(await harness.invoke("claim", MEMBER, code=value))
        await harness.invoke("claim", MEMBER, code=value)  # already claimed
        await harness.invoke("claim", OTHER_MEMBER, code=value)  # fully claimed
        await harness.invoke("claim", OTHER_MEMBER, code="no-such-code")
        worker = WebhookWorker(session_factory, webhook_settings(database.url))
        assert worker.run_once().succeeded == 1
        [request] = receiver.wait_for(1)
    body = request.verified(hook.secret)
    assert body["type"] == "code.claimed"
    assert body["data"]["source"] == "bot"
    assert body["data"]["discordUserId"] == str(MEMBER.id)
    assert body["data"]["email"] is None
    assert body["data"]["code"]["code"] == value


async def test_config_shows_each_endpoint_and_its_health(harness, linked, session_factory):
    calls = await harness.invoke("codes config", MANAGER)
    assert "Webhooks: none" in last_text(calls)

    healthy = register(session_factory, linked.id, "http://127.0.0.1:9/ok", ["code.claimed"]).endpoint
    failing = register(session_factory, linked.id, "http://127.0.0.1:9/" + "long" * 100).endpoint
    disabled = register(session_factory, linked.id, "http://127.0.0.1:9/off").endpoint
    since = dt.datetime(2025, 1, 1)
    with session_factory() as session, session.begin():
        session.execute(
            update(WebhookEndpoint).where(WebhookEndpoint.id == failing.id).values(failing_since=since)
        )
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == disabled.id)
            .values(failing_since=since, disabled_at=since)
        )
    text = last_text(await harness.invoke("codes config", MANAGER))
    lines = {line.split("`")[1]: line for line in text.splitlines() if line.startswith("•")}
    assert set(lines) == {
        "http://127.0.0.1:9/ok",
        "http://127.0.0.1:9/off",
        "http://127.0.0.1:9/" + "long" * 15 + "…",
    }
    assert "(code.claimed): ✅ healthy" in lines["http://127.0.0.1:9/ok"]
    assert "⚠️ failing since <t:1735689600:R>" in text
    assert f"⛔ disabled <t:1735689600:R>: enable it with POST /webhooks/{disabled.id}/enable" in text
    assert healthy.id != disabled.id
