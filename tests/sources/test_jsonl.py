"""The canonical JSONL reader, driven through `read_sources` on files built in tmp_path."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.model import Attachment, Blob, Item, Message, Problem
from importer.sources import read_sources
from importer.sources.options import ReadOptions

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def write_jsonl(path: Path, *lines: Any) -> Path:
    """Each line a dict (serialised) or raw text written as is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for line in lines:
            out.write(line.encode() if isinstance(line, str) else orjson.dumps(line))
            out.write(b"\n")
    return path


def read(*paths: Path) -> list[Item]:
    return list(read_sources(list(paths), ReadOptions()))


def messages(items: list[Item]) -> list[Message]:
    return [item for item in items if isinstance(item, Message)]


def problems(items: list[Item]) -> list[Problem]:
    return [item for item in items if isinstance(item, Problem)]


def test_a_full_line_maps_every_field(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "photo.jpg").write_bytes(b"jpeg")
    (tmp_path / "doc.bin").write_bytes(b"12345")
    path = write_jsonl(
        tmp_path / "chat.jsonl",
        {
            "id": "wamid.1",
            "timestamp": "2024-03-01T13:00:00+01:00",
            "direction": "outgoing",
            "from": "+1 650-333-4444",
            "to": "16505550000",
            "local_phone": "+16503334444",
            "remote_phone": "+16505550000",
            "text": "*hello*",
            "reply_to": "wamid.0",
            "attachments": [
                {"path": "media/photo.jpg"},
                {"path": "doc.bin", "filename": "report.pdf", "content_type": "text/x-custom"},
            ],
            "lead_id": "lead_1",
            "contact_id": "cont_1",
            "user_id": "user_1",
            "integration_link": "https://example.com/c/1",
            "unknown": {"ignored": True},
        },
    )
    [message] = read(path)
    root = tmp_path.absolute()
    assert message == Message(
        external_id="wamid.1",
        timestamp=T0,
        source=str(path),
        line=1,
        text="*hello*",
        direction="outgoing",
        from_phone="+1 650-333-4444",
        to_phone="16505550000",
        local_phone="+16503334444",
        remote_phone="+16505550000",
        reply_to="wamid.0",
        attachments=(
            Attachment("photo.jpg", "image/jpeg", Blob(root, "media/photo.jpg", 4)),
            Attachment("report.pdf", "text/x-custom", Blob(root, "doc.bin", 5)),
        ),
        lead_id="lead_1",
        contact_id="cont_1",
        user_id="user_1",
        integration_link="https://example.com/c/1",
    )


