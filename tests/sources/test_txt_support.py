"""Helpers shared by the text-export tests: run the reader on a string, split what it yields."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from importer.model import Blob, Item, Message, Problem, Skipped, SourceInfo
from importer.sources.options import DateOrder, ReadOptions
from importer.sources.txt_export import read_txt_export

FIXTURES = Path(__file__).parent / "fixtures" / "txt"


@dataclass
class Result:
    info: SourceInfo
    messages: list[Message] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)


def read(
    text: str,
    *,
    me: tuple[str, ...] = ("Me",),
    zone: str = "UTC",
    date_order: DateOrder | None = None,
    local_phone: str | None = None,
    remote_phone: str | None = None,
    files: Mapping[str, Blob] | None = None,
    source: str = "chat.txt",
    title: str | None = None,
    sender_phones: Mapping[str, str] | None = None,
) -> Result:
    options = ReadOptions(
        me=me,
        local_phone=local_phone,
        remote_phone=remote_phone,
        timezone=ZoneInfo(zone),
        date_order=date_order,
        sender_phones=dict(sender_phones or {}),
    )
    found = dict(files or {})
    stream = lambda: io.StringIO(text)  # noqa: E731
    items = list(read_txt_export(stream, source, options, found.get, title=title))
    first = items[0]
    assert isinstance(first, SourceInfo)
    result = Result(first, items=items)
    for item in items[1:]:
        assert not isinstance(item, SourceInfo)
        if isinstance(item, Message):
            result.messages.append(item)
        elif isinstance(item, Problem):
            result.problems.append(item)
        elif isinstance(item, Skipped):
            result.skipped.append(item)
    return result


def blob(name: str) -> Blob:
    return Blob(Path("/archive.zip"), name, 10)


def fixture_text(name: str) -> str:
    """The fixture as the dispatcher would hand it over, except CRLF and BOM are kept."""
    return (FIXTURES / name).read_bytes().decode("utf-8")
