"""Hostile archives end to end: paths that escape, zip bombs and lying headers, through the CLI.

Each bad attachment is a problem of its own message (file and line) and the good messages still
reach Close; nothing is read into memory whole and nothing is written outside the work folder.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import orjson

from importer.emulator import Emulator
from tests.conftest import cli_import

MIB = 1024 * 1024
BOMB_BYTES = 300 * MIB  # ~300 KiB deflated
LIE = 1000
MARIA = "+1 650-555-0123"
MARIAS_LEAD = (
    "--lead-id",
    "lead_acmeSampleLead000000000000000000000000001",
    "--contact-id",
    "cont_mariaSampleContact0000000000000000000001",
)
PNG = b"\x89PNG\r\n\x1a\n fine " + bytes(range(256))


def zeros_member(archive: zipfile.ZipFile, name: str, size: int) -> None:
    """`size` zero bytes written a chunk at a time, so neither the test nor the file is large."""
    with archive.open(name, "w") as member:
        chunk = bytes(MIB)
        for _ in range(size // MIB):
            member.write(chunk)


def lie_about_size(path: Path, name: str, declared: int) -> None:
    """Rewrite a member's uncompressed size in its local header and central directory entry."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        local = archive.getinfo(name).header_offset
    encoded = name.encode()
    central = data.rfind(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(encoded)] != encoded:
        central = data.rfind(b"PK\x01\x02", 0, central)
    struct.pack_into("<I", data, central + 24, declared)
    struct.pack_into("<I", data, local + 22, declared)
    path.write_bytes(bytes(data))


def message(wamid: str, minute: int, *paths: str) -> bytes:
    row: dict[str, Any] = {
        "id": wamid,
        "timestamp": f"2024-06-01T10:{minute:02d}:00+02:00",
        "direction": "incoming",
        "remote_phone": MARIA,
        "text": f"message {wamid}",
    }
    if paths:
        row["attachments"] = [{"path": path} for path in paths]
    return orjson.dumps(row) + b"\n"


LINES = [
    message("good-1", 0),
    message("passwd-relative", 1, "../../etc/passwd"),
    message("passwd-absolute", 2, "/etc/passwd"),
    message("evil-member", 3, "../evil.jpg"),
    message("bomb", 4, "media/bomb.bin"),
    message("liar", 5, "media/liar.bin"),
    message("windows", 6, "C:\\Windows\\win.ini"),
    message("good-2", 7, "media/fine.png"),
]


def hostile_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("chat.jsonl", b"".join(LINES))
        archive.writestr("media/fine.png", PNG)
        archive.writestr("../evil.jpg", b"would land beside the zip if extracted")
        archive.writestr("/tmp/evil-absolute.jpg", b"would land in /tmp")
        zeros_member(archive, "media/bomb.bin", BOMB_BYTES)
        zeros_member(archive, "media/liar.bin", BOMB_BYTES)
    lie_about_size(path, "media/liar.bin", LIE)
    return path


