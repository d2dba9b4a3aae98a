"""WhatsApp Cloud API webhook payloads, end to end through the CLI into the emulator.

A business that logged its webhooks has one JSON envelope per line: customers' messages under
`messages`, what it sent from the Business app under `smb_message_echoes`, delivery statuses,
reactions, and the same delivery more than once. Media files sit in `media/`, named by media id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from importer.emulator import Emulator
from tests.conftest import LOCAL_PHONE, SAMPLES, cli_import

BUSINESS = "14155550100"
MARIA = "16505550123"
JONAS = "493055550199"
T0 = 1_717_225_200  # 2024-06-01T07:00:00Z
CAKE = b"\x89PNG\r\n\x1a\n a cake " + bytes(range(256)) * 8
QUOTE = b"%PDF-1.4 quote Q-2024-117 " + b"." * 2000


def envelope(field: str, value: dict[str, Any]) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp", **value}
    value["metadata"] = {"display_phone_number": BUSINESS, "phone_number_id": "106540352242922"}
    change = {"field": field, "value": value}
    return {"object": "whatsapp_business_account", "entry": [{"id": "1029", "changes": [change]}]}


def incoming(*messages: dict[str, Any], name: str = "Maria Lopez") -> dict[str, Any]:
    sender = messages[0]["from"]
    contacts = [{"profile": {"name": name}, "wa_id": sender}]
    return envelope("messages", {"contacts": contacts, "messages": list(messages)})


def text(wamid: str, sender: str, seconds: int, body: str, **extra: Any) -> dict[str, Any]:
    when = str(T0 + seconds)
    message = {"from": sender, "id": wamid, "timestamp": when, "type": "text"}
    return message | {"text": {"body": body}, **extra}


def echo(wamid: str, to: str, seconds: int, body: str, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"from": BUSINESS, "to": to, "id": wamid}
    message["timestamp"] = str(T0 + seconds)
    message |= {"type": "text", "text": {"body": body}, **extra}
    return envelope("smb_message_echoes", {"message_echoes": [message]})


def statuses(wamid: str, *states: str) -> dict[str, Any]:
    rows = [
        {"id": wamid, "status": state, "timestamp": str(T0 + 100), "recipient_id": MARIA}
        for state in states
    ]
    return envelope("messages", {"statuses": rows})


def write_jsonl(path: Path, envelopes: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in envelopes))
    return path


def archive(folder: Path) -> Path:
    """Two webhook logs and their media, as a business would keep them."""
    (folder / "media").mkdir(parents=True)
    (folder / "media" / "1187394418734501.png").write_bytes(CAKE)
    (folder / "media" / "802771339281910").write_bytes(QUOTE)  # saved without extension
    first = incoming(text("wamid.M1", MARIA, 0, "Hi! Is the *cake* ready?"))
    image = {
        "id": "1187394418734501",
        "mime_type": "image/png",
        "sha256": "x",
        "caption": "Like this",
    }
    write_jsonl(
        folder / "webhooks-2024-06-01.jsonl",
        [
            first,
            echo(
                "wamid.E1", MARIA, 60, "Yes, _tomorrow_", context={"from": MARIA, "id": "wamid.M1"}
            ),
            statuses("wamid.E1", "sent", "delivered", "read"),
            incoming(
                {"from": MARIA, "id": "wamid.M2", "timestamp": str(T0 + 120), "type": "image"}
                | {"image": image}
            ),
            first,  # re-delivered: webhooks are at least once
            incoming(
                {"from": MARIA, "id": "wamid.M3", "timestamp": str(T0 + 130), "type": "reaction"}
                | {"reaction": {"message_id": "wamid.E1", "emoji": "👍"}}
            ),
            incoming(
                text("wamid.M4", MARIA, 140, "see this", context={"forwarded": True}),
            ),
        ],
    )
    document = {"id": "802771339281910", "mime_type": "application/pdf", "sha256": "y"}
    document["filename"] = "Angebot Q-2024-117.pdf"
    write_jsonl(
        folder / "webhooks-2024-06-02.jsonl",
        [
            incoming(
                text("wamid.J1", JONAS, 86_400, "Re: Angebot", context={"id": "wamid.LOST"}),
                name="Jonas Schmidt",
            ),
            echo("wamid.E2", JONAS, 86_460, "", type="document", document=document),
            first,  # and once more, a day later, in another file
        ],
    )
    return folder


def run(emu: Emulator, tmp_path: Path, source: Path) -> tuple[int, dict[str, Any]]:
    return cli_import(emu, tmp_path, source, "--mapping", SAMPLES / "mapping.csv")


def stored(emu: Emulator) -> dict[str, dict[str, Any]]:
    by_id: dict[str, dict[str, Any]] = {}
    for activity in emu.state.activities.values():
        wamid = activity["external_whatsapp_message_id"]
        assert wamid not in by_id, f"{wamid} is in Close twice"
        by_id[wamid] = activity
    return by_id


def test_webhook_log_imports_messages_echoes_replies_and_media_once(
    close_server: Emulator, tmp_path: Path
) -> None:
    source = archive(tmp_path / "cloud")

    status, report = run(close_server, tmp_path, source)

    assert status == 0, report["problems"]
    close = stored(close_server)
    assert sorted(close) == ["wamid.E1", "wamid.E2", "wamid.J1", "wamid.M1", "wamid.M2", "wamid.M4"]
    directions = {wamid: a["direction"] for wamid, a in close.items()}
    assert directions == {
        "wamid.M1": "incoming",
        "wamid.E1": "outgoing",
        "wamid.M2": "incoming",
        "wamid.M4": "incoming",
        "wamid.J1": "incoming",
        "wamid.E2": "outgoing",
    }
    for activity in close.values():
        assert activity["local_phone"] == LOCAL_PHONE
    m1, e1 = close["wamid.M1"], close["wamid.E1"]
    assert m1["message_markdown"] == "Hi! Is the *cake* ready?"
    assert datetime.fromisoformat(m1["activity_at"]) == datetime(2024, 6, 1, 7, tzinfo=UTC)
    assert (m1["remote_phone"], m1["lead_id"]) == (
        f"+{MARIA}",
        "lead_acmeSampleLead000000000000000000000000001",
    )
    # The echo answers the customer's message: linked to its Close id.
    assert e1["response_to_id"] == m1["id"]
    assert e1["remote_phone"] == f"+{MARIA}"
    # A forwarded message carries a context without an id: not a reply.
    assert close["wamid.M4"]["response_to_id"] is None

    (photo,) = close["wamid.M2"]["attachments"]
    assert (photo["filename"], photo["content_type"]) == ("1187394418734501.png", "image/png")
    assert close_server.state.file_bytes(photo["url"]) == CAKE
    assert close["wamid.M2"]["message_markdown"] == "Like this"
    (pdf,) = close["wamid.E2"]["attachments"]
    assert (pdf["filename"], pdf["content_type"]) == ("Angebot Q-2024-117.pdf", "application/pdf")
    assert close_server.state.file_bytes(pdf["url"]) == QUOTE

    # Jonas is found in Close by his phone; his reply's parent is nowhere.
    j1 = close["wamid.J1"]
    assert j1["lead_id"] == "lead_baeckereiSampleLead0000000000000000001"
    assert j1["response_to_id"] is None
    (problem,) = report["problems"]
    assert problem["source"] == str(source / "webhooks-2024-06-02.jsonl")
    assert (problem["line"], problem["external_id"]) == (1, "wamid.J1")
    assert "wamid.LOST" in problem["reason"]

    assert report["skipped_by_kind"] == {"duplicate": 2, "reaction": 1, "status": 3}
    assert (report["created"], report["rejected"], report["failed"]) == (6, 0, 0)
    assert report["attachments_uploaded"] == 2


def test_webhook_log_rerun_and_longer_log_add_only_what_is_new(
    close_server: Emulator, tmp_path: Path
) -> None:
    source = archive(tmp_path / "cloud")
    assert run(close_server, tmp_path, source)[0] == 0
    before = {wamid: a["id"] for wamid, a in stored(close_server).items()}

    later = incoming(
        text("wamid.M5", MARIA, 200_000, "Thanks!", context={"id": "wamid.E1"}),
    )
    write_jsonl(
        source / "webhooks-2024-06-03.jsonl",
        [later, incoming(text("wamid.M1", MARIA, 0, "Hi! Is the *cake* ready?"))],
    )
    status, report = run(close_server, tmp_path, source)

    assert status == 0, report["problems"]
    # Already in Close: the 6 messages of the first run, and the 3 redelivered copies among them.
    # The first day's log is unchanged: it is not read again, and counted as its first reading
    # went (one redelivery within it a duplicate). The new day's copy of M1 is read, and a rerun
    # keeps no index of what the checkpoint holds, so it is counted as already imported.
    assert report["files_not_reread"] == 1
    assert (report["created"], report["skipped"]) == (1, 8)
    assert report["skipped_by_kind"]["duplicate"] == 1
    close = stored(close_server)
    assert {wamid: a["id"] for wamid, a in close.items() if wamid != "wamid.M5"} == before
    # The parent was imported by the earlier run: the link comes from the checkpoint.
    assert close["wamid.M5"]["response_to_id"] == before["wamid.E1"]
