"""flask --app wsgi codes generate|import|export: chunks, progress, and reports that say where it stopped."""

from __future__ import annotations

import csv
import io
import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select

import api.cli.codes as cli_codes
from shared.codes import claim_code, generate_codes, import_codes
from shared.errors import CodeSpaceExhausted
from shared.models import Code
from tests.support import ROOT, subprocess_env


def stored(session_factory, **where) -> list[Code]:
    with session_factory() as session:
        query = sql_select(Code).filter_by(**where).order_by(Code.id)
        return list(session.scalars(query))


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


# --- generate -----------------------------------------------------------------------------------


def test_generate_makes_any_amount_in_chunks_and_writes_them(runner, project, session_factory, tmp_path):
    output = tmp_path / "codes.csv"
    result = runner.invoke(
        args=["codes", "generate", "acme", "--amount", "25", "--chunk-size", "10", "--type", "numeric",
              "--batch", "spring", "--allowed-claims", "2", "--output", str(output)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Generated 25 numeric codes in batch 'spring'" in result.stdout
    codes = stored(session_factory, batch="spring")
    assert len(codes) == 25 and {c.allowed_claims for c in codes} == {2}
    rows = csv_rows(output.read_text())
    assert sorted(row["code"] for row in rows) == sorted(c.code for c in codes)


def test_generate_stops_at_a_failed_chunk_and_says_what_stays(runner, project, session_factory, monkeypatch):
    calls = []

    def failing_third(*args, **kwargs):
        calls.append(kwargs["amount"])
        if len(calls) == 3:
            raise CodeSpaceExhausted("Only 7 unused numeric codes are left for this project.")
        return generate_codes(*args, **kwargs)

    monkeypatch.setattr(cli_codes, "generate_codes", failing_third)
    result = runner.invoke(args=["codes", "generate", "acme", "--amount", "50", "--chunk-size", "10"])
    assert result.exit_code == 1
    assert (
        "Stopped: codes 21 to 30 failed, none of them kept: Only 7 unused numeric codes are left for this "
        "project. (code_space_exhausted)." in result.stderr
    )
    assert "20 of 50 codes were generated, and they stay. Run again with --amount 30 to make the rest." in (
        result.stderr
    )
    assert len(stored(session_factory)) == 20


def test_generate_refuses_bad_options_before_making_anything(runner, project, session_factory):
    result = runner.invoke(args=["codes", "generate", "acme", "--amount", "5", "--valid-until", "someday"])
    assert result.exit_code != 0 and "valid_until" in result.output
    result = runner.invoke(args=["codes", "generate", "ghost", "--amount", "5"])
    assert result.exit_code != 0 and "project_not_found" in result.output
    result = runner.invoke(args=["codes", "generate", "acme", "--amount", "5", "--type", "custom"])
    assert result.exit_code == 2
    assert stored(session_factory) == []


# --- import -------------------------------------------------------------------------------------


def test_import_reads_a_csv_column_and_normalizes(runner, project, session_factory, tmp_path):
    path = tmp_path / "keys.csv"
    path.write_text("\ufeffname,Code\nann, KEY-AAA \nbob,key_bbb\n,\n")
    result = runner.invoke(
        args=["codes", "import", "acme", str(path), "--batch", "steam", "--allowed-claims", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "Imported 2 codes into batch 'steam'" in result.stdout
    codes = stored(session_factory)
    assert [(c.code, c.type, c.batch, c.allowed_claims) for c in codes] == [
        ("key-aaa", "custom", "steam", 3),
        ("key_bbb", "custom", "steam", 3),
    ]


def test_import_of_a_text_file_in_chunks_with_skip_existing(runner, project, session_factory, tmp_path):
    with session_factory() as session:
        import_codes(session, project.id, ["c2"])
        session.commit()
    path = tmp_path / "keys.txt"
    # Chunks of two: (c1, C2) (c3, c1) (c4, C4) (c5). The second c1 meets the first chunk's, committed.
    path.write_text("c1\n\nC2\nc3\n c1 \nc4\nC4\nc5\n")
    result = runner.invoke(
        args=["codes", "import", "acme", str(path), "--chunk-size", "2", "--skip-existing"]
    )
    assert result.exit_code == 0, result.output
    assert "Imported 4 codes" in result.stdout
    assert "Skipped 3 (2 existed already, 1 repeated a line above): c2, c1, c4" in result.stdout
    assert sorted(c.code for c in stored(session_factory)) == ["c1", "c2", "c3", "c4", "c5"]


def test_import_stops_at_the_chunk_with_an_existing_code_naming_its_line(
    runner, project, session_factory, tmp_path
):
    path = tmp_path / "keys.txt"
    path.write_text("a1\na2\nb1\nA1\nc1\n")  # A1 repeats line 1 across chunks: the database says so
    result = runner.invoke(args=["codes", "import", "acme", str(path), "--chunk-size", "2"])
    assert result.exit_code == 1
    assert "Stopped: the chunk from line 3 on: 1 code refused: 'A1' (line 4) exists already." in result.stderr
    assert "2 codes before line 3 were imported, and they stay." in result.stderr
    assert "Run again with --skip-existing" in result.stderr
    assert sorted(c.code for c in stored(session_factory)) == ["a1", "a2"]
    # As advised: the rest goes in, the ones in already are skipped.
    again = runner.invoke(args=["codes", "import", "acme", str(path), "--chunk-size", "2", "--skip-existing"])
    assert again.exit_code == 0 and "Imported 2 codes" in again.stdout
    assert sorted(c.code for c in stored(session_factory)) == ["a1", "a2", "b1", "c1"]


def test_a_collision_within_a_chunk_is_named_with_both_lines(runner, project, session_factory, tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("ABC\nother\n abc \n")
    result = runner.invoke(args=["codes", "import", "acme", str(path)])
    assert result.exit_code == 1
    assert "'abc' (line 3) repeats line 1" in result.stderr and "Nothing was imported." in result.stderr
    assert stored(session_factory) == []


def test_a_file_with_bad_values_imports_nothing_and_names_each_line(
    runner, project, session_factory, tmp_path
):
    path = tmp_path / "keys.txt"
    path.write_text("fine\nhas space\nfine-2\n" + "x" * 65 + "\n")
    result = runner.invoke(args=["codes", "import", "acme", str(path), "--chunk-size", "1"])
    assert result.exit_code == 1
    assert "line 2: 'has space': Must be 1 to 64 letters" in result.stderr
    assert "line 4: 'xxxx" in result.stderr
    assert "2 lines hold values that are not codes. Nothing was imported." in result.stderr
    assert stored(session_factory) == []


def test_import_refuses_what_it_cannot_read(runner, project, tmp_path):
    latin = tmp_path / "keys.txt"
    latin.write_bytes("ok\nclé\n".encode("latin-1"))
    result = runner.invoke(args=["codes", "import", "acme", str(latin)])
    assert result.exit_code == 1 and "not UTF-8 text (line 2)" in result.output
    other = tmp_path / "keys.json"
    other.write_text("[]")
    result = runner.invoke(args=["codes", "import", "acme", str(other)])
    assert result.exit_code == 2 and ".txt or a .csv" in result.output
    empty = tmp_path / "empty.csv"
    empty.write_text("code\n")
    result = runner.invoke(args=["codes", "import", "acme", str(empty)])
    assert result.exit_code == 1 and "holds no codes" in result.output
    result = runner.invoke(
        args=["codes", "import", "acme", str(empty), "--batch", "!", "--allowed-claims", "0"]
    )
    assert result.exit_code == 2  # click refuses --allowed-claims 0 itself
    result = runner.invoke(args=["codes", "import", "acme", str(empty), "--batch", "!"])
    assert result.exit_code == 1 and "batch" in result.output


# --- export -------------------------------------------------------------------------------------


def test_export_writes_codes_or_claims_as_the_api_does(runner, project, session_factory, tmp_path):
    with session_factory() as session:
        [code] = generate_codes(session, project.id, amount=1, allowed_claims=2, batch="b")
        generate_codes(session, project.id, amount=2)
        session.commit()
        claim_code(session, project.id, code.code, email="ada@example.com")
        session.commit()
    result = runner.invoke(args=["codes", "export", "acme", "--batch", "b"])
    assert result.exit_code == 0, result.output
    assert [row["code"] for row in csv_rows(result.stdout)] == [code.code]
    path = tmp_path / "all.csv"
    result = runner.invoke(args=["codes", "export", "acme", "-o", str(path)])
    assert "Wrote 3 codes" in result.stderr and len(csv_rows(path.read_text())) == 3
    result = runner.invoke(args=["codes", "export", "acme", "--claims", "--code", code.code.upper()])
    assert [(r["code"], r["email"]) for r in csv_rows(result.stdout)] == [(code.code, "ada@example.com")]
    result = runner.invoke(args=["codes", "export", "acme", "--claims", "--batch", "b"])
    assert len(csv_rows(result.stdout)) == 1
    assert runner.invoke(args=["codes", "export", "acme", "--code", "x"]).exit_code == 2
    result = runner.invoke(args=["codes", "export", "acme", "--claims", "--code", "missing"])
    assert result.exit_code == 1 and "code_not_found" in result.output


# --- the progress bar on a terminal ------------------------------------------------------------


def run_in_terminal(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run ``flask --app wsgi ARGS`` with a pseudo-terminal as stdout and stderr, as a person would."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env={**env, "COLUMNS": "100", "TERM": "xterm"},
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:  # the terminal closed: the process is gone
                    break
                if not data:
                    break
                output += data
            elif process.poll() is not None:
                break
        returncode = process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    return returncode, output.decode(errors="replace")


@pytest.mark.slow
def test_progress_bars_show_on_a_terminal(database, engine, project, tmp_path):
    env = subprocess_env(DATABASE_URL=database.url, INSTANCE_DIR=str(tmp_path))
    code, shown = run_in_terminal(["codes", "generate", "acme", "--amount", "30", "--chunk-size", "10"], env)
    assert code == 0, shown
    assert re.search(r"Generating\s+\[#+\]\s+30/30\s+100%", shown), shown
    assert "Generated 30 creative codes" in shown
    keys = tmp_path / "keys.txt"
    keys.write_text("".join(f"key-{n}\n" for n in range(40)))
    code, shown = run_in_terminal(["codes", "import", "acme", str(keys), "--chunk-size", "15"], env)
    assert code == 0, shown
    assert re.search(r"Checking\s+\[#+\]", shown) and re.search(
        r"Importing\s+\[#+\]\s+40/40\s+100%", shown
    ), shown
    assert "Imported 40 codes" in shown
    with engine.connect() as connection:
        assert connection.execute(sql_select(func.count()).select_from(Code)).scalar_one() == 70
