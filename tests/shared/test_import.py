"""import_codes: a team's own codes, normalized, in the documented charset, all or none."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from shared.codes import claim_code, get_code, import_codes, list_codes
from shared.errors import CodeExists, InvalidInput
from shared.models import Code, WebhookEvent
from shared.validation import MAX_IMPORT
from tests.shared.conftest import T0
from tests.webhook_receiver import register


def stored(session_factory, project_id) -> dict[str, Code]:
    with session_factory() as session:
        return {
            code.code: code for code in session.scalars(select(Code).where(Code.project_id == project_id))
        }


def test_values_are_stored_normalized_as_custom_codes_with_the_shared_settings(
    session, session_factory, project, clock
):
    result = import_codes(
        session,
        project.id,
        ["  STEAM-KEY-AAAA ", "gift_card_01", "x"],
        allowed_claims=3,
        valid_from=T0 - dt.timedelta(days=1),
        valid_until=T0 + dt.timedelta(days=30),
        batch=" Beta keys ",
    )
    session.commit()
    assert (result.imported, result.skipped) == (3, [])
    codes = stored(session_factory, project.id)
    assert set(codes) == {"steam-key-aaaa", "gift_card_01", "x"}
    for code in codes.values():
        assert (code.type, code.allowed_claims, code.claims, code.batch) == ("custom", 3, 0, "Beta keys")
        assert (code.valid_from, code.valid_until) == (T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=30))
    # Claimed like any code: case and surrounding whitespace ignored.
    claimed = claim_code(session, project.id, " Steam-Key-AAAA", email="a@example.com")
    assert (claimed.code.code, claimed.code.batch) == ("steam-key-aaaa", "Beta keys")


def test_a_normalization_collision_within_the_request_refuses_everything(session, session_factory, project):
    with pytest.raises(CodeExists) as refused:
        import_codes(session, project.id, ["ABC", "other", " abc "])
    session.rollback()
    assert refused.value.errors == {"codes.2": ["Repeats codes.0."]}
    assert "1 code is repeated: abc." in refused.value.message
    assert stored(session_factory, project.id) == {}


def test_a_value_the_project_has_refuses_everything_and_names_it(session, session_factory, project):
    import_codes(session, project.id, ["abc", "def"])
    session.commit()
    with pytest.raises(CodeExists) as refused:
        import_codes(session, project.id, ["new-1", "ABC", "new-2", " Def"])
    session.rollback()
    assert refused.value.errors == {
        "codes.1": ["Exists already in this project."],
        "codes.3": ["Exists already in this project."],
    }
    assert "2 codes exist already: abc, def." in refused.value.message
    assert set(stored(session_factory, project.id)) == {"abc", "def"}


def test_a_generated_code_counts_as_existing(session, project, make_code):
    generated = make_code(code_type="numeric")
    with pytest.raises(CodeExists):
        import_codes(session, project.id, [generated.code])


def test_skip_existing_imports_the_rest_and_reports_each_skip_in_order(session, session_factory, project):
    import_codes(session, project.id, ["abc"])
    session.commit()
    result = import_codes(session, project.id, ["new-1", " ABC", "NEW-1", "new-2", "abc"], skip_existing=True)
    session.commit()
    assert result.imported == 2
    assert [(skip.code, skip.reason) for skip in result.skipped] == [
        ("abc", "code_exists"),
        ("new-1", "duplicate"),
        ("abc", "duplicate"),
    ]
    assert set(stored(session_factory, project.id)) == {"abc", "new-1", "new-2"}


def test_another_project_may_hold_the_same_values(session, project, make_project):
    other = make_project("other")
    import_codes(session, other.id, ["abc"])
    assert import_codes(session, project.id, ["ABC"]).imported == 1


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "with space",
        "tab\tinside",
        "dot.ted",
        "ünïcode",
        "emoji-🎉",
        "-leading",
        "trailing_",
        "a" * 65,
    ],
)
def test_values_outside_the_charset_or_length_are_refused_by_position(
    session, session_factory, project, value
):
    with pytest.raises(InvalidInput) as refused:
        import_codes(session, project.id, ["fine", value])
    assert list(refused.value.errors) == ["codes.1"]
    assert "letters, digits, '-' or '_'" in refused.value.errors["codes.1"][0]
    assert stored(session_factory, project.id) == {}


def test_the_longest_value_and_mixed_case_fit(session, project):
    longest = "A" + "b" * 62 + "9"
    assert import_codes(session, project.id, [longest, "Z"]).imported == 2
    assert get_code(session, project.id, longest).code == longest.lower()


def test_size_limits_and_settings_are_checked_together(session, project, clock):
    with pytest.raises(InvalidInput) as refused:
        import_codes(session, project.id, [], allowed_claims=0, valid_until=T0 - dt.timedelta(seconds=1))
    assert set(refused.value.errors) == {"codes", "allowed_claims", "valid_until"}
    with pytest.raises(InvalidInput) as refused:
        import_codes(session, project.id, [f"c{n}" for n in range(MAX_IMPORT + 1)])
    assert refused.value.errors == {"codes": [f"Must hold between 1 and {MAX_IMPORT} codes."]}
    with pytest.raises(InvalidInput) as refused:
        import_codes(session, project.id, ["ok"], batch="  ")
    assert set(refused.value.errors) == {"batch"}


def test_ten_thousand_values_in_one_call(session, session_factory, project):
    values = [f"KEY-{n:05d}" for n in range(MAX_IMPORT)]
    assert import_codes(session, project.id, values, batch="big").imported == MAX_IMPORT
    session.commit()
    page = list_codes(session, project.id, batch="big", limit=1)
    assert page.items[0].type == "custom" and page.next_cursor is not None


def test_existing_and_repeated_values_are_named_together(session, project):
    import_codes(session, project.id, ["abc"])
    session.commit()
    with pytest.raises(CodeExists) as refused:
        import_codes(session, project.id, ["x", "ABC", "y", "X", " abc"])
    assert refused.value.errors == {
        "codes.1": ["Exists already in this project."],
        "codes.3": ["Repeats codes.0."],
        "codes.4": ["Repeats codes.1."],
    }
    assert refused.value.message.startswith("1 code exists already: abc. 2 codes are repeated: x, abc.")


def test_an_import_tells_webhooks_of_the_codes_it_created_and_a_refused_one_of_none(
    session, session_factory, project
):
    register(session_factory, project.id, "http://127.0.0.1:9/hooks")
    import_codes(session, project.id, ["abc"], batch="b")
    session.commit()
    with pytest.raises(CodeExists):
        import_codes(session, project.id, ["new", "abc"])
    session.rollback()
    import_codes(session, project.id, ["NEW", "abc"], skip_existing=True)
    session.commit()
    with session_factory() as check:
        events = check.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
    assert [event.type for event in events] == ["code.created", "code.created"]
    assert [[c["code"] for c in event.data["codes"]] for event in events] == [["abc"], ["new"]]
    assert (events[0].data["codes"][0]["type"], events[0].data["codes"][0]["batch"]) == ("custom", "b")
