"""The id index past what it holds in memory: on disk, with the same answers."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from importer import message_ids
from importer.cli import main
from importer.emulator import Emulator
from importer.message_ids import IdIndex
from tests.conftest import LOCAL_PHONE, cli_import, fill
from tests.test_checkpoint_faults import SEED_CONTACT, SEED_LEAD


def scratch_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".wa-close-*"))


def test_ids_past_the_hold_go_to_disk_and_read_back_the_same(tmp_path: Path) -> None:
    index = IdIndex(tmp_path, hold=7)
    for n in range(500):
        index.add(f"id-{n}", n)
    for n in range(0, 500, 50):  # a changed value for an id already on disk wins
        index.add(f"id-{n}", -1 - n)

    assert scratch_files(tmp_path)  # most of them are in the file, not the dict
    assert [index.get(f"id-{n}") for n in range(500)] == [
        -1 - n if n % 50 == 0 else n for n in range(500)
    ]
    assert not any(f"id-{n}" in index for n in range(500, 600))
    assert len(index) == 500

    index.close()
    assert scratch_files(tmp_path) == []
    with pytest.raises(sqlite3.ProgrammingError):
        index.get("id-1")  # a reader left running after the close is told, not answered wrong


def _archive(path: Path) -> Path:
    """Three chats; repeats, a clash and replies to parents read long before, read after, and
    never read: every kind of answer the index gives, across its disk boundary."""
    rows: list[dict[str, Any]] = []
    for n in range(60):
        row: dict[str, Any] = {
            "id": f"m{n}",
            "timestamp": 1_700_000_000 + n * 60,
            "direction": "incoming" if n % 2 else "outgoing",
            "remote_phone": f"+1 650-555-01{n % 3:02d}",
            "text": f"message {n}",
        }
        if n % 7 == 3:
            row["reply_to"] = f"m{n - 30 if n > 30 else n + 20}"  # read long before, or after
        rows.append(row)
    rows[41]["reply_to"] = "never-read"
    rows += [rows[5], rows[40], {**rows[12], "text": "not message 12"}]  # two repeats, a clash
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    return path


def _inspect(source: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["inspect", str(source), "--local-phone", LOCAL_PHONE, "--json"]) == 1
    document: dict[str, Any] = orjson.loads(capsys.readouterr().out)
    return document


def test_inspect_gives_the_same_answers_with_most_ids_on_disk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _archive(tmp_path / "chats.jsonl")
    in_memory = _inspect(source, capsys)
    monkeypatch.setattr(message_ids, "HOLD", 3)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))

    on_disk = _inspect(source, capsys)

    assert on_disk == in_memory
    assert on_disk["skipped"] == {"duplicate": 2}
    assert [p["reason"] for p in on_disk["problems"]] == ["id already used by a different message"]
    assert sum(c["messages"] for c in on_disk["chats"]) == 60
    assert sum(c["replies"] for c in on_disk["chats"]) == 10
    assert sum(c["replies_unresolved"] for c in on_disk["chats"]) == 1  # "never-read"
    assert scratch_files(tmp_path) == []  # the index's file went with it


def test_a_run_with_most_ids_on_disk_imports_each_once_with_its_reply_links(
    close_server: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(message_ids, "HOLD", 3)
    source = _archive(tmp_path / "chats.jsonl")

    status, report = cli_import(
        close_server, tmp_path, source, "--lead-id", SEED_LEAD, "--contact-id", SEED_CONTACT
    )

    stored = {a["external_whatsapp_message_id"]: a for a in close_server.state.activities.values()}
    assert len(close_server.state.activities) == len(stored) == 60
    rows = [orjson.loads(line) for line in source.read_bytes().splitlines()[:60]]
    for row in rows:
        parent = stored.get(row.get("reply_to", ""))
        if parent is not None:
            assert stored[row["id"]]["response_to_id"] == parent["id"]
    assert status == 1  # the clash is reported
    assert report["skipped_by_kind"] == {"duplicate": 2}
    reasons = [p["reason"] for p in report["problems"]]
    assert "id already used by a different message" in reasons
    assert [p.name for p in scratch_files(tmp_path)] == []


def test_a_run_removes_the_scratch_files_a_killed_run_left_beside_its_checkpoint(
    close_server: Emulator, tmp_path: Path
) -> None:
    # What SIGKILL leaves of a run past 200,000 ids, or with replies waiting on disk.
    left = [tmp_path / ".wa-close-ids-k1ll3d.sqlite", tmp_path / ".wa-close-waiting-x.sqlite"]
    for path in left:
        path.write_bytes(b"\0" * 4096)
    elsewhere = tmp_path / "not-scratch.sqlite"
    elsewhere.write_bytes(b"kept")
    source = _archive(tmp_path / "chats.jsonl")

    status, report = cli_import(
        close_server, tmp_path, source, "--lead-id", SEED_LEAD, "--contact-id", SEED_CONTACT
    )

    assert (status, report["created"]) == (1, 60)  # 1: the archive's clash
    assert scratch_files(tmp_path) == []
    assert elsewhere.read_bytes() == b"kept"


def _big_archive(path: Path, count: int) -> Path:
    rows = [
        {
            "id": f"wamid.full-{n:05d}",
            "timestamp": 1_700_000_000 + n,
            "direction": "incoming",
            "remote_phone": "+16505550123",
            "text": f"message {n}",
        }
        for n in range(count)
    ]
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    return path


def test_inspect_on_a_full_disk_is_one_line_and_exit_1(
    tmp_path: Path,
    small_disk: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(message_ids, "HOLD", 50)
    monkeypatch.setattr("tempfile.tempdir", str(small_disk))
    source = _big_archive(tmp_path / "chats.jsonl", 4000)
    fill(small_disk, leave_kib=16)

    status = main(["inspect", str(source), "--local-phone", LOCAL_PHONE])

    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert len(err) == 1
    assert err[0].startswith(f"wa-close-import: error: cannot write a scratch file in {small_disk}")
    assert "full" in err[0]
    assert scratch_files(small_disk) == []


def test_a_dry_run_whose_scratch_file_fills_the_disk_says_so_in_its_report(
    close_server: Emulator,
    tmp_path: Path,
    small_disk: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(message_ids, "HOLD", 50)
    source = _big_archive(tmp_path / "chats.jsonl", 4000)
    fill(small_disk, leave_kib=16)

    status, report = cli_import(
        close_server, tmp_path, source, "--lead-id", SEED_LEAD, "--contact-id", SEED_CONTACT,
        "--dry-run", checkpoint="disk/run.ckpt",
    )  # fmt: skip

    assert status == 1
    assert report["stopped_because"].startswith(f"cannot write a scratch file in {small_disk}")
    assert close_server.state.activities == {}


def test_a_run_whose_index_cannot_reach_disk_stops_with_its_report_and_a_rerun_finishes(
    close_server: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The folder fills between the checkpoint's commits and the index's first flush: the two
    # share a disk, so a real full one cannot pick which fails first (the dry run's test can).
    def no_space(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(message_ids, "HOLD", 50)
    monkeypatch.setattr(message_ids, "open_scratch", no_space)
    source = _big_archive(tmp_path / "chats.jsonl", 3000)
    ids = ("--lead-id", SEED_LEAD, "--contact-id", SEED_CONTACT)

    status, report = cli_import(close_server, tmp_path, source, *ids)

    assert status == 1
    assert report["stopped_because"] == (
        f"cannot write a scratch file in {tmp_path}: [Errno 28] No space left on device; "
        "free some space there, then rerun to resume"
    )
    sent = len(close_server.state.activities)
    assert sent == report["created"] < 3000
    monkeypatch.undo()
    status, report = cli_import(close_server, tmp_path, source, *ids)
    assert (status, report["created"]) == (0, 3000 - sent)
    stored = [a["external_whatsapp_message_id"] for a in close_server.state.activities.values()]
    assert sorted(stored) == [f"wamid.full-{n:05d}" for n in range(3000)]


def test_inspect_removes_what_a_killed_inspect_left_in_the_temporary_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temporary))
    (temporary / ".wa-close-ids-k1ll3d.sqlite").write_bytes(b"\0" * 4096)
    (temporary / "someone-elses.sqlite").write_bytes(b"kept")

    _inspect(_archive(tmp_path / "chats.jsonl"), capsys)

    assert scratch_files(temporary) == []
    assert (temporary / "someone-elses.sqlite").read_bytes() == b"kept"
