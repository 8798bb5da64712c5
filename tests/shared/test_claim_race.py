"""Concurrent claims, each thread with its own session: the database never lets a code be over-claimed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from shared.codes import claim_code, exchange_token, get_code
from shared.errors import DomainError
from shared.models import Claim

THREADS = 40


def run_at_once(session_factory, work, arguments) -> list[str]:
    """Run ``work(session, argument)`` for every argument, each in its own thread and transaction.

    Returns what each call came to: "ok" when it committed, else the domain error's code.
    """
    start = threading.Barrier(len(arguments))

    def attempt(argument) -> str:
        start.wait()
        with session_factory() as session:
            try:
                work(session, argument)
                session.commit()
                return "ok"
            except DomainError as exc:
                session.rollback()
                return exc.code

    with ThreadPoolExecutor(max_workers=len(arguments)) as pool:
        return list(pool.map(attempt, arguments))


def claims_and_counter(session_factory, project_id, code) -> tuple[int, int]:
    with session_factory() as session:
        record = get_code(session, project_id, code)
        rows = session.scalar(select(func.count()).select_from(Claim).where(Claim.code_id == record.id))
        return rows, record.claims


def test_concurrent_claimers_take_exactly_the_allowed_claims(session_factory, project, make_code):
    code = make_code(allowed_claims=5)
    outcomes = run_at_once(
        session_factory,
        lambda session, n: claim_code(session, project.id, code.code, email=f"user{n}@example.com"),
        range(THREADS),
    )
    assert outcomes.count("ok") == 5
    assert outcomes.count("code_fully_claimed") == THREADS - 5
    assert claims_and_counter(session_factory, project.id, code.code) == (5, 5)


def test_one_email_racing_itself_claims_once(session_factory, project, make_code):
    code = make_code(allowed_claims=THREADS)  # the counter never refuses: only the constraint can
    outcomes = run_at_once(
        session_factory,
        lambda session, _: claim_code(session, project.id, code.code, email="alice@example.com"),
        range(THREADS),
    )
    assert outcomes.count("ok") == 1
    assert outcomes.count("code_already_claimed") == THREADS - 1
    assert claims_and_counter(session_factory, project.id, code.code) == (1, 1)


def test_one_discord_member_racing_itself_claims_once(session_factory, project, make_code):
    code = make_code(allowed_claims=THREADS)
    outcomes = run_at_once(
        session_factory,
        lambda session, _: claim_code(session, project.id, code.code, discord_user_id=42),
        range(THREADS),
    )
    assert outcomes.count("ok") == 1
    assert outcomes.count("code_already_claimed") == THREADS - 1
    assert claims_and_counter(session_factory, project.id, code.code) == (1, 1)


def test_a_token_exchanged_concurrently_is_verified_once(session_factory, project, make_code):
    code = make_code()
    with session_factory() as session:
        token = claim_code(session, project.id, code.code, email="alice@example.com").token
        session.commit()
    outcomes = run_at_once(
        session_factory, lambda session, _: exchange_token(session, project.id, token), range(10)
    )
    assert sorted(outcomes) == ["ok"] + ["token_not_found"] * 9
