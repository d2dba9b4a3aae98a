"""A coexistence log (the Business app's own history and address book), end to end into Close.

The log is written by `tests/sources/fixtures/coexistence.py`: chunks out of order, a thread
split across phases, a chunk delivered twice, media with and without their file, a declined
business, address-book edits and a removal, overlap with live webhooks.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import orjson
import pytest

from importer.cli import main
from importer.emulator import Emulator
from importer.emulator.process import EmulatorProcess
from tests.conftest import API_KEY, SAMPLES, cli_import
from tests.sources.fixtures import coexistence as log
from tests.sources.fixtures.coexistence import BUSINESS, DECLINER, Expected
from tests.test_cloud_import import stored

LOCAL = f"+{BUSINESS}"
SEED_LEAD = "lead_acmeSampleLead000000000000000000000000001"
SEED_CONTACT = "cont_mariaSampleContact0000000000000000000001"


def assert_imported(emu: Emulator, expected: list[Expected]) -> dict[str, dict[str, Any]]:
    """Every expected message once, with its direction, phones, text, reply link and file."""
    close = stored(emu)
    assert sorted(close) == sorted(e.wamid for e in expected)
    for e in expected:
        activity = close[e.wamid]
        seen = (activity["direction"], activity["remote_phone"], activity["local_phone"])
        assert seen == (e.direction, e.remote, LOCAL), e.wamid
        assert activity["message_markdown"] == e.text, e.wamid
        parent = close[e.reply_to]["id"] if e.reply_to else None
        assert activity["response_to_id"] == parent, e.wamid
        files = [a["filename"] for a in activity["attachments"] or []]
        assert files == ([e.attachment] if e.attachment else []), e.wamid
    return close


def lead_names(emu: Emulator) -> dict[str, str]:
    """Each imported remote phone's lead and contact name, as `--create-missing` made them."""
    names = {}
    for activity in emu.state.activities.values():
        lead = emu.state.leads[activity["lead_id"]]
        contact = emu.state.contacts[activity["contact_id"]]
        names[activity["remote_phone"]] = f"{lead.name} / {contact.name}"
    return names


def as_source(folder: Path, form: str) -> Path:
    """The log as a folder, one `.jsonl` (media beside it) or a `.zip`."""
    if form == "folder":
        return folder
    if form == "jsonl":
        single = folder.parent / "single"
        (single / "media").mkdir(parents=True)
        shutil.copytree(folder / "media", single / "media", dirs_exist_ok=True)
        lines = b"".join(p.read_bytes() for p in sorted(folder.glob("*.jsonl")))
        (single / "coexistence.jsonl").write_bytes(lines)
        return single / "coexistence.jsonl"
    archive = folder.parent / "coexistence.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"export/{path.relative_to(folder).as_posix()}")
    return archive


@pytest.mark.parametrize("form", ["folder", "jsonl", "zip"])
def test_a_coexistence_log_imports_every_message_once_named_by_the_address_book(
    close_server: Emulator, tmp_path: Path, form: str
) -> None:
    source = as_source(log.write_log(tmp_path / "log"), form)

    status, report = cli_import(close_server, tmp_path, source, "--create-missing")

    assert status == 0, report["problems"]
    close = assert_imported(close_server, log.expected())
    (photo,) = close["wamid.P3"]["attachments"]
    assert close_server.state.file_bytes(photo["url"]) == log.PHOTO
    assert lead_names(close_server) == {
        phone: f"{name} / {name}" for phone, name in log.NAMES.items()
    }
    (declined,) = report["problems"]
    assert f"+{DECLINER}" in declined["reason"]
    assert "2593109" in declined["reason"] and log.DECLINED_TITLE in declined["reason"]
    assert report["skipped_by_kind"] == log.SKIPPED
    assert (report["created"], report["failed"], report["rejected"]) == (len(log.expected()), 0, 0)

    again, rerun = cli_import(close_server, tmp_path, source, "--create-missing")
    assert (again, rerun["created"]) == (0, 0)
    # Every copy read is accounted for once: a rerun keeps no index of what the checkpoint
    # holds, so a copy of an imported message counts as already imported, not as a duplicate.
    copies = report["skipped_by_kind"]["duplicate"]
    assert (
        rerun["skipped"] + rerun["skipped_by_kind"].get("duplicate", 0)
        == len(log.expected()) + copies
    )
    assert_imported(close_server, log.expected())


