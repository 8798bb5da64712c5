"""Discord servers linked to projects, the failed-claim limit, and codes as the bot hands them out."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.codes import claim_code, generate_codes
from shared.errors import (
    CodeAlreadyClaimed,
    CodeExpired,
    CodeFullyClaimed,
    CodeReserved,
    ProjectNotFound,
    SecretKeyRequired,
    Unauthenticated,
)
from shared.guilds import (
    GuildNotLinked,
    TooManyFailedClaims,
    check_claim_allowed,
    code_for_member,
    failed_claims_retry_after,
    get_guild_link,
    link_guild,
    link_guild_to_project,
    list_guild_links,
    members_keeping_role,
    record_claim_failure,
    set_guild_config,
    unlink_guild,
)

GUILD = 111
T0 = dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def test_link_by_secret_key_then_move_to_another_project(project, make_project, session):
    other = make_project("other")
    link = link_guild(session, GUILD, f"  {project.keys.secret_key} ")
    assert (link.guild_id, link.project_id, link.project_name) == (GUILD, project.id, "acme")
    moved = link_guild(session, GUILD, other.keys.secret_key)
    assert moved.project_id == other.id
    assert [g.guild_id for g in list_guild_links(session)] == [GUILD]


def test_link_refuses_public_and_unknown_keys(session, project):
    with pytest.raises(SecretKeyRequired):
        link_guild(session, GUILD, project.keys.public_key)
    with pytest.raises(Unauthenticated):
        link_guild(session, GUILD, "sk_" + "1" * 48)
    with pytest.raises(GuildNotLinked):
        get_guild_link(session, GUILD)


def test_link_by_name_config_and_unlink(session, project):
    with pytest.raises(ProjectNotFound):
        link_guild_to_project(session, GUILD, "missing")
    link_guild_to_project(session, GUILD, "acme")
    link = set_guild_config(session, GUILD, manager_role_id=5, log_channel_id=6)
    assert (link.manager_role_id, link.log_channel_id) == (5, 6)
    link = set_guild_config(session, GUILD, log_channel_id=None)
    assert (link.manager_role_id, link.log_channel_id) == (5, None)
    unlink_guild(session, GUILD)
    with pytest.raises(GuildNotLinked):
        set_guild_config(session, GUILD, manager_role_id=1)
    with pytest.raises(GuildNotLinked):
        unlink_guild(session, GUILD)


def test_failed_claims_are_limited_in_a_sliding_window(session, clock_at):
    clock = clock_at(T0)
    for _ in range(3):
        record_claim_failure(session, 7, GUILD)
        clock.advance(seconds=10)
    assert failed_claims_retry_after(session, 7, limit=4) is None
    assert failed_claims_retry_after(session, 7, limit=3) == 30
    with pytest.raises(TooManyFailedClaims) as caught:
        check_claim_allowed(session, 7, limit=3)
    assert caught.value.retry_after == 30
    check_claim_allowed(session, 8, limit=3)
    clock.advance(seconds=30)
    check_claim_allowed(session, 7, limit=3)


def test_code_for_member_follows_the_send_rules(session, project, clock_at):
    clock = clock_at(T0)
    now = T0.replace(tzinfo=None)
    fresh, reserved, full, ending = (
        generate_codes(session, project.id, amount=1, **options)[0].code
        for options in (
            {"allowed_claims": 2},
            {"reserved_for": "a@example.com"},
            {},
            {"valid_until": now + dt.timedelta(hours=1)},
        )
    )
    assert code_for_member(session, project.id, fresh, 7).code == fresh
    claim_code(session, project.id, fresh, discord_user_id=7)
    with pytest.raises(CodeAlreadyClaimed):
        code_for_member(session, project.id, fresh, 7)
    assert code_for_member(session, project.id, fresh, 8).code == fresh
    with pytest.raises(CodeReserved):
        code_for_member(session, project.id, reserved, 7)
    claim_code(session, project.id, full, discord_user_id=9)
    with pytest.raises(CodeFullyClaimed):
        code_for_member(session, project.id, full, 7)
    clock.advance(hours=2)
    with pytest.raises(CodeExpired):
        code_for_member(session, project.id, ending, 7)


def test_members_keeping_role_counts_other_codes_of_the_same_role_and_server(session, project):
    def code(**options):
        return generate_codes(session, project.id, amount=1, allowed_claims=5, **options)[0].code

    same, other_role, other_server = (
        code(discord_guild_id=GUILD, discord_role_id=1),
        code(discord_guild_id=GUILD, discord_role_id=2),
        code(discord_guild_id=222, discord_role_id=1),
    )
    claim_code(session, project.id, same, discord_user_id=10)
    claim_code(session, project.id, other_role, discord_user_id=11)
    claim_code(session, project.id, other_server, discord_user_id=12)
    assert members_keeping_role(session, project.id, GUILD, 1, [10, 11, 12, 13]) == {10}
