"""The plan: who is who, what is in the window, what repeats, and in what order to send."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from importer.model import Message
from importer.plan import Window, make_plan
from importer.sources.options import ReadOptions

LOCAL = "+14155550100"
T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def message(wa_id: str, minute: int = 0, line: int = 1, **fields: Any) -> Message:
    return Message(wa_id, T0.replace(minute=minute), "chat.jsonl", line, **fields)


def test_send_order_is_by_time_then_file_order() -> None:
    items = [
        message("c", 5, 1, direction="incoming", remote_phone="+16505550123"),
        message("a", 1, 2, direction="incoming", remote_phone="+16505550123"),
        message("b", 1, 3, direction="incoming", remote_phone="+16505550123"),
    ]
    plan = make_plan(items, ReadOptions(local_phone=LOCAL))
    assert [p.external_id for p in plan.messages] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"from_phone": "+1 415 555 0100", "to_phone": "16505550123"},
            ("outgoing", "+16505550123"),
        ),
        ({"from_phone": "+16505550123", "to_phone": LOCAL}, ("incoming", "+16505550123")),
        ({"direction": "incoming", "from_phone": "+16505550123"}, ("incoming", "+16505550123")),
        (
            {"direction": "outgoing", "remote_phone": "+49 30 55550199"},
            ("outgoing", "+493055550199"),
        ),
    ],
    ids=["from-local", "to-local", "direction-and-from", "remote-override"],
)
def test_direction_and_remote_phone(fields: dict[str, Any], expected: tuple[str, str]) -> None:
    (planned,) = make_plan([message("m", **fields)], ReadOptions(local_phone=LOCAL)).messages
    assert (planned.direction, planned.remote_phone, planned.local_phone) == (*expected, LOCAL)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"from_phone": "+16505550123"}, "direction unknown"),
        ({"direction": "incoming"}, "remote phone unknown"),
        ({"direction": "incoming", "remote_phone": "call me"}, "not a phone number"),
    ],
)
def test_what_cannot_be_resolved_is_a_problem_with_its_line(
    fields: dict[str, Any], reason: str
) -> None:
    plan = make_plan([message("m", line=7, **fields)], ReadOptions(local_phone=LOCAL))
    assert plan.messages == []
    (problem,) = plan.problems
    assert (problem.line, problem.external_id) == (7, "m")
    assert problem.reason.startswith(reason)


def test_the_same_message_twice_is_one_and_a_clash_is_a_problem() -> None:
    first = message("m", text="hi", direction="incoming", remote_phone="+16505550123")
    again = message("m", line=9, text="hi", direction="incoming", remote_phone="+16505550123")
    clash = message("m", line=12, text="bye", direction="incoming", remote_phone="+16505550123")

    plan = make_plan([first, again, clash], ReadOptions(local_phone=LOCAL))

    assert [p.message.line for p in plan.messages] == [1]
    assert plan.skipped == {"duplicate": 1}
    assert [(p.line, p.reason) for p in plan.problems] == [
        (12, "id already used by a different message")
    ]


def test_the_window_counts_what_it_leaves_out() -> None:
    items = [
        message(str(minute), minute, direction="incoming", remote_phone="+16505550123")
        for minute in range(10)
    ]
    window = Window(since=T0.replace(minute=3), until=T0.replace(minute=6))
    plan = make_plan(items, ReadOptions(local_phone=LOCAL), window)
    assert [p.external_id for p in plan.messages] == ["3", "4", "5"]
    assert plan.skipped == {"outside window": 7}
