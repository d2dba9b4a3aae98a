"""The checkpoint as releases up to 0.1 wrote it: an append-only JSONL journal, read to migrate.

Every line is one JSON record, the first `{"op": "format", "format": "wa-close-checkpoint/1"}`.
Records, by `op`:

- `intent` {id, chat}: a create for WhatsApp id `id` was about to be sent.
- `done` {id, close, chat?, sum?}: Close holds WhatsApp id `id` as activity `close`.
- `fail` {id, reason, chat?}: Close refused it (or it could not be sent).
- `file` {sha, url, at}: bytes with this SHA-256 were uploaded, to download URL `url`.
- `contact` {phone, lead, contact}: the lead and contact this phone resolved to.
- `lead` {phone}: with --create-missing, a lead for this phone was about to be created.

Folded, the last word on each id wins, except that `done` is final. A crash can leave a torn
last line, which is dropped; a line that does not parse anywhere else is damage, reported with
its line number, since what it said (perhaps an intent) is lost.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

FORMAT = "wa-close-checkpoint/1"
FORMAT_LINE = orjson.dumps({"op": "format", "format": FORMAT}) + b"\n"


@dataclass(slots=True)
class JournalState:
    """What the journal says, folded, in memory (a journal of 1M messages folds in ~450 MB)."""

    done: dict[str, str] = field(default_factory=dict)  # WhatsApp id -> Close activity id
    sums: dict[str, str] = field(default_factory=dict)  # WhatsApp id -> content fingerprint
    pending: dict[str, str] = field(default_factory=dict)  # WhatsApp id -> chat
    failed: dict[str, str] = field(default_factory=dict)  # WhatsApp id -> reason
    chats: dict[str, str] = field(default_factory=dict)  # WhatsApp id -> chat
    files: dict[str, tuple[str, float]] = field(default_factory=dict)  # sha -> (url, uploaded at)
    contacts: dict[str, tuple[str, str]] = field(default_factory=dict)  # phone -> (lead, contact)
    lead_intents: set[str] = field(default_factory=set)  # phones whose lead creation may be lost
    damaged: list[int] = field(default_factory=list)  # numbers of lines that did not parse

    def apply(self, record: dict[str, Any]) -> None:
        op = record.get("op")
        if op == "intent":
            wa_id = record["id"]
            # Thousands of messages share a chat: keep one copy of its name, not one per line.
            self.chats[wa_id] = sys.intern(record.get("chat", ""))
            if wa_id not in self.done:
                self.pending[wa_id] = self.chats[wa_id]
                self.failed.pop(wa_id, None)
        elif op == "done":
            wa_id = record["id"]
            self.done[wa_id] = record["close"]
            if "chat" in record:  # compacted journals carry the chat on the done line
                self.chats[wa_id] = sys.intern(record["chat"])
            if "sum" in record:
                self.sums[wa_id] = record["sum"]
            self.pending.pop(wa_id, None)
            self.failed.pop(wa_id, None)
        elif op == "fail":
            wa_id = record["id"]
            if wa_id not in self.done:
                self.failed[wa_id] = record.get("reason", "")
                self.pending.pop(wa_id, None)
                self.chats.setdefault(wa_id, record.get("chat", ""))
        elif op == "file":
            self.files[record["sha"]] = (record["url"], float(record["at"]))
        elif op == "contact":
            self.contacts[record["phone"]] = (record["lead"], record["contact"])
            self.lead_intents.discard(record["phone"])
        elif op == "lead":
            self.lead_intents.add(record["phone"])
        # Unknown ops come from newer versions; ignoring them keeps old runs readable.


def is_journal(head: bytes) -> bool:
    """Whether a file starting with `head` is a journal (or one torn inside its first line)."""
    if head.startswith(FORMAT_LINE):
        return True
    return len(head) < len(FORMAT_LINE) and FORMAT_LINE.startswith(head)


def load_journal(path: Path) -> JournalState:
    """Fold the journal's complete records, a line at a time (1M messages are ~200 MB)."""
    state = JournalState()
    with path.open("rb") as journal:
        for number, raw in enumerate(journal, start=1):
            if not raw.endswith(b"\n"):
                break  # torn by a crash mid-write: never acted upon, since never fully written
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                record = None
            if not (isinstance(record, dict) and _applied(state, record)):
                state.damaged.append(number)
    return state


def _applied(state: JournalState, record: dict[str, Any]) -> bool:
    try:
        state.apply(record)
    except (KeyError, TypeError, ValueError):  # a record cut short, or a field of another type
        return False
    return True
