"""The plan: who is who, what is in the window, what repeats, and in what order to send."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from importer.message_ids import digest
from importer.model import AddressEntry, Message
from importer.plan import KNOWN_BATCH, Planner, Window, make_plan
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


def test_ids_the_checkpoint_holds_are_planned_without_an_index_entry() -> None:
    """A rerun over a big archive indexes only what is new: memory follows the new messages."""
    items = [
        message(f"m{n}", n, n + 1, text="hi", direction="incoming", remote_phone="+16505550123")
        for n in range(6)
    ]
    again = message("m5", 5, 9, text="hi", direction="incoming", remote_phone="+16505550123")
    planner = Planner(ReadOptions(local_phone=LOCAL), known={"m0", "m1", "m2"}.intersection)

    planned = list(planner.messages([*items, again]))

    assert [p.external_id for p in planned] == ["m0", "m1", "m2", "m3", "m4", "m5"]
    assert [p.known for p in planned] == [True] * 3 + [False] * 3  # the run asks no more of these
    assert len(planner.ids) == 3  # m3, m4, m5: the new ones
    assert planner.skipped == {"duplicate": 1}  # a repeat of a new one is still told apart


def test_the_checkpoint_is_asked_a_batch_at_a_time_and_each_message_gets_its_own_answer() -> None:
    new, old = f"m{KNOWN_BATCH - 1}", f"m{KNOWN_BATCH - 2}"  # the last two of the first batch
    done = {f"m{n}" for n in range(0, KNOWN_BATCH + 100, 3)} - {new} | {old}
    asked: list[list[str]] = []

    def known(ids: list[str]) -> set[str]:
        asked.append(ids)
        return done.intersection(ids)

    def item(n: int, line: int) -> Message:
        return message(f"m{n}", line=line, direction="incoming", remote_phone="+16505550123")

    items = [item(n, n) for n in range(KNOWN_BATCH + 100)]
    # Across the batch boundary: a repeat of a new message, then of a done one.
    items[KNOWN_BATCH + 10] = item(KNOWN_BATCH - 1, KNOWN_BATCH + 10)
    items[KNOWN_BATCH + 11] = item(KNOWN_BATCH - 2, KNOWN_BATCH + 11)
    planner = Planner(ReadOptions(local_phone=LOCAL), known=known)

    planned = list(planner.messages(items))

    assert [len(ids) for ids in asked] == [KNOWN_BATCH, 100]
    assert [i for ids in asked for i in ids] == [m.external_id for m in items]
    assert [p.known for p in planned] == [p.external_id in done for p in planned]
    again = {p.message.line: p for p in planned if p.external_id in (new, old)}
    assert sorted(again) == [KNOWN_BATCH - 2, KNOWN_BATCH - 1, KNOWN_BATCH + 11]
    assert again[KNOWN_BATCH + 11].known  # a done one's repeat: planned again, as done
    assert planner.skipped == {"duplicate": 1}  # the new one's repeat, told from a clash
    assert len(planner.ids) == len(items) - 1 - sum(m.external_id in done for m in items)


def test_media_halves_of_a_done_message_are_planned_as_done() -> None:
    items = [
        cloud("joined", 1, **PLACEHOLDER),
        cloud("joined", 2, text="the photo", part="media"),
        cloud("alone", 3, **PLACEHOLDER),
        cloud("new", 4, **PLACEHOLDER),
    ]
    planner = Planner(ReadOptions(), known={"joined", "alone"}.intersection)
    planned = list(planner.messages(items))
    assert [(p.external_id, p.known) for p in planned] == [
        ("joined", True),
        ("alone", True),
        ("new", False),
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


def test_two_messages_a_one_byte_digest_confused_are_told_apart() -> None:
    # Texts whose digests agree in their first byte: a one-byte digest took the second for a
    # repeat and dropped it silently.
    by_first_byte: dict[int, str] = {}
    for n in range(1000):
        text = f"version {n}"
        first = digest(T0, text, None) >> 55
        if first in by_first_byte:
            break
        by_first_byte[first] = text
    one, other = by_first_byte[first], text
    items = [
        message("m", text=one, direction="incoming", remote_phone="+16505550123"),
        message("m", line=2, text=other, direction="incoming", remote_phone="+16505550123"),
    ]
    plan = make_plan(items, ReadOptions(local_phone=LOCAL))
    assert [p.message.text for p in plan.messages] == [one]
    assert [(p.line, p.reason) for p in plan.problems] == [
        (2, "id already used by a different message")
    ]


def cloud(wa_id: str, line: int, **fields: Any) -> Message:
    """A Cloud API message: its id is WhatsApp's own."""
    parties = {"direction": "incoming", "remote_phone": "+16505550123", "local_phone": LOCAL}
    return message(wa_id, line=line, wamid=True, **(parties | fields))


