"""Coexistence `history` and `smb_app_state_sync` webhooks, read through `read_sources`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from importer.model import AddressEntry, HistoryChunk, Item, Message, Problem, Skipped
from importer.sources import read_sources
from importer.sources.options import ReadOptions
from tests.sources.fixtures.coexistence import envelope

BUSINESS = "15550783881"
USER = "16505551234"
TS = "1739321024"


def history(*chunks: dict[str, Any], messages: list[Any] | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"history": list(chunks)}
    if messages is not None:
        value["messages"] = messages
    return envelope("history", value, business="+1 555-078-3881")


def thread(thread_id: object, *messages: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {"metadata": meta, "threads": [{"id": thread_id, "messages": list(messages)}]}


def text(wamid: str, sender: str | None, body: str = "hi", **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": wamid, "timestamp": TS, "type": "text", "text": {"body": body}}
    return ({"from": sender} if sender else {}) | raw | extra


def read(tmp_path: Path, *lines: dict[str, Any], options: ReadOptions | None = None) -> list[Item]:
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return list(read_sources([path], options or ReadOptions()))


def messages(items: list[Item]) -> list[Message]:
    return [m for m in items if isinstance(m, Message)]


def test_thread_messages_are_placed_by_the_business_number_and_the_thread(
    tmp_path: Path,
) -> None:
    chunk = thread(
        USER,
        text("wamid.OUT", BUSINESS, "Yes", to=USER),
        text("wamid.ME", None, "from the app", history_context={"from_me": True}),
        text("wamid.IN", USER, "Hola", context={"id": "wamid.OUT"}),
        phase="1",
        chunk_order=2,
        progress="55",
    )
    items = read(tmp_path, history(chunk))
    assert items[0] == HistoryChunk(str(tmp_path / "history.jsonl"), 1, f"+{BUSINESS}", "1", 55, 1)
    found = [
        (m.external_id, m.direction, m.local_phone, m.remote_phone, m.reply_to, m.wamid)
        for m in messages(items)
    ]
    assert found == [
        ("wamid.OUT", "outgoing", f"+{BUSINESS}", f"+{USER}", None, True),
        ("wamid.ME", "outgoing", f"+{BUSINESS}", f"+{USER}", None, True),
        ("wamid.IN", "incoming", f"+{BUSINESS}", f"+{USER}", "wamid.OUT", True),
    ]
    assert messages(items)[2].timestamp == datetime.fromtimestamp(int(TS), UTC)


def test_placeholders_and_media_webhooks_are_halves(tmp_path: Path) -> None:
    placeholder = {"from": USER, "id": "wamid.P", "timestamp": TS, "type": "media_placeholder"}
    image = {"id": "77", "mime_type": "image/jpeg", "sha256": "x", "caption": "look"}
    media = {"from": USER, "id": "wamid.P", "timestamp": "1", "type": "image", "image": image}
    items = read(tmp_path, history(thread(USER, placeholder)), history(messages=[media]))
    assert [(m.line, m.part, m.text) for m in messages(items)] == [
        (1, "placeholder", "<media omitted>"),
        (2, "media", "look"),
    ]


def test_thread_ids_that_are_no_phone_are_mapped_by_id(tmp_path: Path) -> None:
    chunks = history(
        thread("US.777", text("wamid.A", "US.777")),
        thread("US.888", text("wamid.B", "US.888")),
    )
    items = read(tmp_path, chunks, options=ReadOptions(sender_phones={"US.777": "+16505550001"}))
    assert [(m.external_id, m.remote_phone) for m in messages(items)] == [
        ("wamid.A", "+16505550001")
    ]
    (problem,) = [p for p in items if isinstance(p, Problem)]
    assert (problem.external_id, problem.reason) == (
        "wamid.B",
        "chat phone withheld (user_id US.888); map it to a phone with a `name` column in --mapping",
    )


def test_declined_and_progress_only_chunks_and_other_types(tmp_path: Path) -> None:
    declined = {"errors": [{"code": 2593109, "title": "History sync is turned off"}]}
    progress = {"metadata": {"phase": 2, "chunk_order": 4, "progress": 100}}
    other = thread(
        USER,
        {"from": USER, "id": "wamid.R", "timestamp": TS, "type": "reaction", "reaction": {}},
        {"from": USER, "id": "wamid.S", "timestamp": TS, "type": "system"},
    )
    items = read(tmp_path, history(declined, progress, other))
    chunks = [
        (c.phase, c.progress, c.threads, c.error) for c in items if isinstance(c, HistoryChunk)
    ]
    assert chunks == [
        (None, None, 0, (2593109, "History sync is turned off")),
        ("2", 100, 0, None),
        (None, None, 1, None),
    ]
    assert [s.kind for s in items if isinstance(s, Skipped)] == ["reaction", "system"]


def test_address_book_adds_name_phones_and_removes_say_nothing(tmp_path: Path) -> None:
    def entry(action: str, phone: str, at: object, **names: str) -> dict[str, Any]:
        contact = {"phone_number": phone} | names
        return {
            "type": "contact",
            "action": action,
            "contact": contact,
            "metadata": {"timestamp": at},
        }

    state = [
        entry("add", USER, "1739321024", full_name="Pablo Morales", first_name="Pablo"),
        entry("add", "16505552222", 1739321030, first_name="Ana"),
        entry("remove", USER, 1739329999),
        {"type": "label", "action": "add"},
    ]
    items = read(tmp_path, envelope("smb_app_state_sync", {"state_sync": state}))
    source = str(tmp_path / "history.jsonl")
    assert items == [
        AddressEntry(source, 1, f"+{USER}", "Pablo Morales", 1739321024),
        AddressEntry(source, 1, "+16505552222", "Ana", 1739321030),
        Skipped(source, 1, "address book label"),
    ]


def test_a_history_line_over_the_size_cap_is_a_problem_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = history(thread(USER, *(text(f"wamid.{n}", USER, "x" * 100) for n in range(200))))
    small = history(thread(USER, text("wamid.after", USER)))
    monkeypatch.setattr("importer.sources.jsonl.MAX_LINE_BYTES", 16 * 1024)
    items = read(tmp_path, small, big, small)
    assert [m.line for m in messages(items)] == [1, 3]
    (problem,) = [p for p in items if isinstance(p, Problem)]
    assert problem.line == 2
    assert "longer than 16384 bytes" in problem.reason
