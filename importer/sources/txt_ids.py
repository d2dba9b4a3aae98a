"""Stable ids for messages of a text export, which carries no WhatsApp ids.

`external_id = "wa-txt:" + sha256_hex(chat, minute, sender, body, n)` where

- chat: who the conversation is with, as the file says it: the other party's phone digits when
  the sender is written as a number, else their normalised name; `--remote-phone` only when the
  file names no other party; `"group"` for a group whose senders are all phone numbers (the
  sender is part of the key anyway);
- minute: the local wall-clock time to the minute (`2023-03-26T01:59`), so neither the
  `--timezone` option nor seconds (iOS has them, Android not) matter;
- sender: `"me"` for the account's own messages (its display name differs between phones),
  else the normalised sender (phone digits, or the name case-folded without marks, `~`, spaces);
- body: the text without formatting marks, with locale spaces as spaces, lines right-stripped;
  for media only `"media"` and the caption, so the same photo exported from Android
  (`IMG-...jpg (file attached)`), from iOS (`<attached: 0000-PHOTO-...jpg>`) or without its
  file (`<Media omitted>`) keeps one id;
- n: how many earlier messages in the file had the same chat, minute, sender and body.

Nothing depends on the file name, line numbers, the time zone or how the day/month order was
decided beyond the date itself, so a later, longer export of the same chat (a backfill) gives
the messages both hold the same ids. Limits: a message edited between the exports gets a new
id (its text changed); renaming the contact in the phone's address book changes every id of
that chat, and so does saving an unsaved number (its sender turns from a phone into a name);
duplicate counting looks back one day only, so identical messages more than a day out of file
order may collide; two captionless media in the same minute are told apart only by their order
in the file; a chat whose other party never wrote uses `--remote-phone` (or nothing) as chat,
so its ids change once the other party's first message appears in a longer export.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime, timedelta

from importer.sources.txt_headers import clean

_WINDOW = timedelta(days=1)


def body_key(text: str, is_media: bool) -> str:
    """The part of a body that identifies it across exports."""
    lines = [line.rstrip() for line in clean(text).split("\n")]
    normalised = "\n".join(lines).strip()
    return "\x00media\n" + normalised if is_media else normalised


class IdMaker:
    """Hands out ids in file order; remembers recent keys to number exact duplicates."""

    def __init__(self) -> None:
        self._seen: dict[datetime, Counter[tuple[str, str, str]]] = {}
        self._newest: datetime | None = None

    def make(self, chat: str, when: datetime, sender: str, body: str) -> str:
        minute = when.replace(second=0, microsecond=0, tzinfo=None, fold=0)
        if self._newest is None or minute > self._newest:
            self._newest = minute
            if len(self._seen) > 1440:
                horizon = minute - _WINDOW
                self._seen = {m: c for m, c in self._seen.items() if m >= horizon}
        counts = self._seen.setdefault(minute, Counter())
        key = (chat, sender, body)
        occurrence = counts[key]
        counts[key] += 1
        fields = (chat, minute.isoformat(timespec="minutes"), sender, body, str(occurrence))
        digest = hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()
        return "wa-txt:" + digest