PLACEHOLDER = {"text": "<media omitted>", "part": "placeholder"}


@pytest.mark.parametrize("media_first", [False, True], ids=["placeholder-first", "media-first"])
def test_a_placeholder_and_its_media_webhook_are_one_message(media_first: bool) -> None:
    chat = cloud("w", 5, minute=1, **PLACEHOLDER)
    # The media webhook's own time and sender do not count: the thread's do.
    media = cloud("w", 9, minute=59, text="the photo", part="media", remote_phone="+1999")
    items = [media, chat] if media_first else [chat, media]

    plan = make_plan([cloud("a", 1), *items, cloud("b", 20, minute=2)], ReadOptions())

    assert [p.external_id for p in plan.messages] == ["a", "w", "b"]
    joined = plan.messages[1]
    assert (joined.message.text, joined.message.line, joined.remote_phone) == (
        "the photo",
        5,
        "+16505550123",
    )
    assert joined.message.timestamp == T0.replace(minute=1)
    assert (plan.skipped, plan.problems) == ({}, [])


def test_halves_alone_at_the_end_are_still_messages() -> None:
    items = [
        cloud("p", 1, **PLACEHOLDER),
        cloud("p", 2, **PLACEHOLDER),  # its chunk came twice
        cloud("m", 3, text="<image omitted>", part="media"),
    ]
    plan = make_plan(items, ReadOptions())
    assert [(p.external_id, p.message.text) for p in plan.messages] == [
        ("p", "<media omitted>"),
        ("m", "<image omitted>"),
    ]
    assert plan.skipped == {"duplicate": 1}


def test_a_placeholder_never_replaces_a_live_copy_and_a_live_copy_completes_one() -> None:
    items = [
        cloud("live-first", 1, text="caption"),
        cloud("live-first", 2, **PLACEHOLDER),
        cloud("held", 3, **PLACEHOLDER),
        cloud("held", 4, text="live caption", reply_to="live-first"),
        cloud("held", 5, text="late media", part="media"),
    ]
    plan = make_plan(items, ReadOptions())
    assert [(p.external_id, p.message.text, p.message.reply_to) for p in plan.messages] == [
        ("live-first", "caption", None),
        ("held", "live caption", "live-first"),
    ]
    assert plan.skipped == {"duplicate": 2}


def test_a_later_copy_brings_the_reply_link_and_name_the_first_copy_lacked() -> None:
    history = cloud("c2", 1, minute=5, text="Great!")
    live = cloud("c2", 7, minute=5, text="Great!", reply_to="c1", sender_name="Chen Wei")
    plan = make_plan([cloud("c1", 0), history, live, live], ReadOptions())

    assert [(p.external_id, p.seq, p.message.reply_to) for p in plan.messages] == [
        ("c1", 0, None),
        ("c2", 1, "c1"),
    ]
    assert plan.names == {"+16505550123": "Chen Wei"}
    assert plan.skipped == {"duplicate": 2}


def test_the_address_book_names_by_latest_add_and_a_remove_keeps_the_name() -> None:
    items = [
        AddressEntry("a.jsonl", 1, "+16505551234", "Pablo Morales", at=200),
        AddressEntry("b.jsonl", 1, "+16505551234", "Pablo M.", at=100),
        AddressEntry("b.jsonl", 2, "16505552222", "Ana", at=100),
        AddressEntry("b.jsonl", 3, "+16505552222", "Ana Díaz", at=100),  # a tie: the later line
        cloud("x", 4, sender_name="Profile Name", remote_phone="+16505551234"),
    ]
    plan = make_plan(items, ReadOptions())
    assert plan.names == {"+16505551234": "Pablo Morales", "+16505552222": "Ana Díaz"}
