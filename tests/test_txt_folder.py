"""A folder of real-looking exports, imported with one command and nothing said per file.

Four chats as reps drop them in a folder: an Android `.txt` in English, an iOS `.zip` in German,
an Android `.txt` in Spanish named by the customer's number, and an iOS `.zip` in English. No
`--me`, no `--remote-phone`: the file names say who the other party is.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from importer.cli import main
from importer.emulator import Emulator
from importer.emulator.state import Phone
from tests.conftest import API_KEY, LOCAL_PHONE, cli_import
from tests.test_txt_import import (
    LRM,
    NNBSP,
    PHOTO,
    activities,
    android_chat,
    ios_chat,
    write_zip,
)

ACME = (
    "lead_acmeSampleLead000000000000000000000000001",
    "cont_mariaSampleContact0000000000000000000001",
)
BAECKEREI = "lead_baeckereiSampleLead0000000000000000001"
GLOBEX = "lead_otherSampleLead00000000000000000000001"
ME = "Sunset Auto"
ADA = "+16505550177"
JONAS_PHOTO = "00000002-PHOTO-2024-03-29-18-03-00.jpg"

MARIA_TXT = [
    f"3/4/24, 9:15{NNBSP}AM - Maria Lopez: Hi! Do you detail convertibles?",
    f"3/4/24, 9:17{NNBSP}AM - {ME}: Yes, we do.",
    f"3/13/24, 10:00{NNBSP}AM - Maria Lopez: <Media omitted>",
    f"3/13/24, 10:02{NNBSP}AM - {ME}: Thanks, see you Saturday",
]
JONAS_CHAT = [
    f"{LRM}[29.03.24, 18:00:00] Jonas Schmidt: {LRM}Nachrichten und Anrufe sind Ende-zu-Ende-"
    "verschlüsselt. Nur Personen in diesem Chat können sie lesen, anhören oder teilen.",
    "[29.03.24, 18:02:10] Jonas Schmidt: Guten Abend! Habt ihr Ostern geöffnet?",
    f"[29.03.24, 18:03:00] Jonas Schmidt: {LRM}<Anhang: {JONAS_PHOTO}>",
    f"[29.03.24, 18:05:30] {ME}: Ja, Samstag bis 14 Uhr.",
]
HOMER_TXT = [
    "20/6/2024 8:28 p.\u00a0m. - +1 939-555-0113: hola, ¿tienen cita el lunes?",
    f"20/6/2024 8:30 p.\u00a0m. - {ME}: ¡Hola! Sí, a las 10.",
]
ADA_CHAT = [
    f"[5/14/24, 4:00:00{NNBSP}PM] Ada Lovelace: Can you quote a ceramic coating?",
    f"[5/14/24, 4:10:00{NNBSP}PM] {ME}: $450, two days.",
]


def exports(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "WhatsApp Chat with Maria Lopez.txt").write_bytes(android_chat(MARIA_TXT))
    write_zip(
        folder / "WhatsApp Chat - Jonas Schmidt.zip",
        {"_chat.txt": ios_chat(JONAS_CHAT), JONAS_PHOTO: PHOTO},
    )
    homer = folder / "Chat de WhatsApp con +1 939-555-0113.txt"
    homer.write_bytes(android_chat(HOMER_TXT))
    write_zip(folder / "WhatsApp Chat - Ada Lovelace.zip", {"_chat.txt": ios_chat(ADA_CHAT)})
    return folder


def names_mapping(path: Path) -> Path:
    """What a user writes once for the folder: whose phone each saved contact's name is."""
    path.write_text(
        "phone,lead_id,contact_id,name\n"
        f"+1 650-555-0123,{ACME[0]},{ACME[1]},Maria Lopez\n"
        "+49 30 55550199,,,Jonas Schmidt\n"
        f"{ADA},,,Ada Lovelace\n",
        encoding="utf-8",
    )
    return path


def by_lead(emu: Emulator) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for a in activities(emu):
        found.setdefault(a["lead_id"], []).append((a["direction"], a["message_markdown"]))
    return found


def test_a_folder_of_four_exports_imports_with_one_command(
    close_server: Emulator, tmp_path: Path
) -> None:
    folder = exports(tmp_path / "exports")
    mapping = names_mapping(tmp_path / "names.csv")
    args = (folder, "--timezone", "America/Los_Angeles", "--mapping", mapping, "--create-missing")

    status, report = cli_import(close_server, tmp_path, *args)

    assert status == 0, report["problems"]
    assert report["problems"] == []
    leads = by_lead(close_server)
    (ada_lead,) = set(leads) - {ACME[0], BAECKEREI, GLOBEX}
    assert leads == {
        ACME[0]: [
            ("incoming", "Hi! Do you detail convertibles?"),
            ("outgoing", "Yes, we do."),
            ("incoming", "<Media omitted>"),
            ("outgoing", "Thanks, see you Saturday"),
        ],
        BAECKEREI: [
            ("incoming", "Guten Abend! Habt ihr Ostern geöffnet?"),
            ("incoming", ""),
            ("outgoing", "Ja, Samstag bis 14 Uhr."),
        ],
        ada_lead: [
            ("incoming", "Can you quote a ceramic coating?"),
            ("outgoing", "$450, two days."),
        ],
        GLOBEX: [
            ("incoming", "hola, ¿tienen cita el lunes?"),
            ("outgoing", "¡Hola! Sí, a las 10."),
        ],
    }
    remote = {a["lead_id"]: a["remote_phone"] for a in activities(close_server)}
    assert remote[GLOBEX] == "+19395550113"
    assert remote[ada_lead] == ADA
    assert all(a["local_phone"] == LOCAL_PHONE for a in activities(close_server))
    (photo,) = [x for a in activities(close_server) for x in a["attachments"]]
    assert close_server.state.file_bytes(photo["url"]) == PHOTO

    again, second = cli_import(close_server, tmp_path, *args)
    assert (again, second["created"]) == (0, 0)
    assert len(activities(close_server)) == 11


