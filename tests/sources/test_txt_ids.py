"""Stable ids: a later, longer export of the same chat maps old messages to the same ids."""

from __future__ import annotations

from importer.sources.options import DateOrder
from tests.sources.test_txt_support import blob, read

ANDROID = """\
03/01/2023, 09:15 - Messages and calls are end-to-end encrypted. Learn more.
03/01/2023, 09:15 - Ann Lee: Hello, is the sofa still available?
03/01/2023, 09:16 - Max: Yes!
It is.
03/01/2023, 09:16 - Max: ok
03/01/2023, 09:16 - Max: ok
03/01/2023, 09:20 - Ann Lee: IMG-20230103-WA0001.jpg (file attached)
03/01/2023, 09:21 - Ann Lee: Great <This message was edited>
"""

IOS = """\
[03.01.23, 09:15:02] Ann Lee: \u200eMessages and calls are end-to-end encrypted.\r
[03.01.23, 09:15:02] Ann Lee: Hello, is the sofa still available?\r
[03.01.23, 09:16:40] Maximilian: Yes!
It is.\r
[03.01.23, 09:16:41] Maximilian: ok\r
[03.01.23, 09:16:59] Maximilian: ok\r
[03.01.23, 09:20:11] Ann Lee: \u200e<attached: 00000003-PHOTO-2023-01-03-09-20-11.jpg>\r
[03.01.23, 09:21:30] Ann Lee: Great \u200e<This message was edited.>\r
"""

LATER = """\
13/01/2023, 18:00 - Ann Lee: Can I pick it up tomorrow?
13/01/2023, 18:05 - Max: ok
"""


def ids(
    text: str,
    me: tuple[str, ...] = ("Max",),
    source: str = "chat.txt",
    zone: str = "UTC",
    date_order: DateOrder | None = None,
) -> list[str]:
    files = {
        "IMG-20230103-WA0001.jpg": blob("IMG-20230103-WA0001.jpg"),
        "00000003-PHOTO-2023-01-03-09-20-11.jpg": blob("00000003-PHOTO-2023-01-03-09-20-11.jpg"),
    }
    result = read(text, me=me, files=files, source=source, zone=zone, date_order=date_order)
    return [m.external_id for m in result.messages]


def test_ids_are_distinct_within_a_file_including_exact_duplicates() -> None:
    first = ids(ANDROID)
    assert len(first) == 6
    assert len(set(first)) == 6


def test_longer_export_keeps_the_ids_of_the_shared_messages() -> None:
    short, longer = ids(ANDROID), ids(ANDROID + LATER)
    assert longer[: len(short)] == short
    assert len(set(longer)) == len(longer)


def test_ios_with_seconds_and_android_without_give_the_same_ids() -> None:
    assert ids(IOS, me=("Maximilian",)) == ids(ANDROID)


def test_ids_ignore_file_name_timezone_and_how_the_date_order_was_decided() -> None:
    base = ids(ANDROID)
    assert ids(ANDROID, source="other.zip:chat.txt", zone="Pacific/Auckland") == base
    # Day first by default here, by the 13th in the longer export, by the option below.
    assert ids(ANDROID, date_order="dmy") == base
    assert ids(ANDROID + LATER)[: len(base)] == base


def test_media_keeps_its_id_whether_exported_with_or_without_the_file() -> None:
    omitted = ANDROID.replace("IMG-20230103-WA0001.jpg (file attached)", "<Media omitted>")
    assert ids(omitted) == ids(ANDROID)


def test_missing_media_file_keeps_the_id() -> None:
    result = read(ANDROID, me=("Max",))
    assert [m.external_id for m in result.messages] == ids(ANDROID)


def test_edited_text_gets_a_new_id_documented_limit() -> None:
    edited = ANDROID.replace("Great <This message was edited>", "Great, thanks")
    before, after = ids(ANDROID), ids(edited)
    assert before[:-1] == after[:-1]
    assert before[-1] != after[-1]


def test_out_of_order_duplicates_still_get_distinct_ids() -> None:
    text = (
        "03/01/2023, 23:50 - Ann Lee: ok\n"
        "03/01/2023, 23:49 - Ann Lee: ok\n"
        "03/01/2023, 23:50 - Ann Lee: ok\n"
    )
    assert len(set(ids(text))) == 3


def test_other_chats_with_the_same_message_get_other_ids() -> None:
    other = ANDROID.replace("Ann Lee", "Bea")
    assert not set(ids(other)) & set(ids(ANDROID))
