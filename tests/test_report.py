"""What people read: the same problem for many messages said once, names escaped."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from importer.cli import main
from importer.emulator import EmulatorConfig
from importer.model import Problem
from importer.report import Report, problem_lines
from tests.conftest import LOCAL_PHONE, ThreadedEmulator, cli_import


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


MARIA, JONAS, NOBODY = "+16505550123", "+493055550199", "+12025550142"


def archive(folder: Path) -> Path:
    """Two known chats and one Close does not know; one file sent twice, one once."""
    folder.mkdir()
    (folder / "price.pdf").write_bytes(b"%PDF " + b"p" * 2000)
    (folder / "shop.png").write_bytes(b"\x89PNG" + b"s" * 500)
    rows = []
    for n in range(12):
        phone = (MARIA, JONAS, NOBODY)[n % 3]
        row: dict[str, Any] = {"id": f"sum-{n}", "timestamp": f"2024-05-01T10:{n:02d}:00+00:00"}
        row |= {"direction": "incoming", "from": phone, "text": f"message {n}"}
        if n in (0, 1):
            row["attachments"] = [{"path": "price.pdf"}]
        if n == 4:
            row["attachments"] = [{"path": "shop.png"}]
        rows.append(orjson.dumps(row).decode())
    path = folder / "chats.jsonl"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_summary_and_report_count_what_close_holds(
    tmp_path: Path, seed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    source = archive(tmp_path / "in")
    config = EmulatorConfig(data=seed, seed=4, fail_rate=0.15, group_rate_limits={"search": 1})
    with ThreadedEmulator(config) as emu:
        status, report = cli_import(emu, tmp_path, source)
        counters = emu.state.counters.copy()
        activities = list(emu.state.activities.values())
        _, again = cli_import(emu, tmp_path, source)

    assert again["created"] == again["attachments_uploaded"] == 0
    assert {c["chat"]: c["skipped"] for c in again["chats"]} == {MARIA: 4, JONAS: 4, NOBODY: 0}

    assert status == 1  # NOBODY's messages have no lead
    created = Counter(a["remote_phone"] for a in activities)
    assert report["created"] == len(activities) == 8
    chats = {c["chat"]: c for c in report["chats"]}
    assert {chat: c["created"] for chat, c in chats.items() if c["created"]} == created
    assert chats[NOBODY]["failed"] == report["failed"] == 4
    assert report["attachments_uploaded"] == counters["uploads"] == 2
    assert report["attachment_bytes_uploaded"] == 2005 + 504
    assert (report["attachments_reused"], report["attachment_bytes_reused"]) == (1, 2005)
    sent = sum(n for key, n in counters.items() if " " in key)  # "METHOD route" keys
    assert report["requests"] == sent
    assert report["rate_limited"] == counters["rate_limited"] > 0
    assert report["retries"] == counters["faults"] > 0
    assert report["messages_per_s"] == pytest.approx(12 / report["elapsed_s"], rel=0.01, abs=0.06)

    err = capsys.readouterr().err
    summary = next(line for line in err.splitlines() if line.startswith("created "))
    assert "created 8, already imported 0, failed 4" in summary
    assert "attachments uploaded 2 (2.5 kB), reused 1 (2.0 kB)" in summary
    assert f"requests {sent} (429s {counters['rate_limited']}, retries {counters['faults']})" in (
        summary
    )
    assert f"  {NOBODY}: created 0, already imported 0, failed 4" in err.splitlines()


def test_counting_a_batch_by_chat_says_what_counting_each_message_says() -> None:
    chats = ["+1", "+2", "+1", "+3", "+1"]
    one_by_one, by_chat = Report(), Report()
    one_by_one.count("created", "+2")
    by_chat.count("created", "+2")

    for c in chats:
        one_by_one.count("skipped", c)
    by_chat.count_by_chat("skipped", Counter(chats))

    assert by_chat.as_json() == one_by_one.as_json()
    assert (by_chat.skipped, by_chat.chats["+1"].skipped, by_chat.chats["+2"].created) == (5, 3, 1)
