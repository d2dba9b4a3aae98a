"""WhatsApp's own exports, end to end through the CLI: an iOS zip and an Android zip into Close.

Each archive is written here by code, from the formats in whatsapp-exports.md, for the seed
contacts: Maria (Acme, in samples/mapping.csv) and Jonas (Bäckerei, found by phone in Close).
"""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from importer.cli import main
from importer.emulator import Emulator
from importer.model import Message
from importer.sources import read_sources
from importer.sources.options import ReadOptions
from tests.conftest import LOCAL_PHONE, SAMPLES, cli_import

LRM = "\u200e"
NNBSP = "\u202f"
MARIA = "+16505550123"
JONAS = "+493055550199"
ME = "Sam Baker"
LA = ZoneInfo("America/Los_Angeles")
BERLIN = ZoneInfo("Europe/Berlin")
PHOTO = b"\xff\xd8\xff\xe0 a JPEG of a cake " + bytes(range(256)) * 4
ANDROID_PHOTO = b"\xff\xd8\xff\xe0 the storefront " + bytes(range(255, -1, -1)) * 3

IOS_PHOTO = "00000003-PHOTO-2024-03-04-09-16-00.jpg"

# iOS, en-US, 12h with U+202F before AM/PM: month first (3/13 settles it), CRLF between
# messages and a bare LF inside one, U+200E marks; spans the US DST change of 2024-03-10.
IOS_LINES = [
    f"{LRM}[3/4/24, 9:15:02{NNBSP}AM] Maria Lopez: {LRM}Messages and calls are end-to-end "
    "encrypted. Only people in this chat can read, listen to, or share them.",
    f"[3/4/24, 9:15:40{NNBSP}AM] Maria Lopez: Hi! Do you deliver to Palo Alto?",
    f"[3/4/24, 9:16:00{NNBSP}AM] Maria Lopez: {LRM}<attached: {IOS_PHOTO}>",
    f"[3/4/24, 9:17:12{NNBSP}AM] {ME}: Yes, we do!\nWhich day suits you?",
    f"{LRM}[3/4/24, 9:18:00{NNBSP}AM] Maria Lopez: {LRM}This message was deleted.",
    f"[3/13/24, 10:00:00{NNBSP}AM] Maria Lopez: Wednesday works {LRM}<This message was edited.>",
    f"[3/13/24, 10:05:30{NNBSP}AM] {ME}: *Great*, see you then",
]
IOS_MORE = [
    f"[3/20/24, 8:00:00{NNBSP}AM] Maria Lopez: The cake was perfect",
    f"[3/20/24, 8:01:10{NNBSP}AM] {ME}: _Thank you!_",
]

# Android, German, 24h: day first (29.03 settles it), no sender on notices, spans the EU DST
# change of 2024-03-31, a file attached with its caption on the next line, media omitted.
ANDROID_LINES = [
    "29.03.24, 18:00 - Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand "
    "außerhalb dieses Chats kann sie lesen oder anhören.",
    "29.03.24, 18:02 - Jonas Schmidt: Guten Abend! Habt ihr Ostern geöffnet?",
    f"29.03.24, 18:05 - {ME}: Ja, Samstag bis 14 Uhr.",
    "02.04.24, 09:30 - Jonas Schmidt: <Medien ausgeschlossen>",
    "02.04.24, 09:31 - Jonas Schmidt: Diese Nachricht wurde gelöscht",
    "10.05.24, 07:45 - Jonas Schmidt: IMG-20240510-WA0001.jpg (Datei angehängt)\nDas neue Schild",
    f"10.05.24, 07:50 - {ME}: Sieht toll aus <Diese Nachricht wurde bearbeitet>",
]
ANDROID_PHOTO_NAME = "IMG-20240510-WA0001.jpg"


def ios_chat(lines: list[str]) -> bytes:
    # iOS ends each message with CRLF; a bare LF inside a message stays as it is.
    return "".join(line + "\r\n" for line in lines).encode()


