"""Role grants a Discord claim owes, and redeem panels: the records the bot keeps in the database."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from shared.codes import claim_code, delete_code, generate_codes
from shared.errors import InvalidInput
from shared.panels import (
    PanelBeingPosted,
    PanelNotFound,
    drop_panel,
    list_panels,
    reserve_panel,
    set_panel_message,
)
from shared.role_grants import (
    count_pending_role_grants,
    fail_role_grant,
    finish_role_grant,
    open_role_grant,
    pending_role_grant,
    pending_role_grants,
    role_grant_states,
)

GUILD, OTHER_GUILD, ROLE = 111, 222, 333
ALICE, BOB = 1001, 1002


@pytest.fixture
def code(project, session):
    [record] = generate_codes(
        session, project.id, amount=1, allowed_claims=5, discord_guild_id=GUILD, discord_role_id=ROLE
    )
    for member in (ALICE, BOB):
        claim_code(session, project.id, record.code, discord_user_id=member)
        open_role_grant(session, record.id, member)
    session.flush()
    return record


def test_a_grant_is_pending_until_finished(project, session, code):
    record, owed = pending_role_grants(session, project.id, code.code.upper())
    assert (record.id, record.claims, owed) == (code.id, 2, [ALICE, BOB])
    assert pending_role_grant(session, project.id, f" {code.code} ", ALICE, GUILD).id == code.id
    # Owed only in the code's server, to the member who claimed it.
    assert pending_role_grant(session, project.id, code.code, ALICE, OTHER_GUILD) is None
    assert pending_role_grant(session, project.id, code.code, 999, GUILD) is None
    assert pending_role_grant(session, project.id, "x" * 100, ALICE, GUILD) is None

    fail_role_grant(session, code.id, ALICE, "Missing Permissions (50013)")
    state = role_grant_states(session, code.id, [ALICE, BOB, 999])
    assert set(state) == {ALICE, BOB}
    assert (state[ALICE].pending, state[ALICE].attempts, state[ALICE].last_error) == (
        True,
        1,
        "Missing Permissions (50013)",
    )

    assert finish_role_grant(session, code.id, ALICE) is True
    assert finish_role_grant(session, code.id, ALICE) is False  # done once, by one caller
    state = role_grant_states(session, code.id, [ALICE])[ALICE]
    assert (state.pending, state.attempts, state.last_error) == (False, 2, None)
    assert isinstance(state.granted_at, dt.datetime)
    assert pending_role_grant(session, project.id, code.code, ALICE, GUILD) is None
    assert count_pending_role_grants(session, code.id) == 1


def test_grants_go_with_their_claims(project, session, code):
    delete_code(session, project.id, code.code)
    assert role_grant_states(session, code.id, [ALICE, BOB]) == {}
    assert count_pending_role_grants(session, code.id) == 0


def test_a_claim_without_a_member_opens_no_grant(project, session, code):
    claim_code(session, project.id, code.code, email="web@example.com")
    open_role_grant(session, code.id, 4242)  # no claim by this member: nothing to remember
    assert pending_role_grants(session, project.id, code.code)[1] == [ALICE, BOB]


def _reserve(session, channel=10, **texts):
    return reserve_panel(
        session,
        GUILD,
        channel,
        title=texts.get("title"),
        description=texts.get("description"),
        default_title="Redeem",
        default_description="Press the button.",
        created_by=ALICE,
    )


def test_a_panel_is_reserved_posted_edited_and_dropped(session, clock):
    panel, new = _reserve(session)
    assert new and (panel.title, panel.description, panel.message_id) == ("Redeem", "Press the button.", None)
    with pytest.raises(PanelBeingPosted):
        _reserve(session)
    set_panel_message(session, 10, 555)
    panel, new = _reserve(session, description="New text.")
    assert not new and (panel.title, panel.description, panel.message_id) == ("Redeem", "New text.", 555)
    assert [p.channel_id for p in list_panels(session, GUILD)] == [10]
    with pytest.raises(PanelNotFound):
        reserve_panel(
            session,
            OTHER_GUILD,
            10,
            title=None,
            description=None,
            default_title="x",
            default_description="x",
            created_by=BOB,
        )
    with pytest.raises(PanelNotFound):
        drop_panel(session, OTHER_GUILD, 10)
    assert drop_panel(session, GUILD, 10).message_id == 555
    with pytest.raises(PanelNotFound):
        drop_panel(session, GUILD, 10)


def test_panel_texts_are_checked(session):
    with pytest.raises(InvalidInput) as caught:
        _reserve(session, title=" ", description="d" * 2001)
    assert set(caught.value.errors) == {"title", "description"}


def test_two_managers_setting_up_one_channel_get_one_panel(session_factory, database):
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def reserve():
        with session_factory() as session:
            barrier.wait(timeout=10)
            try:
                outcomes.append(_reserve(session, channel=77)[1])
                session.commit()
            except PanelBeingPosted as exc:
                session.rollback()
                outcomes.append(exc)

    threads = [threading.Thread(target=reserve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(map(type, outcomes), key=str) == sorted([bool, PanelBeingPosted], key=str)
    with session_factory() as session:
        assert len(list_panels(session, GUILD)) == 1
