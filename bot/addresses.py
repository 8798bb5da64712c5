"""Email addresses as managers give them: typed into an option, or in a .txt or .csv file.

Only the splitting happens here; the domain validates every address (and says which are bad).
"""

from __future__ import annotations

import csv
import io
import re

_SEPARATORS = re.compile(r"[\s,;]+")
# Characters around an address in pasted lists: quotes, angle brackets.
_WRAPPING = "\"'<>"
SUFFIXES = (".txt", ".csv")
# 1000 addresses (the most one send takes) of 320 characters fit well within this.
MAX_FILE_BYTES = 512 * 1024
EMAIL_HEADERS = {"email", "e-mail", "mail", "email address", "address", "correo", "correo electrónico"}


class AddressFileProblem(Exception):
    """Why a file of addresses can't be read: ``reason`` is a catalog key suffix."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def split_addresses(text: str) -> list[str]:
    """Addresses separated by commas, semicolons, spaces or lines."""
    parts = (part.strip(_WRAPPING) for part in _SEPARATORS.split(text))
    return [part for part in parts if part]


def addresses_in_file(filename: str, data: bytes) -> list[str]:
    """The addresses in a ``.txt`` (any separators) or ``.csv`` (the ``email`` column if the first
    row names one, else every cell)."""
    name = filename.lower()
    if not name.endswith(SUFFIXES):
        raise AddressFileProblem("type")
    if len(data) > MAX_FILE_BYTES:
        raise AddressFileProblem("size")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AddressFileProblem("encoding") from None
    if name.endswith(".txt"):
        return split_addresses(text)
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((index for index, cell in enumerate(header) if cell in EMAIL_HEADERS), None)
    if column is not None:
        cells = [row[column] for row in rows[1:] if len(row) > column]
    else:
        cells = [cell for row in rows for cell in row]
    return [address for cell in cells for address in split_addresses(cell)]