def test_minimal_line_has_defaults_and_numbers_become_strings(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl",
        {"id": 42, "timestamp": 1709294400, "from": 16505550000, "reply_to": 41},
        {"id": 1e3, "timestamp": 1709294400, "text": None, "attachments": None},
    )
    first, second = read(path)
    assert isinstance(first, Message)
    assert (first.external_id, first.text, first.direction, first.attachments) == (
        "42",
        "",
        None,
        (),
    )
    assert (first.from_phone, first.reply_to) == ("16505550000", "41")
    assert isinstance(second, Message)
    assert second.external_id == "1000"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T12:00:00Z", T0),
        ("2024-03-01T12:00:00+00:00", T0),
        ("2024-03-01 14:00:00+02:00", T0),
        ("2024-03-01T07:00:00.250-05:00", T0 + timedelta(milliseconds=250)),
        (1709294400, T0),
        (1709294400.5, T0 + timedelta(milliseconds=500)),
        ("1709294400", T0),
        (" 1709294400 ", T0),
        ("1709294400.25", T0 + timedelta(milliseconds=250)),
    ],
)
def test_timestamps_in_every_accepted_form(
    tmp_path: Path, value: object, expected: datetime
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", {"id": "m", "timestamp": value})
    [message] = read(path)
    assert isinstance(message, Message)
    assert message.timestamp == expected
    assert message.timestamp.utcoffset() == timedelta(0)


def test_offsets_are_kept_as_instants(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", {"id": "m", "timestamp": "2024-03-01T23:30:00+05:30"})
    [message] = read(path)
    assert isinstance(message, Message)
    expected = datetime(2024, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert message.timestamp == expected


@pytest.mark.parametrize(
    ("line", "reason", "external_id"),
    [
        ("{not json", "not valid JSON", None),
        ("[1, 2]", "expected a JSON object, not an array", None),
        ('"text"', "expected a JSON object, not a string", None),
        ('{"timestamp": 1}', "missing required field 'id'", None),
        ('{"id": null, "timestamp": 1}', "missing required field 'id'", None),
        ('{"id": true, "timestamp": 1}', "'id' must be a string, not a boolean", None),
        ('{"id": {"a": 1}, "timestamp": 1}', "'id' must be a string, not an object", None),
        ('{"id": "  ", "timestamp": 1}', "'id' is empty", None),
        ('{"id": "m"}', "missing required field 'timestamp'", "m"),
        ('{"id": "m", "timestamp": "2024-03-01T12:00:00"}', "timestamp has no UTC offset", "m"),
        ('{"id": "m", "timestamp": "2024-03-01"}', "timestamp has no UTC offset", "m"),
        ('{"id": "m", "timestamp": "yesterday"}', "neither ISO 8601 nor Unix seconds", "m"),
        ('{"id": "m", "timestamp": true}', "must be a string or a number", "m"),
        ('{"id": "m", "timestamp": 1e20}', "out of range", "m"),
        ('{"id": "m", "timestamp": 1, "direction": "in"}', "'direction' must be", "m"),
        ('{"id": "m", "timestamp": 1, "text": 5}', "'text' must be a string", "m"),
        ('{"id": "m", "timestamp": 1, "from": ["+1"]}', "'from' must be a string", "m"),
        ('{"id": "m", "timestamp": 1, "lead_id": 1.5}', "'lead_id' must be a string", "m"),
        (
            '{"id": "m", "timestamp": 1, "attachments": "a.jpg"}',
            "'attachments' must be a list",
            "m",
        ),
        ('{"id": "m", "timestamp": 1, "attachments": [{"name": "a"}]}', "attachments[0]", "m"),
        ('{"id": "m", "timestamp": 1, "attachments": [{"path": "nope.jpg"}]}', "not found", "m"),
    ],
)
def test_a_bad_line_is_a_problem_and_the_next_line_still_imports(
    tmp_path: Path, line: str, reason: str, external_id: str | None
) -> None:
    good = {"id": "after", "timestamp": 1}
    path = write_jsonl(tmp_path / "a.jsonl", {"id": "before", "timestamp": 1}, "", line, good)
    items = read(path)
    assert [m.external_id for m in messages(items)] == ["before", "after"]
    [problem] = problems(items)
    assert (problem.source, problem.line, problem.external_id) == (str(path), 3, external_id)
    assert reason in problem.reason


def test_blank_lines_bom_and_crlf_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"id": "a", "timestamp": 1}\r\n\r\n   \n{"id": "b", "timestamp": 2}'
    )
    items = read(path)
    assert [(m.external_id, m.line) for m in messages(items)] == [("a", 1), ("b", 4)]
    assert problems(items) == []


def test_invalid_utf8_is_a_problem_of_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"id": "a", "text": "\xff", "timestamp": 1}\n{"id": "b", "timestamp": 2}\n')
    items = read(path)
    assert [m.external_id for m in messages(items)] == ["b"]
    assert [p.line for p in problems(items)] == [1]