def test_inspect_says_who_is_who_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = exports(tmp_path / "exports")
    main(["inspect", str(folder), "--local-phone", LOCAL_PHONE])
    out = capsys.readouterr().out
    assert (
        f"{folder}/WhatsApp Chat with Maria Lopez.txt: one-to-one chat with Maria Lopez (the file "
        f"name says so), so {ME} is the account (--me says otherwise)"
    ) in out
    assert (
        f"{folder}/WhatsApp Chat - Jonas Schmidt.zip:_chat.txt: one-to-one chat with Jonas" in out
    )


def read_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_mapping_template_lists_named_chats_and_filled_in_imports_the_folder(
    close_server: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = exports(tmp_path / "exports")
    template = tmp_path / "phones.csv"

    # Before anything else is known: no --me, not even --local-phone.
    main(["inspect", str(folder), "--mapping-template", str(template)])
    assert "wrote 4 parties" in capsys.readouterr().err

    rows = read_rows(template)
    assert [(r["phone"], r["name"], r["messages"]) for r in rows] == [
        ("+19395550113", "", "2"),
        ("", "Ada Lovelace", "2"),
        ("", "Jonas Schmidt", "3"),
        ("", "Maria Lopez", "4"),
    ]
    jonas = rows[2]
    assert jonas["files"] == str(folder / "WhatsApp Chat - Jonas Schmidt.zip")
    assert (jonas["first"], jonas["last"]) == (
        "2024-03-29T18:02:10+00:00",
        "2024-03-29T18:05:30+00:00",
    )

    # The user fills in the phones of the named chats (and one lead), and passes it back.
    phones = {
        "Ada Lovelace": ADA,
        "Jonas Schmidt": "+49 30 55550199",
        "Maria Lopez": "+1 650-555-0123",
    }
    for row in rows:
        row["phone"] = row["phone"] or phones[row["name"]]
    rows[3]["lead_id"], rows[3]["contact_id"] = ACME
    with template.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    args = (folder, "--mapping", template, "--create-missing")
    status, report = cli_import(close_server, tmp_path, *args)

    assert status == 0, report["problems"]
    assert report["created"] == 11
    assert set(by_lead(close_server)) >= {ACME[0], BAECKEREI, GLOBEX}


def test_a_bad_mapping_row_is_a_problem_naming_its_line_and_the_others_still_work(
    close_server: Emulator, tmp_path: Path
) -> None:
    folder = exports(tmp_path / "exports")
    mapping = names_mapping(tmp_path / "names.csv")
    with mapping.open("a", encoding="utf-8") as handle:
        handle.write("call me maybe,,,Someone Else\n")

    status, report = cli_import(
        close_server, tmp_path, folder, "--mapping", mapping, "--create-missing"
    )

    assert status == 1
    assert [(p["source"], p["line"], p["reason"]) for p in report["problems"]] == [
        (str(mapping), 5, "mapping row not used: not a phone number: 'call me maybe'")
    ]
    assert report["created"] == 11


def test_with_an_api_key_the_template_fills_in_named_parties_close_knows(
    close_server: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = exports(tmp_path / "exports")
    # A second Jonas Schmidt, at another company: two candidates, none chosen.
    other = close_server.state.add_lead("Schmidt GmbH", [("Jonas Schmidt", [Phone("+4940555501")])])
    template = tmp_path / "phones.csv"

    lookup = ["--base-url", close_server.base_url, "--api-key", API_KEY]
    main(["inspect", str(folder), "--mapping-template", str(template), *lookup])

    rows = {r["name"] or r["phone"]: r for r in read_rows(template)}
    maria = rows["Maria Lopez"]
    assert (maria["phone"], maria["lead_id"], maria["contact_id"]) == ("+16505550123", *ACME)
    assert maria["close"] == "found"
    jonas = rows["Jonas Schmidt"]
    assert (jonas["phone"], jonas["lead_id"]) == ("", "")
    assert jonas["close"].startswith("2 contacts: ")
    assert BAECKEREI in jonas["close"] and other.id in jonas["close"]
    assert rows["Ada Lovelace"]["close"] == "not in Close"
    assert (rows["+19395550113"]["lead_id"], rows["+19395550113"]["close"]) == (GLOBEX, "found")
