"""Cloud API webhook envelopes inside JSONL, read through `read_sources`."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from importer.model import Attachment, Blob, Item, Message, Problem, Skipped
from importer.plan import make_plan
from importer.sources import read_sources
from importer.sources.options import ReadOptions

BUSINESS = "15550783881"
CUSTOMER = "16505551234"
TS = "1749416383"
WHEN = datetime.fromtimestamp(1749416383, UTC)


def envelope(field: str, value: dict[str, Any]) -> dict[str, Any]:
    change = {"field": field, "value": {"messaging_product": "whatsapp", **value}}
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [change]}]}


def incoming(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    value = {
        "metadata": {"display_phone_number": BUSINESS, "phone_number_id": "PNID"},
        "contacts": [{"profile": {"name": "Ann Customer"}, "wa_id": CUSTOMER}],
        "messages": list(messages),
        **extra,
    }
    return envelope("messages", value)


def text_message(wamid: str, body: str = "hi", **extra: Any) -> dict[str, Any]:
    message = {"from": CUSTOMER, "id": wamid, "timestamp": TS, "type": "text"}
    return message | {"text": {"body": body}} | extra


def write(path: Path, *lines: dict[str, Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def read(*paths: Path) -> list[Item]:
    return list(read_sources(list(paths), ReadOptions()))


def test_text_message_is_incoming_from_the_customer(tmp_path: Path) -> None:
    path = write(tmp_path / "hooks.jsonl", incoming(text_message("wamid.A", "*Hello*")))
    assert read(path) == [
        Message(
            external_id="wamid.A",
            timestamp=WHEN,
            source=str(path),
            line=1,
            text="*Hello*",
            direction="incoming",
            from_phone=f"+{CUSTOMER}",
            to_phone=f"+{BUSINESS}",
            local_phone=f"+{BUSINESS}",
            remote_phone=f"+{CUSTOMER}",
            sender_name="Ann Customer",
            chat=f"+{CUSTOMER}",
            wamid=True,
        )
    ]


def test_reply_only_when_context_has_an_id(tmp_path: Path) -> None:
    reply = text_message("wamid.R", context={"from": CUSTOMER, "id": "wamid.A"})
    forwarded = text_message("wamid.F", context={"forwarded": True})
    path = write(tmp_path / "hooks.jsonl", incoming(reply, forwarded))
    replies = [(m.external_id, m.reply_to) for m in read(path) if isinstance(m, Message)]
    assert replies == [("wamid.R", "wamid.A"), ("wamid.F", None)]


def test_echoes_are_outgoing_to_the_customer(tmp_path: Path) -> None:
    echo = {
        "from": BUSINESS,
        "to": CUSTOMER,
        "id": "wamid.E",
        "timestamp": TS,
        "type": "text",
        "text": {"body": "Thanks!"},
    }
    value = {"metadata": {"display_phone_number": BUSINESS}, "message_echoes": [echo]}
    [message] = read(write(tmp_path / "hooks.jsonl", envelope("smb_message_echoes", value)))
    assert isinstance(message, Message)
    assert (message.direction, message.from_phone, message.to_phone) == (
        "outgoing",
        f"+{BUSINESS}",
        f"+{CUSTOMER}",
    )
    assert (message.local_phone, message.remote_phone, message.chat) == (
        f"+{BUSINESS}",
        f"+{CUSTOMER}",
        f"+{CUSTOMER}",
    )
    assert (message.text, message.sender_name) == ("Thanks!", None)


def media(kind: str, media_id: str, **extra: Any) -> dict[str, Any]:
    body = {"id": media_id, "mime_type": "image/jpeg", "sha256": "x"} | extra
    return {"from": CUSTOMER, "id": f"wamid.{media_id}", "timestamp": TS, "type": kind, kind: body}


def test_media_found_beside_or_in_media_folder_is_attached(tmp_path: Path) -> None:
    (tmp_path / "111.jpg").write_bytes(b"one")
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "222.pdf").write_bytes(b"two!")
    (tmp_path / "media" / "333").write_bytes(b"3")
    hooks = incoming(
        media("image", "111", caption="look"),
        media("document", "222", mime_type="application/pdf", filename="Quote 7.pdf"),
        media("image", "333"),
    )
    items = read(write(tmp_path / "hooks.jsonl", hooks))
    root = tmp_path.absolute()
    assert [(m.text, m.attachments) for m in items if isinstance(m, Message)] == [
        ("look", (Attachment("111.jpg", "image/jpeg", Blob(root, "111.jpg", 3)),)),
        ("", (Attachment("Quote 7.pdf", "application/pdf", Blob(root, "media/222.pdf", 4)),)),
        ("", (Attachment("333.jpg", "image/jpeg", Blob(root, "media/333", 1)),)),
    ]


def test_media_without_its_file_is_text_only(tmp_path: Path) -> None:
    hooks = incoming(
        media("image", "404", caption="see this"),
        media("sticker", "405", mime_type="image/webp"),
        media("audio", "406", mime_type="audio/ogg; codecs=opus"),
    )
    items = read(write(tmp_path / "hooks.jsonl", hooks))
    assert [(m.text, m.attachments) for m in items if isinstance(m, Message)] == [
        ("see this", ()),
        ("<sticker omitted>", ()),
        ("<audio omitted>", ()),
    ]


def test_media_in_a_zip_root_or_media_folder(tmp_path: Path) -> None:
    archive = tmp_path / "cloud.zip"
    hooks = incoming(media("image", "1"), media("video", "2", mime_type="video/mp4"))
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("export/hooks.jsonl", orjson.dumps(hooks) + b"\n")
        zf.writestr("1.jpeg", b"a")
        zf.writestr("media/2.mp4", b"bb")
        zf.writestr("__MACOSX/media/._2.mp4", b"junk")
    items = read(archive)
    assert [m.attachments for m in items if isinstance(m, Message)] == [
        (Attachment("1.jpeg", "image/jpeg", Blob(archive.absolute(), "1.jpeg", 1)),),
        (Attachment("2.mp4", "video/mp4", Blob(archive.absolute(), "media/2.mp4", 2)),),
    ]
    assert all(m.source == f"{archive}:export/hooks.jsonl" for m in items)


def test_duplicate_deliveries_are_one_message_across_files(tmp_path: Path) -> None:
    first = write(tmp_path / "a.jsonl", incoming(text_message("wamid.D")))
    second = write(
        tmp_path / "b.jsonl",
        incoming(text_message("wamid.D")),
        incoming(text_message("wamid.D"), text_message("wamid.N")),
    )
    plan = make_plan(read_sources([first, second], ReadOptions()), ReadOptions())
    assert [p.external_id for p in plan.messages] == ["wamid.D", "wamid.N"]
    assert (plan.skipped, plan.problems) == ({"duplicate": 2}, [])


def test_statuses_and_non_message_types_are_skipped_by_kind(tmp_path: Path) -> None:
    def typed(kind: str, wamid: str) -> dict[str, Any]:
        return {"from": CUSTOMER, "id": wamid, "timestamp": TS, "type": kind, kind: {}}

    kinds = ["reaction", "location", "contacts", "interactive", "button", "unsupported", "system"]
    statuses = [{"id": "wamid.A", "status": "read"}, {"id": "wamid.B", "status": "delivered"}]
    hooks = incoming(*(typed(k, f"w{i}") for i, k in enumerate([*kinds, "novel"])))
    only_statuses = envelope("messages", {"metadata": {}, "statuses": statuses})
    other_field = envelope("account_update", {"event": "x"})
    path = write(tmp_path / "hooks.jsonl", only_statuses, hooks, other_field)
    items = read(path)
    assert not [i for i in items if not isinstance(i, Skipped)]
    assert [(s.line, s.kind) for s in items if isinstance(s, Skipped)] == [
        (1, "status"),
        (1, "status"),
        *((2, kind) for kind in kinds),
        (2, "novel"),
        (3, "webhook field account_update"),
    ]


def test_withheld_phone_and_broken_entries_are_problems(tmp_path: Path) -> None:
    withheld = {
        "user_id": "US.13491208655302741918",
        "id": "wamid.W",
        "timestamp": TS,
        "type": "text",
        "text": {"body": "x"},
    }
    bad_time = text_message("wamid.T") | {"timestamp": "soon"}
    hooks = incoming(withheld, bad_time, {"type": "text"}, text_message("wamid.OK"))
    broken = {"object": "whatsapp_business_account", "entry": "nope"}
    path = write(tmp_path / "hooks.jsonl", hooks, broken)
    items = read(path)
    assert [m.external_id for m in items if isinstance(m, Message)] == ["wamid.OK"]
    found = [(p.line, p.external_id, p.reason) for p in items if isinstance(p, Problem)]
    assert found == [
        (
            1,
            "wamid.W",
            "sender phone withheld (user_id US.13491208655302741918); map it to a phone with a "
            "`name` column in --mapping",
        ),
        (1, "wamid.T", "timestamp 'soon' is not Unix seconds"),
        (1, None, "webhook message has no 'id'"),
        (2, None, "webhook envelope has no 'entry' list"),
    ]


def test_a_withheld_phone_is_found_by_its_user_id_in_the_mapping(tmp_path: Path) -> None:
    withheld = {"user_id": "US.1349", "id": "wamid.W", "timestamp": TS, "type": "text"}
    path = write(tmp_path / "hooks.jsonl", incoming(withheld | {"text": {"body": "x"}}))
    options = ReadOptions(sender_phones={"US.1349": "+16505550123"})  # a mapping `name` row
    items = list(read_sources([path], options))
    assert [(m.external_id, m.remote_phone) for m in items if isinstance(m, Message)] == [
        ("wamid.W", "+16505550123")
    ]


def test_phones_already_with_plus_are_not_doubled(tmp_path: Path) -> None:
    hooks = incoming(text_message("wamid.P") | {"from": "+4915112345678"})
    hooks["entry"][0]["changes"][0]["value"]["metadata"]["display_phone_number"] = "+1 555 0100"
    [message] = read(write(tmp_path / "hooks.jsonl", hooks))
    assert isinstance(message, Message)
    assert (message.remote_phone, message.local_phone) == ("+4915112345678", "+1 555 0100")
    # The only contact in the change is the sender even when its wa_id is written differently.
    assert message.sender_name == "Ann Customer"


def test_envelope_lines_mix_with_canonical_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "mixed.jsonl",
        {"id": "c1", "timestamp": 1, "text": "canonical"},
        incoming(text_message("wamid.X")),
    )
    assert [(m.external_id, m.line) for m in read(path) if isinstance(m, Message)] == [
        ("c1", 1),
        ("wamid.X", 2),
    ]
