"""Code values in .txt and .csv files, with their lines."""

from __future__ import annotations

import pytest

from shared.code_files import CodeFileProblem, codes_in, decoded


def read(name: str, data: bytes) -> list[tuple[int, str]]:
    return list(codes_in(name, decoded(data.splitlines(keepends=True))))


def test_a_text_file_has_one_code_a_line_and_blank_lines_are_skipped():
    assert read("keys.TXT", b"\xef\xbb\xbf ABC-1 \r\n\r\n\tdef\n") == [(1, "ABC-1"), (3, "def")]


def test_a_csv_file_uses_its_code_column_when_the_header_names_one():
    data = b"\n, \nname,Key,note\nann, K-1 ,x\nbob,,y\ncarl,K-2\n"
    assert read("keys.csv", data) == [(4, "K-1"), (6, "K-2")]


def test_a_csv_file_without_a_code_header_gives_its_first_column():
    assert read("keys.csv", b'K-1,10\n"K-2",20\n') == [(1, "K-1"), (2, "K-2")]


def test_what_cannot_be_read_says_why():
    with pytest.raises(CodeFileProblem) as problem:
        read("keys.txt", "ok\nclé\n".encode("latin-1"))
    assert (problem.value.reason, problem.value.line) == ("encoding", 2)
    with pytest.raises(CodeFileProblem) as problem:
        read("keys.xlsx", b"x")
    assert problem.value.reason == "type"
