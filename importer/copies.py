"""Messages under WhatsApp's own ids (Cloud API logs): copies made one, media halves joined.

Webhooks are delivered at least once, a history chunk may come twice, and messages around a
coexistence onboarding come both in the history and live: copies of one message, never two
messages. The first whole copy read is the message; a later copy that brings a reply link or a
sender name the first lacked (the live copy of a history message, where Meta shows no
`context`) lends it those. A history media
message comes in two halves, a placeholder in its chat and a media webhook with its contents,
anywhere in the sources: whichever comes first is held until the other does.

Per id this keeps one mark in the `IdIndex` (which of those fields the message has); per media
message still waiting for its other half, that half (one `Message`: about 530 bytes measured,
index entry included).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

from importer.message_ids import IdIndex
from importer.model import Message, Part

# What an id's mark in the index records: fields its planned message has, halves read.
_REPLY, _NAME, _PLACEHOLDER, _MEDIA = 1, 2, 4, 8
_ALL = 15
_HALF = {"placeholder": _PLACEHOLDER, "media": _MEDIA}


@dataclass(frozen=True, slots=True)
class Taken:
    """A message to plan at `position`; `amends`: it amends the earlier copy planned."""

    message: Message
    position: int
    amends: bool = False


class Copies:
    """Counts as `duplicate` every copy, and no half that completes a pair, in any order."""

    def __init__(self, ids: IdIndex, skipped: Counter[str]):
        self._ids = ids
        self._skipped = skipped
        self._halves: dict[str, tuple[int, Message]] = {}  # id -> (position, half held)

    def take(self, message: Message, position: int) -> Taken | None:
        """What to plan now of `message`, read at `position`: None for a copy or a half held."""
        wa_id = message.external_id
        earlier = self._ids.get(wa_id)
        # Marks are negative; a digest (a canonical line with this id) counts as having all.
        had = 0 if earlier is None else -1 - earlier if earlier < 0 else _ALL
        held = self._halves.pop(wa_id, None)
        if held is not None:
            taken = self._join(held, message, position)
        elif earlier is not None:
            taken = self._copy(message, position, had)
        elif message.part is not None:
            self._halves[wa_id] = (position, message)
            taken = None
        else:
            taken = Taken(message, position)
        if earlier is None or earlier < 0:
            planned = _fields(taken.message) if taken is not None else 0
            self._ids.add(wa_id, -1 - (had | planned | _HALF.get(message.part or "", 0)))
        return taken

    def lone_halves(self) -> Iterator[tuple[Taken, Part]]:
        """At the end of the input: the halves whose other half never came, as whole messages,
        and which half each was."""
        halves, self._halves = self._halves, {}
        for position, half in sorted(halves.values(), key=lambda held: held[0]):
            assert half.part is not None
            yield Taken(replace(half, part=None), position), half.part

    def _join(self, held: tuple[int, Message], message: Message, position: int) -> Taken | None:
        held_at, half = held
        if message.part == half.part:
            self._halves[message.external_id] = held  # the same half again: its chunk came twice
            self._skipped["duplicate"] += 1
            return None
        at = held_at if half.part == "placeholder" else position
        if message.part is None:
            # A whole copy (the live webhook) wins over a half and keeps the chat's place; a
            # placeholder never replaces real contents.
            self._skipped["duplicate"] += 1
            joined = replace(message, reply_to=message.reply_to or half.reply_to)
            return Taken(joined, at)
        chat, media = (half, message) if half.part == "placeholder" else (message, half)
        return Taken(_with_contents(chat, media), at)

    def _copy(self, message: Message, position: int, had: int) -> Taken | None:
        """A message under an id already planned: a copy, or the other half of a pair."""
        half = _HALF.get(message.part or "", 0)
        if half and not had & half and had & (_PLACEHOLDER | _MEDIA):
            return None  # the second half of a pair whose message a whole copy already gave
        self._skipped["duplicate"] += 1
        if message.part is not None or not _fields(message) & ~had:
            return None
        return Taken(message, position, amends=True)


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
