"""Code values in a text or CSV file, as teams keep them: read line by line, never all at once.

- ``.txt``: one code a line; blank lines are skipped.
- ``.csv``: the ``code`` column when the first row names one (``code``, ``codes``, ``key``,
  ``value``, any case), else the first column of every row. Empty cells are skipped.

Values come with the line they were on, so a report can point at it. Checking them is the
domain's (``shared.validation.normalize_custom_code``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

SUFFIXES = (".txt", ".csv")
CODE_HEADERS = {"code", "codes", "key", "keys", "value", "valor", "código", "clave"}


class CodeFileProblem(Exception):
    """Why a file of codes can't be read: ``reason`` is ``type`` or ``encoding``."""

    def __init__(self, reason: str, line: int | None = None):
        self.reason = reason
        self.line = line
        super().__init__(f"{reason} (line {line})" if line else reason)


def check_name(filename: str) -> None:
    if not filename.lower().endswith(SUFFIXES):
        raise CodeFileProblem("type")


def decoded(lines: Iterable[bytes]) -> Iterator[str]:
    """UTF-8 lines (a byte order mark at the start is dropped); CodeFileProblem("encoding") names
    the first line that is not UTF-8."""
    for number, line in enumerate(lines, 1):
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise CodeFileProblem("encoding", number) from None
        yield text


def codes_in(filename: str, lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line number, value) for every code in the file's ``lines`` (text, line endings kept)."""
    check_name(filename)
    if filename.lower().endswith(".txt"):
        for number, line in enumerate(lines, 1):
            if line.strip():
                yield number, line.strip()
        return
    reader = csv.reader(lines)
    column, first = 0, True
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if first:
            first = False
            header = [cell.strip().lower() for cell in row]
            named = next((index for index, cell in enumerate(header) if cell in CODE_HEADERS), None)
            if named is not None:
                column = named
                continue
        if len(row) > column and row[column].strip():
            yield reader.line_num, row[column].strip()