def test_an_overlong_line_is_skipped_without_losing_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("importer.sources.jsonl.MAX_LINE_BYTES", 64)
    path = tmp_path / "a.jsonl"
    long_line = orjson.dumps({"id": "long", "timestamp": 1, "text": "x" * 500})
    path.write_bytes(long_line + b'\n{"id": "b", "timestamp": 2}\n')
    items = read(path)
    assert [(m.external_id, m.line) for m in messages(items)] == [("b", 2)]
    [problem] = problems(items)
    assert (problem.line, "longer than 64 bytes" in problem.reason) == (1, True)


def test_content_type_is_guessed_from_the_filename(tmp_path: Path) -> None:
    for name in ("a.pdf", "b.png", "c.unknownext"):
        (tmp_path / name).write_bytes(b"x")
    attachments = [
        {"path": "a.pdf"},
        {"path": "b.png"},
        {"path": "c.unknownext"},
        {"path": "a.pdf", "filename": "scan.jpg"},
    ]
    path = write_jsonl(
        tmp_path / "a.jsonl", {"id": "m", "timestamp": 1, "attachments": attachments}
    )
    [message] = read(path)
    assert isinstance(message, Message)
    assert [(a.filename, a.content_type) for a in message.attachments] == [
        ("a.pdf", "application/pdf"),
        ("b.png", "image/png"),
        ("c.unknownext", "application/octet-stream"),
        ("scan.jpg", "image/jpeg"),
    ]


def test_jsonl_inside_a_zip_is_streamed_with_member_source(tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("chats/a.jsonl", b'{"id": "a", "timestamp": 1}\nbroken\n')
    items = read(archive)
    assert [m.source for m in messages(items)] == [f"{archive}:chats/a.jsonl"]
    assert [(p.source, p.line) for p in problems(items)] == [(f"{archive}:chats/a.jsonl", 2)]


_phone = st.from_regex(r"\+?[0-9]{6,15}", fullmatch=True)
_text = st.text(st.characters(codec="utf-8"), max_size=40)
_optional = st.none() | _text


@st.composite
def _message_dicts(draw: st.DrawFn) -> dict[str, Any]:
    seconds = draw(st.integers(min_value=0, max_value=4_000_000_000))
    record: dict[str, Any] = {
        "id": draw(st.text(min_size=1, max_size=20).filter(str.strip)),
        "timestamp": draw(
            st.sampled_from(
                [
                    seconds,
                    str(seconds),
                    datetime.fromtimestamp(seconds, UTC).isoformat(),
                    datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z"),
                ]
            )
        ),
    }
    for key, strategy in [
        ("direction", st.sampled_from(["incoming", "outgoing"])),
        ("from", _phone),
        ("to", _phone),
        ("local_phone", _phone),
        ("remote_phone", _phone),
        ("text", _text),
        ("reply_to", _optional),
        ("lead_id", _optional),
        ("contact_id", _optional),
        ("user_id", _optional),
        ("integration_link", _optional),
    ]:
        if draw(st.booleans()):
            record[key] = draw(strategy)
    return record


def _expected(record: dict[str, Any], source: str, line: int) -> Message:
    timestamp = record["timestamp"]
    if isinstance(timestamp, int) or timestamp.isdigit():
        instant = datetime.fromtimestamp(int(timestamp), UTC)
    else:
        instant = datetime.fromisoformat(timestamp)
    return Message(
        external_id=record["id"],
        timestamp=instant,
        source=source,
        line=line,
        text=record.get("text") or "",
        direction=record.get("direction"),
        from_phone=record.get("from"),
        to_phone=record.get("to"),
        local_phone=record.get("local_phone"),
        remote_phone=record.get("remote_phone"),
        reply_to=record.get("reply_to"),
        lead_id=record.get("lead_id"),
        contact_id=record.get("contact_id"),
        user_id=record.get("user_id"),
        integration_link=record.get("integration_link"),
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(_message_dicts(), max_size=12))
def test_any_valid_messages_read_back_equal_and_in_order(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    path = write_jsonl(tmp_path / "prop.jsonl", *records)
    assert read(path) == [_expected(r, str(path), n) for n, r in enumerate(records, start=1)]
