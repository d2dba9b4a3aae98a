"""Reading text exports: bodies, markers, media, skipped lines, parties and problems."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import TextIO

import pytest

from importer.model import Blob, Message, SourceInfo
from importer.sources.options import MAX_MESSAGE_ATTACHMENT_BYTES, ReadOptions
from importer.sources.txt_export import MAX_MESSAGE_CHARS, read_txt_export
from importer.sources.txt_markers import media_of
from tests.sources.test_txt_support import blob, read

LRM = "\u200e"


def test_source_info_comes_first_and_the_text_is_read_in_two_passes() -> None:
    opened: list[int] = []

    def open_text() -> TextIO:
        opened.append(1)
        return io.StringIO("[13.01.23, 09:15:00] Ann: hi\n")

    items = list(read_txt_export(open_text, "a.zip:_chat.txt", ReadOptions(), lambda _: None))
    assert items[0] == SourceInfo("a.zip:_chat.txt", "dmy", "day first: 13.01 in line 1")
    assert len(opened) == 2


def test_second_pass_streams_one_message_at_a_time() -> None:
    text = "".join(f"13.01.23, 09:{i % 60:02d} - Ann: message {i}\n" for i in range(3000))
    streams: list[io.StringIO] = []

    def open_text() -> TextIO:
        streams.append(io.StringIO(text))
        return streams[-1]

    reader = read_txt_export(open_text, "x", ReadOptions(), lambda _: None)
    assert isinstance(next(reader), SourceInfo)
    first = next(reader)
    assert isinstance(first, Message)
    assert first.text == "message 0"
    # The second pass has read the first message and the header that ends it, no further.
    assert streams[1].tell() < 100


def test_multi_line_messages_keep_date_looking_and_dash_lines() -> None:
    text = (
        "13/01/2023, 10:00 - Ann: Agenda\n"
        "12/01/2023 was the old date - now moved\n"
        "\n"
        "14/01/2023, 10:00 Bob: no dash, so not a header\n"
        "99/99/2023, 10:00 - X: impossible date\n"
        "- bullet - with - dashes\n"
        "13/01/2023, 10:05 - Me: ok\n"
    )
    result = read(text)
    assert [m.text for m in result.messages] == [
        "Agenda\n12/01/2023 was the old date - now moved\n\n"
        "14/01/2023, 10:00 Bob: no dash, so not a header\n"
        "99/99/2023, 10:00 - X: impossible date\n- bullet - with - dashes",
        "ok",
    ]
    assert [m.line for m in result.messages] == [1, 7]


def test_crlf_and_lone_lf_inside_an_ios_message() -> None:
    text = "[13.01.23, 09:15:00] Ann: line one\nline two\r\n[13.01.23, 09:16:00] Me: ok\r\n"
    assert [m.text for m in read(text).messages] == ["line one\nline two", "ok"]


@pytest.mark.parametrize(
    ("marker", "text"),
    [
        (" <This message was edited>", "fixed"),
        (f" {LRM}<This message was edited.>", "fixed"),
        (" <Diese Nachricht wurde bearbeitet.>", "fixed"),
    ],
    ids=["android", "ios_period", "german"],
)
def test_edited_marker_is_removed(marker: str, text: str) -> None:
    (message,) = read(f"13/01/2023, 10:00 - Ann: fixed{marker}\n").messages
    assert message.text == text


def test_body_keeps_customer_text_but_not_whatsapp_marks() -> None:
    body = "Grüße\u00a0aus Köln \u2068@Ann\u2069 ﬁne\u202f!"
    (message,) = read(f"[13.01.23, 09:15:00] Ann: {LRM}{body}{LRM}\n").messages
    assert message.text == body


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (
            f"{LRM}Messages and calls are end-to-end encrypted. Only people in this chat can read,"
            " listen to, or share them.",
            "system",
        ),
        ("Your security code with Ann changed. Tap to learn more.", "system"),
        ("You blocked this contact. Tap to unblock.", "system"),
        (
            "You turned on disappearing messages. New messages will disappear from this chat 7"
            " days after they're sent, except when kept.",
            "system",
        ),
        ("Ann updated the message timer. New messages will disappear after 24 hours.", "system"),
        (
            "Ann changed their phone number to a new number. Tap to message or add the new number.",
            "system",
        ),
        ("Ann changed to +49 151 23456789", "system"),
        ('Ann created group "Shop"', "system"),
        ("Ann created group \u201cShop\u201d", "system"),
        (f"{LRM}Ann added Bob", "system"),
        (f"{LRM}Bob left", "system"),
        ("This message was deleted.", "deleted"),
        (f"{LRM}You deleted this message.", "deleted"),
        ("Message deleted", "deleted"),
        ("This message was deleted by admin Carl.", "deleted"),
        ("Diese Nachricht wurde gelöscht.", "deleted"),
        ("Esta mensagem foi apagada", "deleted"),
        ("Missed voice call", "call"),
        ("Missed video call", "call"),
        (f"{LRM}Missed voice call. {LRM}Tap to call back", "call"),
        ("Voice call. 12 min", "call"),
        ("Video call. No answer", "call"),
        ("Verpasster Sprachanruf. Zum Zurückrufen tippen", "call"),
        ("", "empty"),
    ],
)
def test_ios_lines_with_a_sender_are_skipped_by_kind(body: str, kind: str) -> None:
    result = read(f"[13.01.23, 09:15:00] Ann: {body}\n[13.01.23, 09:16:00] Ann: real\n")
    assert [(s.line, s.kind) for s in result.skipped] == [(1, kind)]
    assert [m.text for m in result.messages] == ["real"]


@pytest.mark.parametrize(
    "body",
    [
        "Bob added me to the list",
        "I left",
        "Voice call. Let's talk tomorrow",
        "my messages and calls are end-to-end encrypted, right?",
    ],
)
def test_customer_text_resembling_notices_is_imported(body: str) -> None:
    (message,) = read(f"[13.01.23, 09:15:00] Ann: {body}\n").messages
    assert message.text == body


@pytest.mark.parametrize(
    "rest",
    [
        "Messages and calls are end-to-end encrypted. No one outside of this chat, not even"
        " WhatsApp, can read or listen to them. Learn more.",
        'You created group "Test"',
        "X joined using this group's invite link",
        'Ann changed the subject to "Re: plans"',
        "Ann changed the group description",
        "Bob added Carl",
    ],
)
def test_android_system_lines_without_sender_are_skipped(rest: str) -> None:
    result = read(f"13/01/2023, 10:00 - {rest}\n13/01/2023, 10:01 - Ann: hi\n")
    assert [s.kind for s in result.skipped] == ["system"]
    assert [(m.sender_name, m.direction) for m in result.messages] == [("Ann", "incoming")]


@pytest.mark.parametrize(
    "placeholder",
    [
        "<Media omitted>",
        "<Medien ausgeschlossen>",
        "<Medien weggelassen>",
        "<Archivo omitido>",
        "<Video message omitted>",
        "image omitted",
        "IMAGE OMITTED",
        "video omitted",
        "audio omitted",
        "sticker omitted",
        "GIF omitted",
        "document omitted",
        "video note omitted",
        "Contact card omitted",
        "Bild weggelassen",
        "report.pdf • 3 pages document omitted",
    ],
)
def test_media_exported_without_files_keeps_the_placeholder(placeholder: str) -> None:
    result = read(f"[13.01.23, 09:15:00] Ann: {LRM}{placeholder}\n")
    (message,) = result.messages
    assert (message.text, message.attachments, result.problems) == (placeholder, (), [])


@pytest.mark.parametrize(
    ("body", "name", "caption"),
    [
        ("IMG-20210428-WA0001.jpg (file attached)\nLook!", "IMG-20210428-WA0001.jpg", "Look!"),
        ("my report 2.pdf (Datei angehängt)", "my report 2.pdf", ""),
        ("Contacto José.vcf (archivo adjunto)", "Contacto José.vcf", ""),
        (
            f"{LRM}<attached: 00000042-PHOTO-2020-06-07-15-13-20.jpg>",
            "00000042-PHOTO-2020-06-07-15-13-20.jpg",
            "",
        ),
        ("report.pdf • 2 pages <attached: 00000004-report.pdf>", "00000004-report.pdf", ""),
        ("<Anhang: 00000007-Rechnung März.pdf>", "00000007-Rechnung März.pdf", ""),
        ("<allegato: 00000008-AUDIO.opus>", "00000008-AUDIO.opus", ""),
        ("<adjunto: 00000009-VIDEO.mp4>\ncaption below", "00000009-VIDEO.mp4", "caption below"),
        ("<附件\uff1a00000010-PHOTO.jpg>", "00000010-PHOTO.jpg", ""),
    ],
)
def test_media_with_files_become_attachments(body: str, name: str, caption: str) -> None:
    result = read(f"[13.01.23, 09:15:00] Ann: {body}\n", files={name: blob(name)})
    (message,) = result.messages
    assert message.text == caption
    assert [(a.filename, a.blob.member) for a in message.attachments] == [(name, name)]
    assert result.problems == []


def test_unknown_content_type_falls_back_to_octet_stream() -> None:
    name = "IMG-0001.weird"
    result = read(f"13/01/2023, 10:00 - Ann: {name} (file attached)\n", files={name: blob(name)})
    assert result.messages[0].attachments[0].content_type == "application/octet-stream"


@pytest.mark.parametrize(
    ("line", "placeholder"),
    [
        ("13/01/2023, 10:00 - Ann: IMG-0001.jpg (file attached)", "IMG-0001.jpg (file attached)"),
        ("13.01.23, 10:00 - Ann: IMG-0001.jpg (Datei angehängt)", "IMG-0001.jpg (Datei angehängt)"),
        ("[13.01.23, 10:00:00] Ann: \u200e<Anhang: IMG-0001.jpg>", "<Anhang: IMG-0001.jpg>"),
    ],
)
def test_missing_media_file_is_a_note_and_the_placeholder_stays_as_written(
    line: str, placeholder: str
) -> None:
    result = read(f"{line}\nnice view\n")
    (message,) = result.messages
    (problem,) = result.problems
    assert message.text == f"{placeholder}\nnice view"
    assert message.attachments == ()
    assert (problem.line, problem.reason) == (
        1,
        "attachment IMG-0001.jpg not in the archive; imported without it",
    )
    assert problem.note
    assert problem.external_id == message.external_id


def test_attachment_over_closes_limit_refuses_its_message_by_declared_size() -> None:
    name = "VID-0001.mp4"
    big = Blob(Path("/archive.zip"), name, MAX_MESSAGE_ATTACHMENT_BYTES + 1)
    text = f"13/01/2023, 10:00 - Ann: {name} (file attached)\n13/01/2023, 10:01 - Ann: next\n"
    result = read(text, files={name: big})
    assert [m.text for m in result.messages] == ["next"]
    (problem,) = result.problems
    assert problem.line == 1
    assert problem.reason.startswith(f"{name}: attachments hold {big.size} bytes, more than")
    assert problem.external_id is not None


def test_poll_is_one_message() -> None:
    text = (
        "13/01/2023, 10:00 - Ann: POLL:\nWhen?\nOPTION: Sabato (3 votes)\n"
        "OPTION: Domenica (0 votes)\n"
    )
    (message,) = read(text).messages
    assert message.text.splitlines() == [
        "POLL:",
        "When?",
        "OPTION: Sabato (3 votes)",
        "OPTION: Domenica (0 votes)",
    ]


def test_lines_before_the_first_header_are_one_problem() -> None:
    text = "\ufeffsomething\nelse\n\n13/01/2023, 10:00 - Ann: hi\ntrailing continuation\n"
    result = read(text)
    assert [(p.line, p.reason) for p in result.problems] == [
        (1, "2 lines before the first message header not read")
    ]
    assert [m.text for m in result.messages] == ["hi\ntrailing continuation"]


def test_direction_by_me_ignores_marks_tilde_spaces_and_case() -> None:
    text = "13/01/2023, 10:00 - ~\u202fMax  Muster: hi\n13/01/2023, 10:01 - Ann: hello\n"
    result = read(text, me=("max muster",))
    assert [(m.sender_name, m.direction) for m in result.messages] == [
        ("Max  Muster", "outgoing"),
        ("Ann", "incoming"),
    ]
    assert {m.chat for m in result.messages} == {"Ann"}


def test_direction_by_local_phone_and_remote_phone_from_the_sender() -> None:
    text = (
        "13/01/2023, 10:00 - +49 151 2345\u20116789: hi\n"
        "13/01/2023, 10:01 - +1 (650) 555-1234: hello\n"
    )
    result = read(text, me=(), local_phone="004915123456789")
    assert [(m.direction, m.remote_phone, m.local_phone) for m in result.messages] == [
        ("outgoing", "+16505551234", "004915123456789"),
        ("incoming", "+16505551234", "004915123456789"),
    ]


def test_remote_phone_option_wins_and_is_none_without_any() -> None:
    text = "13/01/2023, 10:00 - Ann: hi\n13/01/2023, 10:01 - Me: hello\n"
    assert {m.remote_phone for m in read(text).messages} == {None}
    result = read(text, remote_phone="+4930123456")
    assert {(m.remote_phone, m.chat) for m in result.messages} == {("+4930123456", "Ann")}


def test_group_chat_with_names_is_refused_with_one_problem() -> None:
    text = (
        "[13.01.23, 09:00:00] Shop Team: \u200eMessages and calls are end-to-end encrypted.\n"
        "[13.01.23, 09:15:00] Ann: hi\n"
        "[13.01.23, 09:16:00] Me: hello\n"
        "[13.01.23, 09:17:00] ~\u202fBob: hey\n"
        "[13.01.23, 09:18:00] +1 650 555 1234: yo\n"
    )
    result = read(text)
    assert (result.messages, result.skipped) == ([], [])
    assert [(p.line, p.reason) for p in result.problems] == [
        (
            None,
            "group chat with 3 senders: +1 650 555 1234, Ann, Bob; map every sender to a phone "
            "(a `name` column in --mapping)",
        )
    ]


def test_two_senders_without_me_suggest_the_me_option() -> None:
    result = read("13/01/2023, 10:00 - Ann: hi\n13/01/2023, 10:01 - Max: hello\n", me=())
    (problem,) = result.problems
    assert problem.reason.startswith("group chat with 2 senders: Ann, Max;")
    assert "--me" in problem.reason


def test_group_of_phone_numbers_is_imported_per_sender() -> None:
    text = (
        "13/01/2023, 10:00 - +1 650 555 1234: hi\n"
        "13/01/2023, 10:01 - +49 151 23456789: hallo\n"
        "13/01/2023, 10:02 - Me: hello all\n"
    )
    result = read(text)
    assert [(m.remote_phone, m.chat, m.direction) for m in result.messages] == [
        ("+16505551234", "+1 650 555 1234", "incoming"),
        ("+4915123456789", "+49 151 23456789", "incoming"),
    ]
    (problem,) = result.problems
    assert (problem.line, problem.reason) == (
        3,
        "outgoing message in a group chat has no single recipient",
    )
    assert problem.external_id is not None


def test_unknown_day_period_is_reported_with_its_line_and_kept() -> None:
    text = "13/01/2023, 10:00 - Ann: hi\n13/01/2023, 10:00 dopo - Ann: ciao\n"
    result = read(text)
    assert [(p.line, p.reason) for p in result.problems] == [
        (2, "time with unknown day period 'dopo': line kept in the message before")
    ]
    assert [m.text for m in result.messages] == ["hi\n13/01/2023, 10:00 dopo - Ann: ciao"]


def test_sender_phone_inside_directional_embedding() -> None:
    text = "[13.01.23, 09:15:00] \u202a+49 151 2345\u20116789\u202c: hallo\n"
    (message,) = read(text).messages
    assert (message.remote_phone, message.sender_name) == (
        "+4915123456789",
        "+49 151 2345\u20116789",
    )


def test_older_ios_group_events_without_sender_are_system() -> None:
    text = (
        "[13.01.23, 09:15:00] \u200eAnn added Bob\n"
        "[13.01.23, 09:15:01] Ann changed the subject to \u201cSofa\u201d\n"
        "[13.01.23, 09:16:00] Ann: hi\n"
    )
    result = read(text)
    assert [(s.line, s.kind) for s in result.skipped] == [(1, "system"), (2, "system")]
    assert [m.sender_name for m in result.messages] == ["Ann"]


@pytest.mark.parametrize("unit", [" • ", "a", "<", " (", "a b ", "<attached: ", "x.pdf • "])
def test_long_bodies_of_repeated_pieces_are_read_in_linear_time(unit: str) -> None:
    # WhatsApp allows 65,536 characters; a pattern that backtracks would take minutes here.
    body = (unit * (65_536 // len(unit) + 1))[:65_536]
    started = time.monotonic()
    result = read(f"13/01/2023, 10:00 - Ann: {body}\n13/01/2023, 10:01 - Ann: next\n")
    assert time.monotonic() - started < 2
    assert result.messages[-1].text == "next"


def test_a_line_too_long_for_any_chat_refuses_its_message_without_holding_it() -> None:
    line = "x" * (MAX_MESSAGE_CHARS + 10)
    text = f"13/01/2023, 10:00 - Ann: first\n{line}\nmore\n13/01/2023, 10:01 - Ann: next\n"
    result = read(text)
    assert [m.text for m in result.messages] == ["next"]
    (problem,) = result.problems
    assert (problem.line, problem.reason) == (
        1,
        f"message longer than {MAX_MESSAGE_CHARS} characters (at line 2); not imported",
    )


def test_an_over_long_message_is_the_problem_and_its_neighbours_import() -> None:
    # Issue 9, item 7: a 2 MiB message after a normal one cost the normal one.
    huge = "z" * (2 * 1024 * 1024)
    text = (
        "13/01/2023, 10:00 - Ann: first\n"
        f"13/01/2023, 10:01 - Ann: {huge}\n"
        "and a continuation of it\n"
        "13/01/2023, 10:02 - Ann: last\n"
    )
    result = read(text)
    assert [(m.line, m.text) for m in result.messages] == [(1, "first"), (4, "last")]
    (problem,) = result.problems
    assert (problem.line, problem.reason) == (
        2,
        f"message longer than {MAX_MESSAGE_CHARS} characters (at line 2); not imported",
    )


def test_a_message_of_too_many_lines_is_refused() -> None:
    lines = "ab\n" * (MAX_MESSAGE_CHARS // 3 + 1)
    result = read(f"13/01/2023, 10:00 - Ann: start\n{lines}13/01/2023, 10:01 - Ann: next\n")
    assert [m.text for m in result.messages] == ["next"]
    assert [p.line for p in result.problems] == [1]
    assert result.problems[0].reason.startswith("message longer than")


def test_a_too_long_line_before_any_header_is_an_unread_line() -> None:
    result = read("y" * (MAX_MESSAGE_CHARS + 1) + "\n13/01/2023, 10:01 - Ann: hi\n")
    assert [m.text for m in result.messages] == ["hi"]
    assert [(p.line, p.reason) for p in result.problems] == [
        (1, "a line before the first message header not read")
    ]


@pytest.mark.parametrize(
    ("body", "placeholder", "caption"),
    [
        ("report.pdf • 2 pages <attached: 00000004-report.pdf>", None, ""),
        (
            "a • b <x> c <attached: 00000004-r.pdf> cap",
            "<attached: 00000004-r.pdf>",
            "a • b <x> c  cap",
        ),
        ("Angebot.pdf • 3 Seiten document omitted", "Angebot.pdf • 3 Seiten document omitted", ""),
        (" • image omitted", None, None),
        ("image omitted", "image omitted", ""),
    ],
)
def test_document_descriptions_belong_to_their_placeholder(
    body: str, placeholder: str | None, caption: str | None
) -> None:
    found = media_of(body)
    if caption is None:
        assert found is None
        return
    assert found is not None
    assert found.placeholder == (placeholder or body)
    assert found.caption == caption
