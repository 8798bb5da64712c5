"""The floor for generating codes: draw with ``secrets``, insert with one statement, serialise.

``python -m bench.generate_floor DATABASE_URL PROJECT_ID [AMOUNT]`` prints the seconds it took.
The API's ``POST /codes/generate`` for alphanumeric codes does the same work and more
(validation, the free-space check, the envelope, HTTP), so ours over this is the overhead.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sys
import time

import psycopg

from bench.floor import libpq_url

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
SPACE = len(ALPHABET) ** 6

INSERT = (
    "INSERT INTO codes (project_id, code, type, allowed_claims, claims, created_at, updated_at)"
    " SELECT %(project_id)s, c, 'alphanumeric', 1, 0, %(now)s, %(now)s"
    " FROM unnest(%(codes)s::text[]) AS c"
    " ON CONFLICT (project_id, code) DO NOTHING RETURNING code"
)


def draw(amount: int) -> list[str]:
    """``amount`` distinct 6-character codes of ``[a-z0-9]`` from ``secrets``."""
    found: set[str] = set()
    while len(found) < amount:
        number = secrets.randbelow(SPACE)
        chars = []
        for _ in range(6):
            number, rest = divmod(number, 36)
            chars.append(ALPHABET[rest])
        found.add("".join(chars))
    return list(found)


def generate(conn: psycopg.Connection, project_id: int, amount: int = 10_000) -> bytes:
    """Create ``amount`` codes in one INSERT and return them as the JSON body a client would get."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    created: list[str] = []
    with conn.transaction():
        # ON CONFLICT skips codes the project already has; draw replacements for them.
        for _ in range(8):
            if len(created) == amount:
                break
            rows = conn.execute(
                INSERT, {"project_id": project_id, "now": now, "codes": draw(amount - len(created))}
            ).fetchall()
            created.extend(row[0] for row in rows)
        else:
            raise RuntimeError("could not draw enough free codes")
    stamp = now.isoformat(timespec="milliseconds") + "Z"
    return json.dumps(
        {
            "success": True,
            "data": [
                {
                    "code": code,
                    "type": "alphanumeric",
                    "allowedClaims": 1,
                    "claims": 0,
                    "validFrom": None,
                    "validUntil": None,
                    "reservedFor": None,
                    "createdAt": stamp,
                    "updatedAt": stamp,
                }
                for code in created
            ],
        },
        separators=(",", ":"),
    ).encode()


def timed_generate(conn: psycopg.Connection, project_id: int, amount: int = 10_000) -> float:
    began = time.perf_counter()
    generate(conn, project_id, amount)
    return time.perf_counter() - began


def main(argv: list[str]) -> None:
    url, project_id = argv[0], int(argv[1])
    amount = int(argv[2]) if len(argv) > 2 else 10_000
    with psycopg.connect(libpq_url(url)) as conn:
        print(f"{timed_generate(conn, project_id, amount):.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
