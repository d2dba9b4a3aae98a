"""What people read: the same problem for many messages said once, names escaped."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from importer.cli import main
from importer.model import Problem
from importer.report import Report, problem_lines
from tests.conftest import LOCAL_PHONE


def chat(folder: Path, messages: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "WhatsApp Chat with Jake Morrison.txt"
    lines = [
        f"12/07/2024, 10:{n:02d} - {'Jake Morrison' if n % 2 else 'Sunset Auto'}: message {n}\n"
        for n in range(messages)
    ]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_inspect_says_a_problem_of_every_message_once_and_json_keeps_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = chat(tmp_path / "exports", 20)

    assert main(["inspect", str(source), "--remote-phone", "+16505550142"]) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("problem:")]
    assert problems == [
        f"problem: {source}: local phone unknown: pass --local-phone or give `local_phone` "
        "(20 messages, lines 1, 2, 3, 4, 5, ...)"
    ]

    assert main(["inspect", str(source), "--remote-phone", "+16505550142", "--json"]) == 1
    document = orjson.loads(capsys.readouterr().out)
    assert [p["line"] for p in document["problems"]] == list(range(1, 21))


def test_run_output_groups_problems_the_same_way_and_the_report_keeps_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = chat(tmp_path / "exports", 30)
    report = tmp_path / "report.json"

    args = ["--local-phone", LOCAL_PHONE, "--dry-run", "--report", str(report), "--no-progress"]
    status = main(["run", str(source), *args])

    assert status == 1
    err = capsys.readouterr().err
    assert err.count("problem:") == 1
    assert "remote phone unknown" in err and "(30 messages, lines 1, 2, 3, 4, 5, ...)" in err
    assert len(orjson.loads(report.read_bytes())["problems"]) == 30


def test_a_problem_said_once_keeps_its_line_and_id() -> None:
    lines = problem_lines([Problem("a.txt", 7, "odd", "wa-txt:1"), Problem("a.txt", None, "x")])
    assert lines == ["problem: a.txt:7 [wa-txt:1]: odd", "problem: a.txt: x"]


def test_the_output_counts_the_problems_it_leaves_out() -> None:
    report = Report(problems=[Problem(f"f{n}.txt", 1, "bad") for n in range(25)])
    stream = io.StringIO()
    report.print(stream, max_problems=20)
    said = stream.getvalue().splitlines()
    assert said[19] == "problem: f19.txt:1: bad"
    assert said[20] == "... and 5 more problems (see --report)"


def test_names_from_an_archive_cannot_reach_the_terminal_as_escape_sequences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    hostile = folder / "WhatsApp Chat with \x1b]0;owned\x07\x1b[2J.txt"
    hostile.write_text("12/07/2024, 10:00 - Jake: hi \u202eevil\n", encoding="utf-8")

    main(["inspect", str(folder), "--local-phone", LOCAL_PHONE])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;owned\\x07\\x1b[2J" in out


def test_a_run_of_text_exports_without_local_phone_is_refused_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = chat(tmp_path / "exports", 20)

    status = main(["run", str(tmp_path / "exports"), "--dry-run", "--no-progress"])

    assert status == 2
    assert capsys.readouterr().err == (
        f"wa-close-import: error: {source}: a text export does not show the account's own "
        "number: pass --local-phone\n"
    )
