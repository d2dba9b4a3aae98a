"""Who is who in a text export: the account, the other party, from flags or the file name."""

from __future__ import annotations

from typing import Any

from tests.sources.test_txt_support import read

CHAT = (
    "12/07/2024, 10:00 - Jake Morrison: Is Saturday free?\n"
    "12/07/2024, 10:05 - Sunset Auto: Yes, 9am\n"
    "13/07/2024, 09:00 - Jake Morrison: Great\n"
)


def directions(text: str, **kwargs: Any) -> list[tuple[str | None, str | None]]:
    result = read(text, **kwargs)
    assert result.problems == []
    return [(m.sender_name, m.direction) for m in result.messages]


def test_the_file_name_names_the_other_party_so_the_other_sender_is_the_account() -> None:
    result = read(CHAT, me=(), title="Jake Morrison")
    assert result.problems == []
    assert [(m.sender_name, m.direction, m.chat) for m in result.messages] == [
        ("Jake Morrison", "incoming", "Jake Morrison"),
        ("Sunset Auto", "outgoing", "Jake Morrison"),
        ("Jake Morrison", "incoming", "Jake Morrison"),
    ]
    assert result.info.parties == (
        "one-to-one chat with Jake Morrison (the file name says so), so Sunset Auto is the "
        "account (--me says otherwise)"
    )


def test_the_inferred_chat_has_the_same_ids_as_one_read_with_me() -> None:
    inferred = read(CHAT, me=(), title="jake  morrison")
    explicit = read(CHAT, me=("Sunset Auto",))
    assert [m.external_id for m in inferred.messages] == [m.external_id for m in explicit.messages]
    assert explicit.info.parties == ""


def test_me_wins_over_the_file_name() -> None:
    assert directions(CHAT, me=("Jake Morrison",), title="Jake Morrison") == [
        ("Jake Morrison", "outgoing"),
        ("Sunset Auto", "incoming"),
        ("Jake Morrison", "outgoing"),
    ]


def test_a_title_that_fits_neither_sender_is_not_guessed() -> None:
    result = read(CHAT, me=(), title="Jacob M.")
    assert result.messages == []
    (problem,) = result.problems
    assert problem.reason.startswith("group chat with 2 senders: Jake Morrison, Sunset Auto")
    assert problem.reason.endswith(
        "(the file name's 'Jacob M.' is neither sender; for a one-to-one chat, name the account's"
        " own sender with --me)"
    )


def test_a_mapping_row_makes_a_sender_a_remote_party_not_the_account() -> None:
    phones = {"Jake Morrison": "+16505550142", "Sunset Auto": "+16505550177"}
    result = read(CHAT, me=(), title="Jake Morrison", sender_phones=phones)
    assert {m.direction for m in result.messages} == {"incoming"}
    assert result.info.parties == ""


def test_a_number_in_the_title_is_the_remote_phone() -> None:
    text = (
        "[14.07.24, 11:00:00] +1 650-555-0142: Hallo\r\n"
        "[14.07.24, 11:01:00] Sunset Auto: Hallo! Wie kann ich helfen?\r\n"
    )
    result = read(text, me=(), title="+1 650-555-0142")
    assert [(m.direction, m.remote_phone) for m in result.messages] == [
        ("incoming", "+16505550142"),
        ("outgoing", "+16505550142"),
    ]
    only_mine = read(
        "[14.07.24, 11:01:00] Sunset Auto: Hallo?\r\n", title="+1 650 555 0142", me=("Sunset Auto",)
    )
    assert [m.remote_phone for m in only_mine.messages] == ["+16505550142"]


def test_remote_phone_flag_wins_over_the_title() -> None:
    result = read(CHAT, me=(), title="Jake Morrison", remote_phone="+16505550199")
    assert {m.remote_phone for m in result.messages} == {"+16505550199"}


def test_a_mapping_row_names_the_phone_of_a_sender_written_as_a_number_too() -> None:
    # Peers' exports (and hand-edited ones) show numbers no phone has; the mapping corrects them.
    text = "12/07/2024, 10:00 - +1 123 456 789: hi\n12/07/2024, 10:01 - Me: hello\n"
    result = read(text, sender_phones={"+1 123 456 789": "+16505550142"})
    assert [m.remote_phone for m in result.messages] == ["+16505550142", "+16505550142"]
    assert [m.remote_phone for m in read(text).messages] == ["+1123456789", "+1123456789"]