def android_chat(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def ios_zip(folder: Path, lines: list[str] = IOS_LINES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_zip(
        folder / "WhatsApp Chat - Maria.zip",
        {
            "_chat.txt": ios_chat(lines),
            IOS_PHOTO: PHOTO,
            # Re-zipped on a Mac: AppleDouble shadows that look like a chat but are not.
            "__MACOSX/._chat.txt": b"\x00\x05\x16\x07 Mac OS X resource fork",
            f"__MACOSX/._{IOS_PHOTO}": b"\x00\x05\x16\x07",
        },
    )


def android_zip(folder: Path, lines: list[str] = ANDROID_LINES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_zip(
        folder / "WhatsApp Chat mit Jonas Schmidt.zip",
        {
            "WhatsApp Chat mit Jonas Schmidt.txt": android_chat(lines),
            ANDROID_PHOTO_NAME: ANDROID_PHOTO,
        },
    )


IOS_ARGS = ("--me", ME, "--remote-phone", "+1 650-555-0123", "--timezone", "America/Los_Angeles")
ANDROID_ARGS = ("--me", ME, "--remote-phone", "+49 30 55550199", "--timezone", "Europe/Berlin")


def run(
    emu: Emulator,
    tmp_path: Path,
    *args: str | Path,
    checkpoint: str = "run.ckpt",
    mapping: Path = SAMPLES / "mapping.csv",
) -> tuple[int, dict[str, Any]]:
    """Run an import; the exit status and the JSON report."""
    return cli_import(emu, tmp_path, *args, "--mapping", mapping, checkpoint=checkpoint)


def inspect(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    status = main(["inspect", *(str(a) for a in args), "--local-phone", LOCAL_PHONE, "--json"])
    data: dict[str, Any] = orjson.loads(capsys.readouterr().out)
    return status, data


def activities(emu: Emulator) -> list[dict[str, Any]]:
    """What Close holds, oldest first."""
    return sorted(
        emu.state.activities.values(),
        key=lambda a: (datetime.fromisoformat(a["activity_at"]), a["id"]),
    )


def instant(activity: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(activity["activity_at"])


def test_ios_zip_imports_each_message_once_with_times_direction_and_photo(
    close_server: Emulator, tmp_path: Path
) -> None:
    source = ios_zip(tmp_path / "in")

    status, report = run(close_server, tmp_path, source, *IOS_ARGS)

    assert status == 0, report["problems"]
    stored = activities(close_server)
    assert [(a["direction"], a["message_markdown"]) for a in stored] == [
        ("incoming", "Hi! Do you deliver to Palo Alto?"),
        ("incoming", ""),
        ("outgoing", "Yes, we do!\nWhich day suits you?"),
        ("incoming", "Wednesday works"),
        ("outgoing", "*Great*, see you then"),
    ]
    assert len({a["external_whatsapp_message_id"] for a in stored}) == 5
    # 9:15:40 Pacific Standard Time before the change, 10:00 Pacific Daylight Time after it.
    assert (
        instant(stored[0])
        == datetime(2024, 3, 4, 9, 15, 40, tzinfo=LA)
        == datetime(2024, 3, 4, 17, 15, 40, tzinfo=UTC)
    )
    assert (
        instant(stored[3])
        == datetime(2024, 3, 13, 10, tzinfo=LA)
        == datetime(2024, 3, 13, 17, tzinfo=UTC)
    )
    for activity in stored:
        assert activity["lead_id"] == "lead_acmeSampleLead000000000000000000000000001"
        assert activity["contact_id"] == "cont_mariaSampleContact0000000000000000000001"
        assert (activity["local_phone"], activity["remote_phone"]) == (LOCAL_PHONE, MARIA)
    (photo,) = stored[1]["attachments"]
    assert photo["filename"] == IOS_PHOTO
    assert photo["content_type"] == "image/jpeg"
    assert close_server.state.file_bytes(photo["url"]) == PHOTO
    assert (report["created"], report["rejected"], report["failed"]) == (5, 0, 0)
    assert report["skipped_by_kind"] == {"deleted": 1, "system": 1}
    assert report["attachments_uploaded"] == 1


def test_ios_times_leave_with_the_offset_in_force_on_their_day(tmp_path: Path) -> None:
    options = ReadOptions(me=(ME,), remote_phone=MARIA, timezone=LA)
    items = read_sources([ios_zip(tmp_path)], options)
    sent = [m.timestamp.isoformat() for m in items if isinstance(m, Message)]
    assert sent == [
        "2024-03-04T09:15:40-08:00",
        "2024-03-04T09:16:00-08:00",
        "2024-03-04T09:17:12-08:00",
        "2024-03-13T10:00:00-07:00",
        "2024-03-13T10:05:30-07:00",
    ]


def test_android_zip_in_german_imports_with_caption_omitted_media_and_lookup(
    close_server: Emulator, tmp_path: Path
) -> None:
    source = android_zip(tmp_path / "in")

    status, report = run(close_server, tmp_path, source, *ANDROID_ARGS)

    assert status == 0, report["problems"]
    stored = activities(close_server)
    assert [(a["direction"], a["message_markdown"]) for a in stored] == [
        ("incoming", "Guten Abend! Habt ihr Ostern geöffnet?"),
        ("outgoing", "Ja, Samstag bis 14 Uhr."),
        ("incoming", "<Medien ausgeschlossen>"),
        ("incoming", "Das neue Schild"),
        ("outgoing", "Sieht toll aus"),
    ]
    # Winter time (+01:00) before the EU change of 2024-03-31, summer time (+02:00) after it.
    assert (
        instant(stored[0])
        == datetime(2024, 3, 29, 18, 2, tzinfo=BERLIN)
        == datetime(2024, 3, 29, 17, 2, tzinfo=UTC)
    )
    assert (
        instant(stored[2])
        == datetime(2024, 4, 2, 9, 30, tzinfo=BERLIN)
        == datetime(2024, 4, 2, 7, 30, tzinfo=UTC)
    )
    for activity in stored:
        # Jonas is not in mapping.csv: found in Close by his phone.
        assert activity["lead_id"] == "lead_baeckereiSampleLead0000000000000000001"
        assert activity["contact_id"] == "cont_jonasSampleContact0000000000000000000001"
        assert (activity["local_phone"], activity["remote_phone"]) == (LOCAL_PHONE, JONAS)
    (photo,) = stored[3]["attachments"]
    assert photo["filename"] == ANDROID_PHOTO_NAME
    assert close_server.state.file_bytes(photo["url"]) == ANDROID_PHOTO
    assert report["skipped_by_kind"] == {"deleted": 1, "system": 1}
    assert (report["created"], report["rejected"]) == (5, 0)


def test_backfill_with_the_same_checkpoint_creates_only_the_new_messages(
    close_server: Emulator, tmp_path: Path
) -> None:
    assert run(close_server, tmp_path, ios_zip(tmp_path / "march"), *IOS_ARGS)[0] == 0
    first = {a["external_whatsapp_message_id"]: a["id"] for a in activities(close_server)}

    longer = ios_zip(tmp_path / "april", IOS_LINES + IOS_MORE)
    status, report = run(close_server, tmp_path, longer, *IOS_ARGS)

    assert status == 0, report["problems"]
    assert (report["created"], report["skipped"]) == (2, 5)
    assert report["attachments_uploaded"] == 0
    stored = activities(close_server)
    assert len(stored) == 7
    assert {a["external_whatsapp_message_id"]: a["id"] for a in stored[:5]} == first
    assert [a["message_markdown"] for a in stored[5:]] == ["The cake was perfect", "_Thank you!_"]


def test_backfill_with_a_new_checkpoint_creates_only_the_new_messages(
    close_server: Emulator, tmp_path: Path
) -> None:
    # A new checkpoint reconciles with Close: the ids already there are not created again.
    assert run(close_server, tmp_path, ios_zip(tmp_path / "march"), *IOS_ARGS)[0] == 0

    longer = ios_zip(tmp_path / "april", IOS_LINES + IOS_MORE)
    status, report = run(close_server, tmp_path, longer, *IOS_ARGS, checkpoint="new.ckpt")

    assert status == 0, report["problems"]
    assert (report["created"], report["skipped"]) == (2, 5)
    ids = [a["external_whatsapp_message_id"] for a in activities(close_server)]
    assert len(ids) == len(set(ids)) == 7


def test_missing_media_file_is_a_problem_naming_file_and_line(
    close_server: Emulator, tmp_path: Path
) -> None:
    lost = "00000009-PHOTO-2024-03-14-09-00-00.jpg"
    lines = [
        *IOS_LINES,
        f"[3/14/24, 9:00:00{NNBSP}AM] Maria Lopez: {LRM}<attached: {lost}>",
    ]
    source = ios_zip(tmp_path / "in", lines)

    status, report = run(close_server, tmp_path, source, *IOS_ARGS)

    # Every message is in Close, the one without its file too: a note, not a rejection.
    assert status == 0
    assert (report["created"], report["rejected"]) == (6, 0)
    (problem,) = report["problems"]
    assert problem["source"] == f"{source}:_chat.txt"
    assert (problem["line"], problem["note"]) == (9, True)
    assert problem["reason"] == (
        f"attachment '{lost}' not found in {source.name}; imported without it"
    )
    stored = activities(close_server)
    assert len(stored) == 6
    assert stored[-1]["message_markdown"] == f"<attached: {lost}>"
    assert stored[-1]["attachments"] == []
    again, second = run(close_server, tmp_path, source, *IOS_ARGS)
    assert (again, second["created"], second["rejected"]) == (0, 0, 0)
    assert len(activities(close_server)) == 6


def test_group_chat_of_names_is_refused_with_a_clear_problem(
    close_server: Emulator, tmp_path: Path
) -> None:
    lines = [
        '14.08.24, 21:00 - Maria Lopez hat die Gruppe "Tortenclub" erstellt',
        "14.08.24, 21:01 - Maria Lopez: Hallo zusammen",
        "14.08.24, 21:02 - Jonas Schmidt: Hallo!",
        f"14.08.24, 21:03 - {ME}: Willkommen",
    ]
    source = android_zip(tmp_path / "in", lines)

    status, report = run(close_server, tmp_path, source, *ANDROID_ARGS)

    assert status == 1
    (problem,) = report["problems"]
    assert problem["source"].endswith("WhatsApp Chat mit Jonas Schmidt.txt")
    assert problem["reason"].startswith("group chat with 2 senders: Jonas Schmidt, Maria Lopez")
    assert "map every sender to a phone" in problem["reason"]
    assert close_server.state.activities == {}


def test_group_chat_of_phone_numbers_goes_to_each_senders_lead(
    close_server: Emulator, tmp_path: Path
) -> None:
    lines = [
        "14.08.24, 21:01 - +1 650-555-0123: Hello all",
        "14.08.24, 21:02 - +49 30 55550199: Hallo!",
        f"14.08.24, 21:03 - {ME}: Welcome",
    ]
    source = android_zip(tmp_path / "in", lines)

    status, report = run(close_server, tmp_path, source, "--me", ME, "--timezone", "UTC")

    assert status == 1
    (problem,) = report["problems"]
    assert (problem["line"], problem["reason"]) == (
        3,
        "outgoing message in a group chat has no single recipient",
    )
    stored = activities(close_server)
    assert [(a["remote_phone"], a["lead_id"]) for a in stored] == [
        (MARIA, "lead_acmeSampleLead000000000000000000000000001"),
        (JONAS, "lead_baeckereiSampleLead0000000000000000001"),
    ]
    assert {a["direction"] for a in stored} == {"incoming"}


def test_inspect_shows_the_date_order_of_each_file_and_why(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ios = ios_zip(tmp_path / "ios")
    android = android_zip(tmp_path / "android")

    ios_status, ios_shown = inspect(capsys, ios, *IOS_ARGS)
    android_status, android_shown = inspect(capsys, android, *ANDROID_ARGS)

    assert (ios_status, android_status) == (0, 0)
    assert ios_shown["date_order"] == {f"{ios}:_chat.txt": "mdy"}
    assert ios_shown["date_order_evidence"] == {f"{ios}:_chat.txt": "month first: 3/13 in line 7"}
    member = f"{android}:WhatsApp Chat mit Jonas Schmidt.txt"
    assert android_shown["date_order"] == {member: "dmy"}
    assert android_shown["date_order_evidence"] == {member: "day first: 29.03 in line 1"}
    assert ios_shown["skipped"] == android_shown["skipped"] == {"deleted": 1, "system": 1}
    (chat,) = ios_shown["chats"]
    assert (chat["messages"], chat["incoming"], chat["outgoing"]) == (5, 3, 2)
    assert (chat["attachments"], chat["attachment_bytes"]) == (1, len(PHOTO))


def test_date_order_option_overrides_the_detection(
    close_server: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Nothing above 12, nothing falling: the second number changes more, so it looks like the
    # day and the file reads month first; this user knows their phone writes day first.
    lines = [
        "03/04/2024, 10:00 - Jonas Schmidt: Termin?",
        "03/05/2024, 10:00 - Jonas Schmidt: Noch da?",
        f"03/06/2024, 10:00 - {ME}: Ja",
    ]
    source = android_zip(tmp_path / "in", lines)
    member = f"{source}:WhatsApp Chat mit Jonas Schmidt.txt"

    _, detected = inspect(capsys, source, *ANDROID_ARGS)
    _, overridden = inspect(capsys, source, *ANDROID_ARGS, "--date-order", "dmy")

    assert detected["date_order"] == {member: "mdy"}
    assert detected["date_order_evidence"][member].startswith("month first: ")
    assert detected["chats"][0]["first"] == "2024-03-04T10:00:00+01:00"
    assert overridden["date_order"] == {member: "dmy"}
    assert overridden["date_order_evidence"] == {member: "set by --date-order"}
    assert overridden["chats"][0]["first"] == "2024-04-03T10:00:00+02:00"

    status, report = run(close_server, tmp_path, source, *ANDROID_ARGS, "--date-order", "dmy")

    assert status == 0, report["problems"]
    assert [instant(a) for a in activities(close_server)] == [
        datetime(2024, 4, 3, 10, tzinfo=BERLIN),
        datetime(2024, 5, 3, 10, tzinfo=BERLIN),
        datetime(2024, 6, 3, 10, tzinfo=BERLIN),
    ]


def test_attachment_over_closes_limit_refuses_its_message(
    close_server: Emulator, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    lines = [
        "10.05.24, 07:40 - Jonas Schmidt: Hier das Video",
        "10.05.24, 07:45 - Jonas Schmidt: VID-20240510-WA0002.mp4 (Datei angehängt)",
        f"10.05.24, 07:50 - {ME}: Danke",
    ]
    (folder / "WhatsApp Chat mit Jonas Schmidt.txt").write_bytes(android_chat(lines))
    with (folder / "VID-20240510-WA0002.mp4").open("wb") as big:
        big.truncate(26 * 1024 * 1024)  # sparse: nothing is written

    status, report = run(close_server, tmp_path, folder, *ANDROID_ARGS)

    assert status == 1
    (problem,) = report["problems"]
    assert problem["source"].endswith("WhatsApp Chat mit Jonas Schmidt.txt")
    assert problem["line"] == 2
    assert problem["reason"].startswith("VID-20240510-WA0002.mp4: attachments hold 27262976 bytes")
    assert "more than the 26214400 bytes Close accepts" in problem["reason"]
    assert [a["message_markdown"] for a in activities(close_server)] == ["Hier das Video", "Danke"]
    assert close_server.state.counters["upload_slots"] == 0


def test_named_senders_find_their_phones_in_the_mapping(
    close_server: Emulator, tmp_path: Path
) -> None:
    lines = [
        "14.08.24, 21:01 - Maria Lopez: Hello all",
        "14.08.24, 21:02 - Jonas Schmidt: Hallo!",
        "14.08.24, 21:04 - Jonas Schmidt: Wann?",
    ]
    source = android_zip(tmp_path / "in", lines)
    mapping = tmp_path / "names.csv"
    mapping.write_text(
        "phone,lead_id,contact_id,name\n"
        "+1 650-555-0123,lead_acmeSampleLead000000000000000000000000001,"
        "cont_mariaSampleContact0000000000000000000001,Maria Lopez\n"
        "+49 30 55550199,,,Jonas Schmidt\n"  # a name only: the lead is looked up by phone
    )

    status, _ = run(close_server, tmp_path, source, "--me", ME, mapping=mapping)

    assert status == 0
    stored = activities(close_server)
    assert [(a["remote_phone"], a["lead_id"]) for a in stored] == [
        (MARIA, "lead_acmeSampleLead000000000000000000000000001"),
        (JONAS, "lead_baeckereiSampleLead0000000000000000001"),
        (JONAS, "lead_baeckereiSampleLead0000000000000000001"),
    ]
