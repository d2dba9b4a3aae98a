"""End to end through the CLI: what a user finds in Close, in the report and in the exit status."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from importer.cli import main
from importer.emulator import Emulator, EmulatorConfig
from tests.conftest import API_KEY, LOCAL_PHONE, SAMPLES, ThreadedEmulator, cli_import


def sample_messages() -> list[dict[str, Any]]:
    rows = []
    for path in sorted(SAMPLES.glob("*.jsonl")):
        rows += [orjson.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def run(emu: Emulator, tmp_path: Path, *sources: Path | str, extra: tuple[str, ...] = ()) -> int:
    mapping = ("--mapping", SAMPLES / "mapping.csv")
    return cli_import(emu, tmp_path, *sources, *mapping, *extra)[0]


def by_external_id(emu: Emulator) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for activity in emu.state.activities.values():
        found.setdefault(activity["external_whatsapp_message_id"], []).append(activity)
    return found


def report(tmp_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((tmp_path / "report.json").read_bytes())
    return data


def test_samples_round_trip_once_with_fields_replies_and_attachments(
    close_server: Emulator, tmp_path: Path
) -> None:
    assert run(close_server, tmp_path, SAMPLES) == 0

    expected = sample_messages()
    stored = by_external_id(close_server)
    assert sorted(stored) == sorted(m["id"] for m in expected)
    assert all(len(copies) == 1 for copies in stored.values())
    seed_leads = {
        lead["name"]: lead for lead in orjson.loads((SAMPLES / "seed.json").read_bytes())["leads"]
    }
    maria = seed_leads["Acme Corp"]
    jonas = seed_leads["Bäckerei Schmidt"]  # found by phone lookup: not in mapping.csv
    for message in expected:
        activity = stored[message["id"]][0]
        assert activity["message_markdown"] == message["text"]
        assert activity["local_phone"] == LOCAL_PHONE
        lead = maria if activity["remote_phone"] == "+16505550123" else jonas
        assert activity["lead_id"] == lead["id"]
        assert activity["contact_id"] == lead["contacts"][0]["id"]
        parent = message.get("reply_to")
        if parent:
            assert activity["response_to_id"] == stored[parent][0]["id"]
        else:
            assert activity["response_to_id"] is None
        sent = [SAMPLES / a["path"] for a in message.get("attachments", [])]
        got = [close_server.state.file_bytes(a["url"]) for a in activity["attachments"]]
        assert got == [path.read_bytes() for path in sent]
    assert stored["3EB0A1B2C3D4E5F60001"][0]["direction"] == "incoming"
    assert stored["3EB0A1B2C3D4E5F60002"][0]["direction"] == "outgoing"
    summary = report(tmp_path)
    assert (summary["created"], summary["failed"], summary["rejected"]) == (len(expected), 0, 0)
    assert summary["attachments_uploaded"] == 3
    assert close_server.state.requests("POST", "data_search") == 1  # one lookup for Jonas


def test_rerun_with_the_same_checkpoint_sends_nothing(
    close_server: Emulator, tmp_path: Path
) -> None:
    assert run(close_server, tmp_path, SAMPLES) == 0
    before = dict(close_server.state.counters)

    assert run(close_server, tmp_path, SAMPLES) == 0

    assert dict(close_server.state.counters) == before
    summary = report(tmp_path)
    assert summary["created"] == 0
    assert summary["skipped"] == len(sample_messages())
    assert summary["attachments_uploaded"] == 0


def test_bad_lines_are_reported_with_line_numbers_and_good_lines_import(
    close_server: Emulator, tmp_path: Path
) -> None:
    folder = tmp_path / "archive"
    shutil.copytree(SAMPLES / "media", folder / "media")
    good = (SAMPLES / "maria-acme.jsonl").read_text().splitlines()
    lines = [
        good[0],
        "{not json",
        '{"id": "x1", "direction": "incoming", "text": "no timestamp"}',
        good[1],
        '{"id": "x2", "timestamp": "2024-03-04T09:00:00", "direction": "incoming"}',
        '{"id": "x3", "timestamp": 1709578800, "direction": "sideways"}',
        *good[2:],
    ]
    (folder / "chat.jsonl").write_text("\n".join(lines) + "\n")

    assert run(close_server, tmp_path, folder) == 1

    summary = report(tmp_path)
    assert sorted(p["line"] for p in summary["problems"]) == [2, 3, 5, 6]
    assert all(p["source"].endswith("chat.jsonl") for p in summary["problems"])
    assert summary["rejected"] == 4
    assert summary["created"] == len(good)
    assert len(by_external_id(close_server)) == len(good)


def test_reply_chains_keep_their_links_under_concurrency(
    close_server: Emulator, tmp_path: Path
) -> None:
    rows: list[dict[str, Any]] = []
    for chain in range(5):
        for depth in range(12):
            row: dict[str, Any] = {
                "id": f"chain{chain}-{depth}",
                "timestamp": 1_700_000_000 + depth * 60 + chain,
                "direction": "incoming" if depth % 2 else "outgoing",
                "remote_phone": "+1 650-555-0123",
                "text": f"message {depth} of chain {chain}",
            }
            if depth:
                row["reply_to"] = f"chain{chain}-{depth - 1}"
            rows.append(row)
    rows.reverse()  # the input need not be sorted
    source = tmp_path / "chains.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")

    assert run(close_server, tmp_path, source, extra=("--concurrency", "16")) == 0

    stored = by_external_id(close_server)
    assert len(stored) == 60
    for row in rows:
        if "reply_to" in row:
            assert stored[row["id"]][0]["response_to_id"] == stored[row["reply_to"]][0]["id"]


def test_api_key_never_appears_in_output_report_or_checkpoint(
    close_server: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(close_server, tmp_path, SAMPLES, extra=("--verbose",)) == 0
    out, err = capsys.readouterr()
    for text in (
        out,
        err,
        (tmp_path / "report.json").read_text(),
        (tmp_path / "run.ckpt").read_bytes().decode("latin-1"),  # SQLite: bytes, as they are
    ):
        assert API_KEY not in text
    assert close_server.state.counters["storage_authorization_headers"] == 0


def test_second_run_on_a_held_checkpoint_is_refused(
    close_server: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import fcntl
    import os

    lock = os.open(tmp_path / "run.ckpt.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)
    os.write(lock, b"4242")
    try:
        assert run(close_server, tmp_path, SAMPLES) == 2
    finally:
        os.close(lock)
    assert "pid 4242" in capsys.readouterr().err
    assert close_server.state.activities == {}
    assert run(close_server, tmp_path, SAMPLES) == 0  # the lock went with its holder


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "samples"], "API key"),
        (["run", "nowhere.jsonl", "--api-key", "k"], "nowhere.jsonl"),
        (
            ["run", "samples", "--api-key", "k", "--base-url", "http://api.example.com/api/v1"],
            "clear text",
        ),
        (
            ["run", "samples", "--api-key", "k", "--base-url", "https://u:s3cret@api.close.com"],
            "must not carry credentials",
        ),
        (["run", "samples", "--api-key", "k", "--local-phone", "call me"], "not a phone"),
        (["run", "samples", "--api-key", "k", "--timezone", "Mars/Base"], "unknown zone"),
        (["status", "--checkpoint", "missing.ckpt"], "no checkpoint"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(SAMPLES.parent)
    monkeypatch.delenv("CLOSE_API_KEY", raising=False)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]
    assert "s3cret" not in err[0]


def test_a_lost_checkpoint_after_a_complete_import_creates_nothing(
    close_server: Emulator, tmp_path: Path
) -> None:
    assert run(close_server, tmp_path, SAMPLES) == 0
    (tmp_path / "run.ckpt").unlink()
    creates = close_server.state.counters["creates"]
    listings = close_server.state.requests("GET", "whatsapp_messages")

    assert run(close_server, tmp_path, SAMPLES) == 0

    assert close_server.state.counters["creates"] == creates
    assert all(len(copies) == 1 for copies in by_external_id(close_server).values())
    assert report(tmp_path)["skipped"] == len(sample_messages())
    # One listing per lead (two chats, two leads), not one lookup per message.
    assert close_server.state.requests("GET", "whatsapp_messages") - listings == 2


def test_reconcile_imports_only_what_is_missing_from_a_partial_import(
    close_server: Emulator, tmp_path: Path
) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copytree(SAMPLES / "media", partial / "media")
    lines = (SAMPLES / "maria-acme.jsonl").read_text().splitlines()
    (partial / "maria-acme.jsonl").write_text("\n".join(lines[:3]) + "\n")
    assert run(close_server, tmp_path, partial) == 0
    (tmp_path / "run.ckpt").unlink()

    assert run(close_server, tmp_path, SAMPLES, extra=("--reconcile",)) == 0

    stored = by_external_id(close_server)
    assert sorted(stored) == sorted(m["id"] for m in sample_messages())
    assert all(len(copies) == 1 for copies in stored.values())
    assert report(tmp_path)["created"] == len(sample_messages()) - 3


def test_sync_edits_updates_changed_messages_in_place(
    close_server: Emulator, tmp_path: Path
) -> None:
    folder = tmp_path / "archive"
    shutil.copytree(SAMPLES / "media", folder / "media")
    rows = [orjson.loads(line) for line in (SAMPLES / "maria-acme.jsonl").read_text().splitlines()]
    source = folder / "chat.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    assert run(close_server, tmp_path, folder) == 0
    rows[1]["text"] += " (edited: and your VAT number)"
    source.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")

    assert run(close_server, tmp_path, folder) == 0  # without the flag, nothing changes
    assert report(tmp_path)["updated"] == 0
    assert run(close_server, tmp_path, folder, extra=("--sync-edits",)) == 0

    summary = report(tmp_path)
    assert (summary["updated"], summary["created"], summary["skipped"]) == (1, 0, len(rows) - 1)
    stored = by_external_id(close_server)
    assert all(len(copies) == 1 for copies in stored.values())
    assert stored[rows[1]["id"]][0]["message_markdown"].endswith("your VAT number)")
    assert close_server.state.counters["updates"] == 1
    assert run(close_server, tmp_path, folder, extra=("--sync-edits",)) == 0
    assert close_server.state.counters["updates"] == 1


def test_dry_run_reads_and_counts_everything_and_sends_nothing(
    close_server: Emulator, tmp_path: Path
) -> None:
    assert run(close_server, tmp_path, SAMPLES, extra=("--dry-run",)) == 0

    assert sum(close_server.state.counters.values()) == 0
    summary = report(tmp_path)
    assert (summary["created"], summary["attachments_uploaded"]) == (len(sample_messages()), 3)
    # Jonas is not in the mapping: said once, not once per message.
    assert [p["reason"] for p in summary["problems"]] == [
        "+493055550199 would be looked up in Close (no mapping for it)"
    ]
    assert not (tmp_path / "run.ckpt").exists()


@pytest.mark.parametrize(
    ("age_h", "uploads"), [(1, 0), (25, 1)], ids=["fresh-reused", "stale-redone"]
)
def test_uploaded_files_are_reused_only_within_closes_24_hours(
    close_server: Emulator, tmp_path: Path, age_h: int, uploads: int
) -> None:
    folder = tmp_path / "archive"
    shutil.copytree(SAMPLES / "media", folder / "media")
    message = {
        "id": "first",
        "timestamp": 1709578800,
        "direction": "incoming",
        "remote_phone": "+16505550123",
        "attachments": [{"path": "media/storefront.png"}],
    }
    (folder / "a.jsonl").write_bytes(orjson.dumps(message) + b"\n")
    assert run(close_server, tmp_path, folder) == 0
    with contextlib.closing(sqlite3.connect(tmp_path / "run.ckpt")) as db, db:
        db.execute("UPDATE files SET at = at - ?", (age_h * 3600,))  # uploaded age_h ago
    (folder / "b.jsonl").write_bytes(orjson.dumps({**message, "id": "second"}) + b"\n")
    before = close_server.state.counters["uploads"]

    assert run(close_server, tmp_path, folder) == 0

    assert close_server.state.counters["uploads"] - before == uploads
    assert report(tmp_path)["created"] == 1


def test_a_refused_key_is_one_clear_line_exit_2_and_never_echoed(
    seed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ThreadedEmulator(EmulatorConfig(data=seed, api_key="the-real-one")) as emu:
        assert run(emu, tmp_path, SAMPLES, extra=("--verbose",)) == 2
        assert emu.state.activities == {}
    out, err = capsys.readouterr()
    assert "refused the API key" in err
    assert API_KEY not in out + err + (tmp_path / "report.json").read_text()


def test_send_to_inbox_notifies_for_incoming_messages_and_user_id_owns_them(
    close_server: Emulator, tmp_path: Path
) -> None:
    user = "user_salesRepSample000000000000000000000000001"
    assert run(close_server, tmp_path, SAMPLES, extra=("--send-to-inbox", "--user-id", user)) == 0

    incoming = [m for m in sample_messages() if m.get("direction") == "incoming"]
    assert close_server.state.counters["inbox_notifications"] == len(incoming)
    assert {a["user_id"] for a in close_server.state.activities.values()} == {user}


def test_a_key_refused_mid_run_is_exit_1_with_the_report(
    close_server: Emulator, tmp_path: Path
) -> None:
    import dataclasses
    import threading
    import time

    from tests.test_crash import write_chat

    rows = write_chat(tmp_path / "chat.jsonl", 300)
    state = close_server.state

    def revoke_the_key() -> None:
        while state.counters["creates"] < 20:
            time.sleep(0.001)
        state.config = dataclasses.replace(state.config, api_key="rotated")

    watcher = threading.Thread(target=revoke_the_key, daemon=True)
    watcher.start()
    lead = next(iter(state.leads.values()))
    flags = ("--lead-id", lead.id, "--contact-id", lead.contact_ids[0])
    status, data = cli_import(close_server, tmp_path, tmp_path / "chat.jsonl", *flags)
    watcher.join(5)
    assert status == 1
    assert 20 <= data["created"] < len(rows)
    assert "refused the API key" in data["stopped_because"]


def test_a_closed_stderr_pipe_ends_quietly_and_the_report_is_written(
    close_server: Emulator, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # as `2>&1 | head -0` leaves it: nobody reads what is said
    try:
        status = subprocess.run(
            [sys.executable, "-m", "importer", "run", str(SAMPLES),
             "--mapping", str(SAMPLES / "mapping.csv"), "--local-phone", LOCAL_PHONE,
             "--base-url", close_server.base_url, "--api-key", API_KEY,
             "--checkpoint", str(tmp_path / "run.ckpt"), "--report", str(tmp_path / "report.json")],
            stderr=write_end, stdout=write_end, check=False, timeout=60,
        ).returncode  # fmt: skip
    finally:
        os.close(write_end)
    assert status == 0
    assert report(tmp_path)["created"] == len(sample_messages())


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"interrupted": True, "stopped_because": "SIGINT"}, 0),
        ({"interrupted": True, "stopped_because": "SIGINT", "not_attempted": 3}, 130),
        ({"interrupted": True, "stopped_because": "SIGINT", "reading_stopped": True}, 130),
        ({"key_refused": True, "stopped_because": "key", "not_attempted": 9}, 2),
        ({"key_refused": True, "stopped_because": "key", "created": 4, "not_attempted": 5}, 1),
        ({"journal_failed": True, "stopped_because": "cannot write checkpoint"}, 1),
        ({"created": 9}, 0),
    ],
    ids=["nothing-left", "left-undone", "reading-stopped", "key-before-anything",
         "key-mid-run", "journal", "ok"],
)  # fmt: skip
def test_exit_statuses_are_as_the_interface_says(fields: dict[str, Any], status: int) -> None:
    from importer.cli import exit_status
    from importer.report import Report

    assert exit_status(Report(**fields)) == status


def test_close_refusing_inspects_lookups_is_one_line_not_a_traceback(
    seed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["inspect", str(SAMPLES), "--local-phone", LOCAL_PHONE, "--api-key", API_KEY]
    args += ["--mapping-template", str(tmp_path / "phones.csv")]
    with ThreadedEmulator(EmulatorConfig(data=seed, api_key="the-real-one")) as emu:
        assert main([*args, "--base-url", emu.base_url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["wa-close-import: error: Close refused the API key (HTTP 401)"]


def test_inspect_into_a_closed_pipe_ends_quietly() -> None:
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # `inspect --json | head -0`
    try:
        done = subprocess.run(
            [sys.executable, "-m", "importer", "inspect", str(SAMPLES), "--json",
             "--local-phone", LOCAL_PHONE],
            stdout=write_end, stderr=subprocess.PIPE, check=False, timeout=60,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (0, b"")