def test_a_placeholder_imported_before_its_media_is_updated_by_sync_edits(
    close_server: Emulator, tmp_path: Path
) -> None:
    folder = log.write_log(tmp_path / "log")
    assert cli_import(close_server, tmp_path, folder, "--create-missing")[0] == 0
    assert stored(close_server)["wamid.P5"]["message_markdown"] == "<media omitted>"

    # The media webhook of P5 arrives a day later, and the partner saved its file.
    (folder / "media" / "9005.ogg").write_bytes(b"OggS voice")
    audio = {"id": "9005", "mime_type": "audio/ogg", "sha256": "v"}
    late = log.media_webhook("wamid.P5", log.PABLO, "audio", audio)
    (folder / "5-app-later.jsonl").write_bytes(orjson.dumps(late) + b"\n")
    status, report = cli_import(close_server, tmp_path, folder, "--sync-edits")

    assert (status, report["created"], report["updated"]) == (0, 0, 1)
    p5 = stored(close_server)["wamid.P5"]
    assert p5["message_markdown"] == ""
    assert [(a["filename"], a["content_type"]) for a in p5["attachments"]] == [
        ("9005.ogg", "audio/ogg")
    ]
    assert (p5["direction"], p5["remote_phone"]) == ("incoming", f"+{log.PABLO}")


def test_inspect_shows_the_sync_per_business_and_names_the_template(tmp_path: Path) -> None:
    folder = log.write_log(tmp_path / "log")
    template = tmp_path / "mapping.csv"
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["inspect", str(folder), "--json", "--mapping-template", str(template)])

    assert status == 1
    document = orjson.loads(out.getvalue())
    business = document["history"][LOCAL]
    assert business["phases"] == ["0", "1", "2"]
    assert (business["progress"], business["complete"]) == (100, True)
    assert (business["placeholders_without_media"], business["declined"]) == (1, [])
    (declined,) = document["history"][f"+{DECLINER}"]["declined"]
    assert declined == {"code": 2593109, "title": log.DECLINED_TITLE}
    assert document["skipped"] == log.SKIPPED
    assert sum(c["messages"] for c in document["chats"]) == len(log.expected())
    rows = template.read_text().splitlines()[1:]
    named = {row.split(",")[0]: row.split(",")[3] for row in rows}
    assert named == log.NAMES

    text = io.StringIO()
    with redirect_stdout(text):
        main(["inspect", str(folder)])
    lines = text.getvalue().splitlines()
    assert (
        f"history of {LOCAL}: 6 chunks read, phases 0, 1, 2, progress 100% (complete), "
        "1 media placeholders still without their media"
    ) in lines
    assert f"history of +{DECLINER}: declined (code 2593109: {log.DECLINED_TITLE})" in lines


def test_a_killed_import_of_the_log_resumes_exactly_once(tmp_path: Path) -> None:
    folder = log.write_log(tmp_path / "log", bulk=400)
    expected = log.expected(bulk=400)
    seed = str(SAMPLES / "seed.json")
    args = ["--latency-ms", "30", "--drop-rate", "0.05", "--seed", "12", "--data", seed]
    with EmulatorProcess(*args) as close:
        command = [
            sys.executable, "-m", "importer", "run", str(folder), "--base-url", close.base_url,
            "--api-key", API_KEY, "--lead-id", SEED_LEAD, "--contact-id", SEED_CONTACT,
            "--concurrency", "6", "--checkpoint", str(tmp_path / "run.ckpt"),
        ]  # fmt: skip
        run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while run.poll() is None and close.state()["counters"].get("creates", 0) < 100:
            time.sleep(0.01)
        assert run.poll() is None, "the run finished before it could be killed"
        os.kill(run.pid, signal.SIGKILL)
        run.wait(10)
        assert 0 < close.state()["counters"]["creates"] < len(expected)

        final = subprocess.run(command, capture_output=True, check=False, timeout=120)
        assert final.returncode == 0, final.stderr
        activities = list(close.state()["activities"].values())

    copies: dict[str, list[dict[str, Any]]] = {}
    for activity in activities:
        copies.setdefault(activity["external_whatsapp_message_id"], []).append(activity)
    assert sorted(copies) == sorted(e.wamid for e in expected)
    assert [wamid for wamid, found in copies.items() if len(found) > 1] == []
    for e in expected:
        (activity,) = copies[e.wamid]
        assert (activity["direction"], activity["remote_phone"]) == (e.direction, e.remote)
        parent = copies[e.reply_to][0]["id"] if e.reply_to else None
        assert activity["response_to_id"] == parent, e.wamid
