"""codes_csv and claims_csv: every row, the listing's filters, checked before the first row."""

from __future__ import annotations

import csv
import io

import pytest

from shared.codes import assign_code, claim_code, claims_csv, codes_csv, generate_codes, import_codes
from shared.codes.export import CLAIM_COLUMNS, CODE_COLUMNS, ROWS_PER_CHUNK
from shared.errors import CodeNotFound, InvalidInput


def rows(chunks) -> list[dict]:
    return list(csv.DictReader(io.StringIO("".join(chunks))))


def test_every_code_oldest_first_with_its_batch_and_assignment(session, project, clock):
    [plain] = generate_codes(session, project.id, amount=1, allowed_claims=2)
    import_codes(session, project.id, ["KEY-1", "KEY-2"], batch="steam")
    session.commit()
    given = assign_code(session, project.id, "steam", email="ada@example.com").code
    session.commit()
    claim_code(session, project.id, plain.code, email="bob@example.com")
    session.commit()

    chunks = list(codes_csv(session, project.id))
    assert chunks[0].splitlines()[0] == ",".join(CODE_COLUMNS)
    exported = rows(chunks)
    assert [row["code"] for row in exported] == [plain.code, "key-1", "key-2"]
    first, *_ = exported
    assert (first["type"], first["status"], first["allowedClaims"], first["claims"]) == (
        "creative",
        "active",
        "2",
        "1",
    )
    assert first["batch"] == first["assignedEmail"] == first["validUntil"] == ""
    by_code = {row["code"]: row for row in exported}
    held = by_code[given.code]
    assert (held["batch"], held["assignedEmail"], held["reservedFor"]) == (
        "steam",
        "ada@example.com",
        "ada@example.com",
    )
    assert held["assignedAt"] == "2030-01-01T12:00:00.000Z" == held["createdAt"]


def test_the_listing_filters_apply_and_are_checked_before_any_row(session, project, clock):
    generate_codes(session, project.id, amount=3, code_type="numeric", batch="a")
    generate_codes(session, project.id, amount=2, code_type="creative", batch="b")
    import_codes(session, project.id, ["mine"])
    session.commit()
    assert len(rows(codes_csv(session, project.id, batch="a"))) == 3
    assert len(rows(codes_csv(session, project.id, code_type="custom"))) == 1
    assert len(rows(codes_csv(session, project.id, status="active", batch="b"))) == 2
    assert rows(codes_csv(session, project.id, batch="nobody")) == []
    with pytest.raises(InvalidInput) as refused:
        codes_csv(session, project.id, code_type="fancy", status="asleep", reserved_for="x", batch="!")
    assert set(refused.value.errors) == {"code_type", "status", "reserved_for", "batch"}


def test_rows_leave_in_chunks(session, project):
    generate_codes(session, project.id, amount=ROWS_PER_CHUNK * 2 + 5, code_type="alphanumeric")
    session.commit()
    chunks = list(codes_csv(session, project.id))
    assert len(chunks) == 3
    assert len(rows(chunks)) == ROWS_PER_CHUNK * 2 + 5


def test_claims_of_one_code_or_of_a_batch(session, project, clock):
    [one] = generate_codes(session, project.id, amount=1, allowed_claims=5, batch="b")
    [two] = generate_codes(session, project.id, amount=1, allowed_claims=5)
    session.commit()
    for email in ("a@example.com", "b@example.com"):
        claim_code(session, project.id, one.code, email=email)
        session.commit()
    claim_code(session, project.id, two.code, discord_user_id=42)
    session.commit()

    chunks = list(claims_csv(session, project.id, code=f" {one.code.upper()} "))
    assert chunks[0].splitlines()[0] == ",".join(CLAIM_COLUMNS)
    assert [(r["code"], r["email"], r["discordUserId"]) for r in rows(chunks)] == [
        (one.code, "a@example.com", ""),
        (one.code, "b@example.com", ""),
    ]
    assert [r["discordUserId"] for r in rows(claims_csv(session, project.id, code=two.code))] == ["42"]
    assert len(rows(claims_csv(session, project.id, batch="b"))) == 2
    assert len(rows(claims_csv(session, project.id))) == 3
    with pytest.raises(CodeNotFound):
        claims_csv(session, project.id, code="missing")
