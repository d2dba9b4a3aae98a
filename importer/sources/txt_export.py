"""Read a WhatsApp "Export chat" text file (Android or iOS, any locale) into messages.

Two passes over the text, each holding at most one message: the first gathers the header
dates (to decide the file's day/month order, see `txt_dates`) and the senders (to tell a
one-to-one chat from a group); the second yields the messages. The first item is always a
`SourceInfo` with the order and why. Ids are derived from the content (see `txt_ids`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from importer.model import Attachment, Blob, Item, Message, Problem, Skipped, SourceInfo
from importer.sources.blobs import oversize_reason
from importer.sources.content_types import guess_content_type
from importer.sources.options import ReadOptions
from importer.sources.txt_dates import DateStats, Decision, local_time
from importer.sources.txt_headers import Header, clean_body, parse_header, unknown_period
from importer.sources.txt_ids import IdMaker, body_key
from importer.sources.txt_markers import is_system_text, media_of, skip_kind, without_edited_marker
from importer.sources.txt_parties import (
    Parties,
    decide_parties,
    infer_account,
    is_me,
    phone_for,
    sender_key,
)

OpenText = Callable[[], TextIO]
# A file named in the export: found, or why not (None: simply absent).
MediaLookup = Callable[[str], Blob | str | None]
_UTC = ZoneInfo("UTC")
# WhatsApp caps a message at 65,536 characters. Far more is a broken or hostile file (a zip
# member may expand to gigabytes of one "line"), which must not be held in memory whole.
MAX_MESSAGE_CHARS = 1024 * 1024
_SKIP_CHARS = 64 * 1024


def _lines(open_text: OpenText) -> Iterator[tuple[int, str, bool]]:
    """Numbered lines without their ending, and whether each is whole: of a line too long for
    a chat only the start is kept (enough to tell whether it starts a message), the rest is
    skipped unread."""
    with open_text() as stream:
        number = 0
        while line := stream.readline(MAX_MESSAGE_CHARS + 1):
            number += 1
            if len(line) > MAX_MESSAGE_CHARS and not line.endswith("\n"):
                while (rest := stream.readline(_SKIP_CHARS)) and not rest.endswith("\n"):
                    pass
                yield number, line[:_SKIP_CHARS], False
            else:
                yield number, line.rstrip("\r\n"), True


def _kind(header: Header, text: str) -> str | None:
    """Why the message a header starts is skipped, or None when it is imported."""
    if is_system_text(header.system_text):
        return "system"
    return skip_kind(text, header.sender is not None, header.marked)


def _survey(
    open_text: OpenText, options: ReadOptions
) -> tuple[DateStats, dict[str, tuple[str, bool, bool]]]:
    """Pass 1: the dates' evidence, and the senders other than the account itself.

    Each sender comes with whether a header naming it is valid day-first and month-first:
    which of its lines are headers depends on the order, decided only after this pass.
    """
    dates = DateStats()
    others: dict[str, tuple[str, bool, bool]] = {}
    for number, line, _ in _lines(open_text):
        header = parse_header(line)
        if header is None:
            continue
        as_dmy = local_time(header, True, _UTC) is not None
        as_mdy = local_time(header, False, _UTC) is not None
        if not (as_dmy or as_mdy):
            continue
        dates.add(header, number)
        sender = header.sender
        if sender is None or _kind(header, header.body) == "system" or is_me(sender, options):
            continue
        key = sender_key(sender)
        name, dmy, mdy = others.get(key, (sender, False, False))
        others[key] = (name, dmy or as_dmy, mdy or as_mdy)
    return dates, others


def read_txt_export(
    open_text: OpenText,
    source: str,
    options: ReadOptions,
    media: MediaLookup,
    *,
    title: str | None = None,
) -> Iterator[Item]:
    """Read one text export: `SourceInfo` first, then messages, problems and skipped lines.

    `title` is the chat's name from the file name (`WhatsApp Chat with NAME`), if it has one.
    """
    dates, others = _survey(open_text, options)
    decision = dates.decide(options.date_order)
    valid = {
        key: name
        for key, (name, dmy, mdy) in others.items()
        if (dmy if decision.day_first else mdy)
    }
    valid, options, inferred = infer_account(valid, options, title)
    yield SourceInfo(source, decision.order, decision.evidence, inferred)
    if decision.conflict is not None:
        yield Problem(source, None, decision.conflict)
    parties = decide_parties(valid, options, title)
    if parties.refusal is not None:
        reason = parties.refusal
        if not options.me and not options.local_phone:
            named = f"the file name's {title!r} is neither sender; " if title else ""
            reason += f" ({named}for a one-to-one chat, name the account's own sender with --me)"
        yield Problem(source, None, reason)
        return
    reader = _Reader(source, options, media, decision, parties)
    yield from reader.read(open_text)


@dataclass(slots=True)
class _Pending:
    """The one message being assembled: its header and continuation lines."""

    line: int
    header: Header
    when: datetime
    lines: list[str] = field(default_factory=list)
    size: int = 0  # characters so far, to refuse a message no phone could have written
    too_long_at: int | None = None  # the line that made it too long

    def add(self, number: int, line: str, whole: bool) -> None:
        if self.too_long_at is not None:
            return
        self.size += len(line) + 1 if whole else MAX_MESSAGE_CHARS
        if not whole or self.size > MAX_MESSAGE_CHARS:
            self.too_long_at = number
            self.lines.clear()
        else:
            self.lines.append(clean_body(line))


class _Reader:
    """Pass 2: assemble each message from its header and continuation lines, then judge it."""

    def __init__(
        self,
        source: str,
        options: ReadOptions,
        media: MediaLookup,
        decision: Decision,
        parties: Parties,
    ) -> None:
        self._source = source
        self._options = options
        self._media = media
        self._decision = decision
        self._parties = parties
        self._ids = IdMaker()

    def read(self, open_text: OpenText) -> Iterator[Item]:
        pending: _Pending | None = None
        garbage: tuple[int, int] | None = None  # first line, count before the first header
        for number, line, whole in _lines(open_text):
            header = parse_header(line)
            when = None
            if header is not None:
                when = local_time(header, self._decision.day_first, self._options.timezone)
            if header is not None and when is not None:
                if pending is not None:
                    yield from self._finish(pending)
                elif garbage is not None:
                    yield self._garbage_problem(garbage)
                    garbage = None
                pending = _Pending(number, header, when, size=len(header.body))
                if not whole:  # this message itself is too long; its neighbours are not
                    pending.too_long_at = number
            elif pending is not None:
                word = unknown_period(line) if header is None else None
                if word is not None:
                    reason = (
                        f"time with unknown day period {word!r}: line kept in the message before"
                    )
                    yield Problem(self._source, number, reason)
                pending.add(number, line, whole)
            elif not whole or line.strip():
                garbage = (garbage[0], garbage[1] + 1) if garbage else (number, 1)
        if pending is not None:
            yield from self._finish(pending)
        if garbage is not None:
            yield self._garbage_problem(garbage)

    def _garbage_problem(self, garbage: tuple[int, int]) -> Problem:
        first, count = garbage
        what = "a line" if count == 1 else f"{count} lines"
        return Problem(self._source, first, f"{what} before the first message header not read")

    def _finish(self, pending: _Pending) -> Iterator[Item]:
        header, line = pending.header, pending.line
        if pending.too_long_at is not None:
            reason = (
                f"message longer than {MAX_MESSAGE_CHARS} characters (at line "
                f"{pending.too_long_at}); not imported"
            )
            yield Problem(self._source, line, reason)
            return
        text = without_edited_marker("\n".join([header.body, *pending.lines]).rstrip())
        kind = _kind(header, text)
        if kind is not None or header.sender is None:
            yield Skipped(self._source, line, kind or "system")
            return
        sender = header.sender
        outgoing = is_me(sender, self._options)
        found = media_of(text)
        attachments: tuple[Attachment, ...] = ()
        missing: str | None = None
        if found is not None and found.name is not None:
            blob = self._media(found.name)
            if not isinstance(blob, Blob):
                missing = blob or f"attachment {found.name} not in the archive"
                # As WhatsApp wrote it, in the export's language: Close shows what was sent.
                text = "\n".join(filter(None, [found.placeholder, found.caption]))
            else:
                attachments = (Attachment(found.name, guess_content_type(found.name), blob),)
                text = found.caption
        parties = self._parties
        chat_key = parties.chat_key
        identity = "me" if outgoing else sender_key(sender)
        body = body_key(found.caption if found else text, is_media=found is not None)
        external_id = self._ids.make(chat_key, pending.when, identity, body)
        remote, chat = parties.remote_phone, parties.chat
        if parties.per_sender:
            if outgoing:
                reason = "outgoing message in a group chat has no single recipient"
                yield Problem(self._source, line, reason, external_id)
                return
            remote, chat = phone_for(sender, self._options), sender
        if too_big := oversize_reason(attachments):
            # Close would refuse the whole message; say so now, before anything is read.
            yield Problem(self._source, line, f"{attachments[0].filename}: {too_big}", external_id)
            return
        if missing is not None:
            yield Problem(self._source, line, f"{missing}; imported without it", external_id, True)
        yield Message(
            external_id=external_id,
            timestamp=pending.when,
            source=self._source,
            line=line,
            text=text,
            direction="outgoing" if outgoing else "incoming",
            local_phone=self._options.local_phone,
            remote_phone=remote,
            attachments=attachments,
            sender_name=sender,
            chat=chat,
        )