def test_hostile_zip_refuses_each_bad_attachment_and_imports_the_good_messages(
    close_server: Emulator, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    source = hostile_zip(work / "hostile.zip")
    assert source.stat().st_size < 2 * MIB
    before = sorted(tmp_path.rglob("*"))

    tracemalloc.start()
    try:
        status, report = cli_import(close_server, work, source, *MARIAS_LEAD)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert status == 1
    assert peak < 32 * MIB
    member = f"{source}:chat.jsonl"
    problems = {(p["source"], p["line"]): p for p in report["problems"]}
    assert set(problems) == {
        (f"{source}:../evil.jpg", None),
        (f"{source}:/tmp/evil-absolute.jpg", None),
        *((member, line) for line in range(2, 8)),
    }
    for (where, _), problem in problems.items():
        if where != member:
            assert problem["reason"] == "member name is absolute or has '..'; not read"

    def reason(line: int) -> str:
        found: str = problems[member, line]["reason"]
        assert problems[member, line]["external_id"] == LINES[line - 1].split(b'"')[3].decode()
        return found

    assert reason(2) == "attachment path '../../etc/passwd' leads outside hostile.zip"
    assert reason(3).startswith("attachment path '/etc/passwd' is absolute")
    # The member exists, under a name that escapes: it is not an attachment of anything.
    assert reason(4) == "attachment path '../evil.jpg' leads outside hostile.zip"
    assert reason(5) == (
        f"attachments hold {BOMB_BYTES} bytes, more than the {25 * MIB} bytes Close accepts "
        "on one message"
    )
    # Declared 1000 bytes, expands to 300 MiB: reading stops after the declared size.
    assert "media/liar.bin" in reason(6)
    assert "damaged or lying about its size" in reason(6) or "more than 1000 bytes" in reason(6)
    assert reason(7).startswith("attachment path 'C:\\\\Windows\\\\win.ini' is absolute")

    stored = {a["external_whatsapp_message_id"]: a for a in close_server.state.activities.values()}
    assert sorted(stored) == ["good-1", "good-2"]
    (fine,) = stored["good-2"]["attachments"]
    assert close_server.state.file_bytes(fine["url"]) == PNG
    assert (report["created"], report["rejected"], report["attachments_uploaded"]) == (2, 8, 1)
    # Nothing was extracted or written beside the archive or anywhere else under the test's
    # folder, apart from the run's own report and checkpoint.
    after = set(tmp_path.rglob("*")) - set(before)
    assert {p.name for p in after} <= {"report.json", "run.ckpt", "run.ckpt.lock"}
    assert not Path("/tmp/evil-absolute.jpg").exists()


LRM = "\u200e"
CHAT = [
    f"[01.06.24, 10:00:00] Maria Lopez: {LRM}<attached: ../evil.jpg>",
    f"[01.06.24, 10:01:00] Maria Lopez: {LRM}<attached: /etc/passwd>",
    f"[01.06.24, 10:02:00] Maria Lopez: {LRM}<attached: 00000003-VIDEO-2024-06-01-10-02-00.mp4>",
    f"[01.06.24, 10:03:00] Maria Lopez: {LRM}<attached: 00000004-PHOTO-2024-06-01-10-03-00.jpg>",
    "[01.06.24, 10:04:00] Sam Baker: still here",
]


def hostile_text_export(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("_chat.txt", "".join(line + "\r\n" for line in CHAT))
        archive.writestr("../evil.jpg", b"would land beside the zip if extracted")
        # Declares 300 MiB (holds 1): refused by its declared size, never opened.
        zeros_member(archive, "00000003-VIDEO-2024-06-01-10-02-00.mp4", MIB)
        # Declares 1000 bytes, holds 40 MiB: reading stops at the declared size.
        zeros_member(archive, "00000004-PHOTO-2024-06-01-10-03-00.jpg", 40 * MIB)
        # A "chat" whose second line is 40 MiB long: refused without holding the line.
        with archive.open("WhatsApp Chat with Nobody.txt", "w") as member:
            member.write(b"[01.06.24, 11:00:00] Nobody: hi\n")
            for _ in range(40):
                member.write(b"z" * MIB)
    lie_about_size(path, "00000003-VIDEO-2024-06-01-10-02-00.mp4", BOMB_BYTES)
    lie_about_size(path, "00000004-PHOTO-2024-06-01-10-03-00.jpg", LIE)
    return path


def test_hostile_text_export_refuses_each_bad_attachment_and_imports_the_rest(
    close_server: Emulator, tmp_path: Path
) -> None:
    source = hostile_text_export(tmp_path / "WhatsApp Chat - Maria.zip")
    text_export = ("--remote-phone", MARIA, "--me", "Sam Baker", "--timezone", "Europe/Berlin")

    tracemalloc.start()
    try:
        status, report = cli_import(close_server, tmp_path, source, *text_export, *MARIAS_LEAD)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert status == 1
    assert peak < 32 * MIB
    chat = f"{source}:_chat.txt"
    reasons = {(p["source"], p["line"]): p["reason"] for p in report["problems"]}
    assert (
        reasons[chat, 1] == "attachment path '../evil.jpg' leads outside WhatsApp Chat - Maria.zip"
        "; imported without it"
    )
    assert reasons[chat, 2].startswith("attachment path '/etc/passwd' is absolute")
    assert reasons[chat, 3] == (
        f"00000003-VIDEO-2024-06-01-10-02-00.mp4: attachments hold {BOMB_BYTES} bytes, more "
        f"than the {25 * MIB} bytes Close accepts on one message"
    )
    assert "00000004-PHOTO-2024-06-01-10-03-00.jpg" in reasons[chat, 4]
    assert reasons[f"{source}:../evil.jpg", None] == (
        "member name is absolute or has '..'; not read"
    )
    assert reasons[f"{source}:WhatsApp Chat with Nobody.txt", 1] == (
        "message longer than 1048576 characters (at line 2); not imported"
    )
    assert len(reasons) == 6
    stored = sorted(
        (a["activity_at"], a["message_markdown"], len(a["attachments"]))
        for a in close_server.state.activities.values()
    )
    # Paths that lead outside keep their message, as text, like a file missing from the export.
    assert stored == [
        ("2024-06-01T08:00:00+00:00", "<attached: ../evil.jpg>", 0),
        ("2024-06-01T08:01:00+00:00", "<attached: /etc/passwd>", 0),
        ("2024-06-01T08:04:00+00:00", "still here", 0),
    ]


def irregular_sources(folder: Path) -> list[Path]:
    """A FIFO nobody writes to, and links to devices that never end (issue 9, item 11)."""
    folder.mkdir()
    fifo = folder / "chat.jsonl"
    os.mkfifo(fifo)
    os.mkfifo(folder / "WhatsApp Chat - Maria.zip")
    (folder / "WhatsApp Chat with Zero.txt").symlink_to("/dev/zero")
    (folder / "random.jsonl").symlink_to("/dev/urandom")
    (folder / "ok.jsonl").write_bytes(message("wamid.ok", 1))
    return [fifo, folder / "random.jsonl", folder]


def test_fifos_and_devices_are_problems_and_never_read(tmp_path: Path) -> None:
    sources = irregular_sources(tmp_path / "in")
    command = [sys.executable, "-m", "importer", "inspect", *map(str, sources), "--json"]
    command += ["--local-phone", "+14155550100"]

    # Reading any of them would wait for a writer forever or never reach an end.
    done = subprocess.run(command, capture_output=True, timeout=30, check=False)

    document = orjson.loads(done.stdout)
    irregular = "not a regular file (a FIFO, device or socket); not read"
    folder = tmp_path / "in"
    assert sorted((p["source"], p["reason"]) for p in document["problems"]) == sorted(
        [
            (str(folder / "chat.jsonl"), irregular),
            (str(folder / "random.jsonl"), irregular),
            (str(folder / "WhatsApp Chat - Maria.zip"), irregular),
            (str(folder / "WhatsApp Chat with Zero.txt"), irregular),
            (str(folder / "chat.jsonl"), irregular),
            (str(folder / "random.jsonl"), irregular),
        ]
    )
    assert [c["messages"] for c in document["chats"]] == [1]
