"""What the README's tests read from it: a fenced block by its info string, the routes of its
marked tables, the commands of its CLI table."""

from __future__ import annotations

import re

from tests.support import ROOT

README = ROOT / "README.md"
_ROUTE = re.compile(r"`(GET|POST|PUT|DELETE|PATCH) (/[^`\s]*)`")
# README writes /codes/:code, OpenAPI /codes/{code}, Flask /codes/<code>: each becomes /codes/{}.
_PARAMETER = re.compile(r":[A-Za-z_]+|\{[^}]+\}|<[^>]+>")


def text() -> str:
    return README.read_text()


def block(info: str) -> str:
    """The body of the one fenced block opened with ```` ```bash <info> ````."""
    found = re.findall(rf"^```bash {re.escape(info)}\n(.*?)^```$", text(), flags=re.M | re.S)
    assert len(found) == 1, f"README.md needs exactly one ```bash {info} block, found {len(found)}"
    return found[0]


def table_after(marker: str) -> list[list[str]]:
    """The rows (cells) of every table that follows ``<!-- marker -->``, header and rule left out."""
    lines = text().splitlines()
    tables = []
    for index, line in enumerate(lines):
        if line.strip() != f"<!-- {marker} -->":
            continue
        rows = []
        for row in lines[index + 3 :]:
            if not row.startswith("|"):
                break
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]])
        tables.append(rows)
    assert tables, f"README.md has no table marked <!-- {marker} -->"
    return [row for rows in tables for row in rows]


def normalized(method: str, path: str) -> tuple[str, str]:
    return method.upper(), _PARAMETER.sub("{}", path)


def routes(kind: str) -> list[tuple[str, str]]:
    """(METHOD, path) of every route in the first column of the tables marked ``routes: kind``."""
    return [normalized(*match) for row in table_after(f"routes: {kind}") for match in _ROUTE.findall(row[0])]
