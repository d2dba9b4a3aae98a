"""Doing the bad thing to the checkpoint for real: full disk, damage, a symlink, a foreign file."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import sqlite3
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from importer.checkpoint import Checkpoint, load_state
from importer.cli import main
from importer.emulator import Emulator
from importer.errors import CheckpointError
from tests.conftest import SAMPLES, cli_import, fill, free_space
from tests.test_pipeline import write_chat

PHONE = "+16505550123"


def in_close(emu: Emulator) -> dict[str, list[dict[str, Any]]]:
    copies: dict[str, list[dict[str, Any]]] = {}
    for activity in emu.state.activities.values():
        copies.setdefault(activity["external_whatsapp_message_id"], []).append(activity)
    return copies


def assert_exactly_once(emu: Emulator, rows: list[dict[str, Any]]) -> None:
    copies = in_close(emu)
    assert sorted(copies) == sorted(r["id"] for r in rows)
    assert [k for k, v in copies.items() if len(v) > 1] == []
    for row in rows:
        if "reply_to" in row:
            assert copies[row["id"]][0]["response_to_id"] == copies[row["reply_to"]][0]["id"]


def run(emu: Emulator, tmp_path: Path, checkpoint: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    source = tmp_path / "chat.jsonl"
    return cli_import(
        emu, tmp_path, source, "--lead-id", SEED_LEAD, "--contact-id", SEED_CONTACT, *extra,
        checkpoint=str(checkpoint),
    )  # fmt: skip


SEED_LEAD = "lead_acmeSampleLead000000000000000000000000001"
SEED_CONTACT = "cont_mariaSampleContact0000000000000000000001"


def test_a_full_disk_ends_the_run_with_one_line_exit_1_and_a_rerun_finishes_exactly_once(
    close_server: Emulator,
    tmp_path: Path,
    small_disk: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = write_chat(tmp_path / "chat.jsonl", 1500)
    checkpoint = small_disk / "run.ckpt"
    fill(small_disk, leave_kib=300)

    status, report = run(close_server, tmp_path, checkpoint, "--concurrency", "4")

    err = capsys.readouterr().err
    assert status == 1
    assert report["stopped_because"] is not None  # the report was written, beside the disk
    assert "cannot write checkpoint" in report["stopped_because"]
    assert [line for line in err.splitlines() if "cannot write checkpoint" in line] == [
        report["stopped_because"]
    ]
    created = in_close(close_server)
    assert 0 < len(created) < len(rows)
    # Nothing went out that the checkpoint cannot account for: each create's intent is in it.
    state = load_state(checkpoint)
    assert [
        wa_id for wa_id in created if wa_id not in state.done and wa_id not in state.pending
    ] == []
    state.store.close()  # as `status` does when it exits: a reader holds the file while open

    free_space(small_disk)
    status, report = run(close_server, tmp_path, checkpoint, "--concurrency", "4")

    assert status == 0
    assert report["created"] == len(rows) - len(created)
    assert_exactly_once(close_server, rows)


def test_a_full_disk_before_the_first_commit_sends_nothing(
    close_server: Emulator, tmp_path: Path, small_disk: Path
) -> None:
    write_chat(tmp_path / "chat.jsonl", 50)
    fill(small_disk, leave_kib=0)

    status, _ = run(close_server, tmp_path, small_disk / "run.ckpt")

    assert status == 2  # refused before anything was sent
    assert close_server.state.activities == {}


@pytest.mark.parametrize("kind", ["zip", "jsonl source", "another app's SQLite"])
def test_a_file_that_is_not_a_checkpoint_is_refused_and_left_byte_for_byte(
    close_server: Emulator, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_chat(tmp_path / "chat.jsonl", 5)
    target = tmp_path / "not-a-checkpoint"
    if kind == "zip":
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("chat.txt", "[04.03.24, 10:00:00] Maria: Hallo\n")
    elif kind == "jsonl source":
        shutil.copy(tmp_path / "chat.jsonl", target)
    else:
        with sqlite3.connect(target) as db:
            db.execute("CREATE TABLE notes (text TEXT)")
    before = target.read_bytes()

    status, _ = run(close_server, tmp_path, target)
    assert main(["status", "--checkpoint", str(target)]) == 2

    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert all("is not a checkpoint" in line and "untouched" in line for line in err)
    assert target.read_bytes() == before
    assert close_server.state.activities == {}


def test_a_damaged_line_in_an_old_journal_is_refused_naming_it_and_the_way_out_works(
    close_server: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = write_chat(tmp_path / "chat.jsonl", 40)
    legacy = tmp_path / "legacy.ckpt"
    # A first import by release 0.1 stored its journal; one byte flipped since, in line 12.
    assert run(close_server, tmp_path, legacy)[0] == 0
    lines = [orjson.dumps({"op": "format", "format": "wa-close-checkpoint/1"})]
    for activity in close_server.state.activities.values():
        wa_id = activity["external_whatsapp_message_id"]
        lines.append(orjson.dumps({"op": "intent", "id": wa_id, "chat": PHONE}))
        lines.append(orjson.dumps({"op": "done", "id": wa_id, "close": activity["id"]}))
    lines[11] = lines[11].replace(b'"op"', b'"op\x01')[:-3]
    legacy.unlink()
    legacy.write_bytes(b"".join(line + b"\n" for line in lines))
    before = legacy.read_bytes()
    creates = close_server.state.counters["creates"]
    capsys.readouterr()

    status, _ = run(close_server, tmp_path, legacy)

    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "damaged (line 12 " in err[0]
    assert f"mv {legacy} {legacy}.damaged" in err[0]
    assert legacy.read_bytes() == before
    assert close_server.state.counters["creates"] == creates

    legacy.rename(tmp_path / "legacy.ckpt.damaged")
    assert run(close_server, tmp_path, legacy)[0] == 0
    assert_exactly_once(close_server, rows)


def test_a_damaged_sqlite_checkpoint_is_refused_naming_the_way_out(
    close_server: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_chat(tmp_path / "chat.jsonl", 300)
    checkpoint = tmp_path / "run.ckpt"
    assert run(close_server, tmp_path, checkpoint)[0] == 0
    data = bytearray(checkpoint.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data), page):  # every page past the schema's
        data[offset : offset + 16] = b"\xff" * 16
    checkpoint.write_bytes(bytes(data))
    capsys.readouterr()
    creates = close_server.state.counters["creates"]

    assert run(close_server, tmp_path, checkpoint)[0] == 2
    assert main(["status", "--checkpoint", str(checkpoint)]) == 2

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert all("is damaged" in line and ".damaged" in line for line in err)
    assert checkpoint.read_bytes() == bytes(data)
    assert close_server.state.counters["creates"] == creates


def test_a_symlink_to_a_checkpoint_in_use_is_refused(
    close_server: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_chat(tmp_path / "chat.jsonl", 5)
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "run.ckpt"
    alias = tmp_path / "alias.ckpt"
    alias.symlink_to(real)
    lock = os.open(tmp_path / "real" / "run.ckpt.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)  # as a run importing into real.ckpt holds it
    os.write(lock, b"4242")
    try:
        assert run(close_server, tmp_path, alias)[0] == 2
    finally:
        os.close(lock)
    assert "pid 4242" in capsys.readouterr().err
    assert close_server.state.activities == {}
    assert run(close_server, tmp_path, alias)[0] == 0


def test_status_of_the_samples_checkpoint_counts_per_chat(
    close_server: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report = cli_import(close_server, tmp_path, SAMPLES)
    assert status == 0
    capsys.readouterr()

    assert main(["status", "--checkpoint", str(tmp_path / "run.ckpt"), "--json"]) == 0

    document = orjson.loads(capsys.readouterr().out)
    assert document["imported"] == report["created"]
    assert sum(chat["imported"] for chat in document["chats"]) == report["created"]
    assert len(document["chats"]) == 2


async def test_every_waiter_fails_when_a_commit_cannot_be_written_and_none_hangs(
    small_disk: Path,
) -> None:
    checkpoint = Checkpoint(small_disk / "c.ckpt")
    await checkpoint.open()
    fill(small_disk, leave_kib=0)
    big = "x" * 4000  # a few pages per commit: the WAL must grow

    async def intent(n: int) -> BaseException | None:
        try:
            await checkpoint.write_ahead({"op": "intent", "id": f"{n}{big}", "chat": "+1"})
        except CheckpointError as exc:
            return exc
        return None

    outcomes = await asyncio.wait_for(asyncio.gather(*(intent(n) for n in range(50))), 10)
    later = await asyncio.wait_for(intent(99), 1)

    assert all(isinstance(o, CheckpointError) for o in outcomes)
    assert isinstance(later, CheckpointError)
    assert "disk is full" in str(later)
    await checkpoint.close()  # the run was told: closing does not raise it again
    assert load_state(small_disk / "c.ckpt").pending == {}


async def test_a_result_that_cannot_be_written_is_raised_at_close(small_disk: Path) -> None:
    checkpoint = Checkpoint(small_disk / "c.ckpt")
    await checkpoint.open()
    fill(small_disk, leave_kib=0)
    checkpoint.record(*({"op": "done", "id": f"{n}{'x' * 4000}", "close": "a"} for n in range(20)))

    with pytest.raises(CheckpointError, match="cannot write checkpoint"):
        await asyncio.wait_for(checkpoint.close(), 10)


def test_dry_run_reads_an_old_journal_held_by_a_run_without_its_lock_or_a_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = write_chat(tmp_path / "chat.jsonl", 10)
    legacy = tmp_path / "run.ckpt"
    done = [{"op": "done", "id": r["id"], "close": f"acti_{n}"} for n, r in enumerate(rows[:4])]
    legacy.write_bytes(
        b"".join(
            orjson.dumps(r) + b"\n"
            for r in [{"op": "format", "format": "wa-close-checkpoint/1"}, *done]
        )
    )
    before = legacy.read_bytes()
    lock = os.open(tmp_path / "run.ckpt.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)  # a run holds it
    try:
        status = main(
            ["run", str(tmp_path / "chat.jsonl"), "--dry-run", "--checkpoint", str(legacy),
             "--local-phone", "+14155550100", "--lead-id", SEED_LEAD, "--contact-id", SEED_CONTACT,
             "--report", str(tmp_path / "report.json"), "--no-progress"]
        )  # fmt: skip
    finally:
        os.close(lock)

    assert status == 0
    report = orjson.loads((tmp_path / "report.json").read_bytes())
    assert (report["created"], report["skipped"]) == (6, 4)
    assert legacy.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "chat.jsonl",
        "report.json",
        "run.ckpt",
        "run.ckpt.lock",
    ]


def test_the_journal_stays_small_while_a_long_run_sends(
    close_server: Emulator, tmp_path: Path
) -> None:
    # The WAL is folded into the file every ~4 MB, unless a reader's open transaction pins it:
    # then it grew by ~14 KB a message, 140 GB over a 10M migration.
    write_chat(tmp_path / "chat.jsonl", 3000)
    wal = tmp_path / "run.ckpt-wal"
    largest = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal largest
        while not done.is_set():
            with contextlib.suppress(FileNotFoundError):
                largest = max(largest, wal.stat().st_size)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        status, report = run(close_server, tmp_path, tmp_path / "run.ckpt", "--concurrency", "8")
    finally:
        done.set()
        watcher.join()

    assert (status, report["created"]) == (0, 3000)
    assert 0 < largest < 8 * 2**20
