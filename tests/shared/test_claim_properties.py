"""Property tests of the claim rules: any sequence of claims, over codes of any shape, as time passes,
does exactly what a plain reference model says, and the database agrees with it afterwards.

The model is the rule as issue 2 states it: refusals in the documented order (unknown code,
reserved for another email, already claimed by this email, not yet valid, expired, fully claimed),
codes and emails compared trimmed and case-insensitively, and never more claims than allowed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from shared import codes
from shared.errors import DomainError
from shared.models import Claim, Code

T0 = dt.datetime(2030, 1, 1, 12, 0, 0)  # naive UTC, as every column stores it
EMAILS = ("ana@example.com", "bo@example.org", "cy@example.net", "di@example.com")
UNKNOWN = "no-such-code"


@dataclass
class ModelCode:
    value: str
    allowed: int
    reserved_for: str | None
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    claimed_by: set[str] = field(default_factory=set)

    def refusal(self, email: str, now: dt.datetime) -> str | None:
        if self.reserved_for is not None and self.reserved_for != email:
            return "code_reserved"
        if email in self.claimed_by:
            return "code_already_claimed"
        if self.valid_from is not None and self.valid_from > now:
            return "code_not_yet_valid"
        if self.valid_until is not None and self.valid_until <= now:
            return "code_expired"
        if len(self.claimed_by) >= self.allowed:
            return "code_fully_claimed"
        return None


# Time moves in steps of STEP so that claims land exactly on window boundaries often.
STEP = dt.timedelta(seconds=30)


@st.composite
def code_specs(draw):
    valid_from = draw(st.none() | st.integers(-3, 3))
    lower = max(1, (valid_from or 0) + 1)  # validUntil: after validFrom, and in the future
    valid_until = draw(st.none() | st.integers(lower, lower + 4))
    return {
        "allowed_claims": draw(st.integers(1, 4)),
        "reserved_for": draw(st.none() | st.sampled_from(EMAILS)),
        "valid_from": None if valid_from is None else T0 + valid_from * STEP,
        "valid_until": None if valid_until is None else T0 + valid_until * STEP,
        "code_type": draw(st.sampled_from(["creative", "alphanumeric", "numeric"])),
    }


def spelled(value: str, style: int) -> str:
    """How a person might type it: case and surrounding whitespace vary."""
    return [value, value.upper(), f"  {value}\t", value.title()][style]


claims = st.lists(
    st.tuples(
        st.integers(-1, 2),  # which code; -1 is one that does not exist
        st.sampled_from(EMAILS),
        st.integers(0, 3),  # how the code is typed
        st.integers(0, 3),  # how the email is typed
        st.integers(0, 2),  # steps of time that pass before this claim
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(code_specs(), min_size=1, max_size=3), attempts=claims)
def test_claims_follow_the_rules_whatever_the_sequence(
    session_factory, make_project, clock_at, specs, attempts
):
    clock = clock_at(T0)
    now = T0
    project = make_project(None)
    model: list[ModelCode] = []
    with session_factory() as session:
        for spec in specs:
            created = codes.generate_codes(session, project.id, amount=1, **spec)[0]
            model.append(
                ModelCode(
                    created.code,
                    spec["allowed_claims"],
                    spec["reserved_for"],
                    spec["valid_from"],
                    spec["valid_until"],
                )
            )
        session.commit()

    for index, email, code_style, email_style, wait in attempts:
        now += wait * STEP
        clock.advance(seconds=(wait * STEP).total_seconds())
        target = model[index % len(model)] if index >= 0 else None
        value = target.value if target else UNKNOWN
        expected = "code_not_found" if target is None else target.refusal(email, now)

        with session_factory() as session:
            try:
                result = codes.claim_code(
                    session, project.id, spelled(value, code_style), email=spelled(email, email_style)
                )
                session.commit()
                outcome = None
            except DomainError as exc:
                session.rollback()
                outcome = exc.code
        assert outcome == expected, (value, email, now)
        if outcome is None:
            target.claimed_by.add(email)
            assert result.email == email
            assert result.code.code == value
            assert result.code.claims == len(target.claimed_by) <= target.allowed

    with session_factory() as session:
        for code in model:
            row = session.execute(
                select(Code.id, Code.claims).where(Code.project_id == project.id, Code.code == code.value)
            ).one()
            emails = session.scalars(select(Claim.email).where(Claim.code_id == row.id)).all()
            assert row.claims == len(emails) == len(code.claimed_by) <= code.allowed
            assert set(emails) == code.claimed_by
        assert session.scalar(
            select(func.count()).select_from(Claim).where(Claim.project_id == project.id)
        ) == sum(len(code.claimed_by) for code in model)
