"""Projects and keys: the key format, digests only at rest, authentication, rotation, listing."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import select

from shared.codes import generate_codes
from shared.errors import InvalidInput, ProjectExists, ProjectNotFound, Unauthenticated
from shared.models import Project
from shared.projects import authenticate, create_project, list_projects, rotate_keys


def test_keys_are_prefixed_48_lowercase_hex(project):
    assert re.fullmatch(r"pk_[0-9a-f]{48}", project.keys.public_key)
    assert re.fullmatch(r"sk_[0-9a-f]{48}", project.keys.secret_key)


def test_every_project_gets_its_own_keys(make_project):
    first, second = make_project("first"), make_project("second")
    keys = {first.keys.public_key, first.keys.secret_key, second.keys.public_key, second.keys.secret_key}
    assert len(keys) == 4


def test_only_digests_of_the_keys_are_stored(session, project):
    row = session.execute(select(Project.__table__).where(Project.id == project.id)).one()
    stored = " ".join(str(value) for value in row)
    for key in (project.keys.public_key, project.keys.secret_key):
        assert key not in stored
        assert key.split("_", 1)[1] not in stored
    assert row.public_key_digest == hashlib.sha256(project.keys.public_key.encode()).hexdigest()
    assert row.secret_key_digest == hashlib.sha256(project.keys.secret_key.encode()).hexdigest()


def test_the_public_key_authenticates_as_public(session, project):
    caller = authenticate(session, project.keys.public_key)
    assert (caller.project_id, caller.project_name, caller.is_secret) == (project.id, "acme", False)


def test_the_secret_key_authenticates_as_secret(session, project):
    caller = authenticate(session, project.keys.secret_key)
    assert (caller.project_id, caller.project_name, caller.is_secret) == (project.id, "acme", True)


def test_a_key_finds_its_own_project_among_others(session, project, make_project):
    other = make_project("other")
    assert authenticate(session, other.keys.secret_key).project_id == other.id
    assert authenticate(session, project.keys.public_key).project_id == project.id


@pytest.mark.parametrize(
    "key",
    [
        None,
        "",
        "pk_" + "0" * 48,  # well formed, unknown
        "sk_" + "f" * 48,
        "pk_123",
        "xk_" + "0" * 48,
        "SK_" + "0" * 48,
    ],
)
def test_unknown_or_malformed_keys_are_refused(session, project, key):
    with pytest.raises(Unauthenticated) as raised:
        authenticate(session, key)
    assert raised.value.message == Unauthenticated.default_message


@pytest.mark.parametrize(
    "mangle",
    [
        str.upper,
        lambda key: f"Bearer {key}",
        lambda key: f" {key}",
        lambda key: key + "0",
        lambda key: key[:-1],
        lambda key: ("sk_" if key.startswith("pk_") else "pk_") + key[3:],  # the other prefix
    ],
)
def test_a_mangled_real_key_is_refused(session, project, mangle):
    for key in (project.keys.public_key, project.keys.secret_key):
        with pytest.raises(Unauthenticated):
            authenticate(session, mangle(key))


def test_rotated_keys_replace_the_old_ones_at_once(session, session_factory, project):
    _, keys = rotate_keys(session, " acme ")
    for old in (project.keys.public_key, project.keys.secret_key):
        with pytest.raises(Unauthenticated):
            authenticate(session, old)
    assert authenticate(session, keys.secret_key).project_id == project.id
    session.commit()

    assert keys.public_key != project.keys.public_key and keys.secret_key != project.keys.secret_key
    with session_factory() as fresh:
        assert authenticate(fresh, keys.public_key).project_id == project.id
        with pytest.raises(Unauthenticated):
            authenticate(fresh, project.keys.secret_key)


def test_rotating_an_unknown_project_is_not_found(session, project):
    with pytest.raises(ProjectNotFound):
        rotate_keys(session, "nobody")


def test_a_duplicate_name_is_refused_and_the_session_stays_usable(session, session_factory, project):
    with pytest.raises(ProjectExists):
        create_project(session, " acme")
    created, _ = create_project(session, "beta")
    session.commit()
    assert [p.name for p in list_projects(session)] == ["acme", "beta"]
    assert created.id is not None


@pytest.mark.parametrize("name", ["", "   ", "-leading-dash", "x" * 101, "semi;colon"])
def test_a_bad_name_is_invalid(session, name):
    with pytest.raises(InvalidInput) as raised:
        create_project(session, name)
    assert set(raised.value.errors) == {"name"}


def test_list_projects_counts_each_projects_codes(session, project, make_project):
    empty = make_project("empty")
    busy = make_project("busy")
    generate_codes(session, project.id, amount=3)
    generate_codes(session, busy.id, amount=5, code_type="numeric")
    summaries = list_projects(session)
    assert [(s.id, s.name, s.codes) for s in summaries] == [
        (project.id, "acme", 3),
        (empty.id, "empty", 0),
        (busy.id, "busy", 5),
    ]
    assert all(summary.created_at is not None for summary in summaries)
