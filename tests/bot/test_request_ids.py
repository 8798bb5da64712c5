"""The bot's log lines carry the id of the interaction they belong to, emails masked."""

from __future__ import annotations

import logging
import re

from tests.bot.harness import MEMBER
from tests.log_capture import json_log_lines


async def test_every_log_line_of_an_interaction_carries_its_id(harness, linked, monkeypatch):
    def failing_domain_call(fn, reading, args, kwargs):
        # Runs in the runner's worker thread, like every domain call.
        logging.getLogger("codes.test.bot").info("claiming for alice@example.com")
        raise RuntimeError("the database went away")

    monkeypatch.setattr(harness.bot.runner, "_call", failing_domain_call)
    with json_log_lines("bot") as lines:
        first = await harness.invoke("claim", MEMBER, code="curious-pineapple")
        second = await harness.invoke("claim", MEMBER, code="curious-pineapple")
    ids = [re.search(r"/token-(\d+)/", calls[0].url)[1] for calls in (first, second)]
    assert ids[0] != ids[1]
    domain = [e for e in lines() if e["logger"] == "codes.test.bot"]
    unexpected = [e for e in lines() if e["level"] == "error"]
    assert [e["request_id"] for e in domain] == ids
    assert [e["request_id"] for e in unexpected] == ids
    assert domain[0]["message"] == "claiming for a***@example.com"
    assert "RuntimeError: the database went away" in unexpected[0]["exception"]
