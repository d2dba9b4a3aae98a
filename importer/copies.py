"""Messages under WhatsApp's own ids (Cloud API logs): copies made one, media halves joined.

Webhooks are delivered at least once, a history chunk may come twice, and messages around a
coexistence onboarding come both in the history and live: copies of one message, never two
messages. The first whole copy read is the message; a later copy that brings a reply link or a
sender name the first lacked (the live copy of a history message, where Meta shows no
`context`) lends it those. A history media
message comes in two halves, a placeholder in its chat and a media webhook with its contents,
anywhere in the sources: whichever comes first is held until the other does.

Per id this keeps one mark in the `IdIndex` (which of those fields the message has); per media
message still waiting for its other half, that half (one `Message`, a few hundred bytes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

from importer.message_ids import IdIndex
from importer.model import Message, Part

_REPLY, _NAME, _ALL = 1, 2, 3


@dataclass(frozen=True, slots=True)
class Taken:
    """A message to plan at `position`; `amends`: it replaces the earlier copy planned."""

    message: Message
    position: int
    amends: bool = False


class Copies:
    def __init__(self, ids: IdIndex, skipped: Counter[str]):
        self._ids = ids
        self._skipped = skipped
        self._halves: dict[str, tuple[int, Message]] = {}  # id -> (position, half held)

    def take(self, message: Message, position: int) -> Taken | None:
        """What to plan now of `message`, read at `position`: None for a copy or a half held."""
        wa_id = message.external_id
        held = self._halves.pop(wa_id, None)
        if held is None:
            earlier = self._ids.get(wa_id)
            if earlier is not None:
                return self._copy(message, position, earlier)
            self._mark(message)
            if message.part is not None:
                self._halves[wa_id] = (position, message)
                return None
            return Taken(message, position)
        held_at, half = held
        if message.part == half.part:
            self._halves[wa_id] = held  # the same half again: its chunk came twice
            self._skipped["duplicate"] += 1
            return None
        if message.part is None:
            # A whole copy (the live webhook) wins over a half and keeps the chat's place; a
            # placeholder never replaces real contents.
            joined = replace(message, reply_to=message.reply_to or half.reply_to)
        else:
            chat, media = (half, message) if half.part == "placeholder" else (message, half)
            joined = _with_contents(chat, media)
        self._mark(joined)
        return Taken(joined, held_at if half.part == "placeholder" else position)

    def lone_halves(self) -> Iterator[tuple[Taken, Part]]:
        """At the end of the input: the halves whose other half never came, as whole messages,
        and which half each was."""
        halves, self._halves = self._halves, {}
        for position, half in sorted(halves.values(), key=lambda held: held[0]):
            assert half.part is not None
            yield Taken(replace(half, part=None), position), half.part

    def _copy(self, message: Message, position: int, earlier: int) -> Taken | None:
        self._skipped["duplicate"] += 1
        # Marks are negative; a digest (a canonical line with this id) counts as having all.
        had = -1 - earlier if earlier < 0 else _ALL
        brings = _fields(message) & ~had
        if message.part is not None or not brings:
            return None
        self._ids.add(message.external_id, -1 - (had | brings))
        return Taken(message, position, amends=True)

    def _mark(self, message: Message) -> None:
        self._ids.add(message.external_id, -1 - _fields(message))


def _fields(message: Message) -> int:
    return (_REPLY if message.reply_to else 0) | (_NAME if message.sender_name else 0)


def _with_contents(chat: Message, media: Message) -> Message:
    """The placeholder `chat` with what its media webhook brought: direction, phones and time
    stay the thread's (Meta's own sample gives the media webhook others)."""
    return replace(
        chat,
        text=media.text,
        attachments=media.attachments,
        reply_to=chat.reply_to or media.reply_to,
        part=None,
    )
