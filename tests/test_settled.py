"""Files a clean run imported whole are not read again: counted from the checkpoint instead."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson

from importer.emulator import Emulator
from tests.conftest import SAMPLES, cli_import

COUNTS = ("created", "skipped", "failed", "rejected", "skipped_by_kind", "chats")


def archive(tmp_path: Path) -> Path:
    folder = tmp_path / "archive"
    shutil.copytree(SAMPLES, folder, ignore=shutil.ignore_patterns("seed.json", "mapping.csv"))
    return folder


def run(emu: Emulator, tmp_path: Path, *args: str | Path) -> tuple[int, dict[str, Any]]:
    return cli_import(emu, tmp_path, *args, "--mapping", SAMPLES / "mapping.csv")


def counts(report: dict[str, Any]) -> dict[str, Any]:
    return {key: report[key] for key in COUNTS}


def lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def test_a_rerun_counts_unchanged_files_without_reading_them(
    close_server: Emulator, tmp_path: Path
) -> None:
    folder = archive(tmp_path)
    messages = sum(len(lines(p)) for p in folder.glob("*.jsonl"))
    assert run(close_server, tmp_path, folder)[0] == 0
    before = dict(close_server.state.counters)

    status, second = run(close_server, tmp_path, folder)
    status_reread, reread = run(close_server, tmp_path, folder, "--reread")

    assert (status, status_reread) == (0, 0)
    assert dict(close_server.state.counters) == before  # nothing sent by either
    assert second["files_not_reread"] == 2
    assert reread["files_not_reread"] == 0
    assert second["skipped"] == messages
    assert counts(second) == counts(reread)  # the same report as reading them would give


def test_a_changed_file_is_read_again_and_only_its_new_message_sent(
    close_server: Emulator, tmp_path: Path
) -> None:
    folder = archive(tmp_path)
    assert run(close_server, tmp_path, folder)[0] == 0
    chat = folder / "maria-acme.jsonl"
    old = lines(chat)
    new = orjson.loads(old[-1]) | {"id": "appended-1", "timestamp": 1_900_000_000}
    new.pop("attachments", None)
    new.pop("reply_to", None)
    chat.write_text("\n".join([*old, orjson.dumps(new).decode()]) + "\n")

    status, second = run(close_server, tmp_path, folder)

    assert status == 0
    assert second["files_not_reread"] == 1  # the other chat's file
    assert second["created"] == 1
    created = [
        a
        for a in close_server.state.activities.values()
        if a["external_whatsapp_message_id"] == "appended-1"
    ]
    assert len(created) == 1
    assert second["skipped"] == sum(len(lines(p)) for p in folder.glob("*.jsonl")) - 1


def test_a_file_with_a_problem_is_read_again_and_says_it_again(
    close_server: Emulator, tmp_path: Path
) -> None:
    folder = archive(tmp_path)
    chat = folder / "maria-acme.jsonl"
    chat.write_text(chat.read_text() + "{not json\n")
    first_status, first = run(close_server, tmp_path, folder)

    status, second = run(close_server, tmp_path, folder)

    assert (first_status, status) == (1, 1)
    assert second["files_not_reread"] == 1  # the other file, which had none
    assert [p["line"] for p in second["problems"]] == [p["line"] for p in first["problems"]]
    assert second["rejected"] == first["rejected"] == 1


def test_files_settled_under_other_reading_options_are_read_again(
    close_server: Emulator, tmp_path: Path
) -> None:
    folder = archive(tmp_path)
    assert run(close_server, tmp_path, folder, "--until", "2024-03-04")[0] == 0
    first = dict(close_server.state.counters)

    status, second = run(close_server, tmp_path, folder)

    assert status == 0
    assert second["files_not_reread"] == 0  # settled for that window only
    assert second["created"] > 0
    assert dict(close_server.state.counters) != first
    ids = [a["external_whatsapp_message_id"] for a in close_server.state.activities.values()]
    assert len(ids) == len(set(ids)) == sum(len(lines(p)) for p in folder.glob("*.jsonl"))


def test_a_dry_run_counts_settled_files_too(close_server: Emulator, tmp_path: Path) -> None:
    folder = archive(tmp_path)
    assert run(close_server, tmp_path, folder)[0] == 0

    status, dry = run(close_server, tmp_path, folder, "--dry-run")

    assert status == 0
    assert dry["files_not_reread"] == 2
    assert (dry["created"], dry["skipped"]) == (
        0,
        sum(len(lines(p)) for p in folder.glob("*.jsonl")),
    )
