"""The template's rows: one per remote party, by phone or else by name."""

from __future__ import annotations

from datetime import UTC, datetime

from importer.mapping_template import PhoneTable
from importer.model import Message
from importer.plan import Planner, Window
from importer.sources.options import ReadOptions

T0 = datetime(2024, 7, 12, 10, tzinfo=UTC)


def message(n: int, remote: str | None, chat: str) -> Message:
    return Message(
        f"m{n}", T0, "a.txt", n, "hi", "incoming", remote_phone=remote, sender_name=chat, chat=chat
    )


def test_rows_by_phone_then_by_name_and_names_kept_elsewhere_win() -> None:
    table = PhoneTable({})
    items = [message(1, None, "Jake"), message(2, "+16505550142", "Ann"), message(3, None, "Jake")]
    planner = Planner(ReadOptions(local_phone="+14155550100"))

    planned = list(table.tap(items, planner, Window()))

    assert [p.remote_phone for p in planned] == ["+16505550142"]
    rows = table.rows({"+16505550142": "Ann Lee (address book)"})
    assert [(r.phone, r.name, r.display_name, r.messages) for r in rows] == [
        ("+16505550142", "", "Ann Lee (address book)", 1),
        ("", "Jake", "Jake", 2),
    ]
    assert rows[1].files == ["a.txt"]
