"""What the checkpoint says, asked by id: the file, plus what is not yet committed.

Records fold into rows here, once: the run's answers are final before their commit (a worker
reads its parent's Close id a moment after recording it), so each recorded row is kept in
`recent` until the commit that holds it is done, and every question asks `recent` first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from importer.checkpoint.schema import DONE, FAILED, PENDING
from importer.checkpoint.store import Change, Contact, Entry, File, Link, Store

V = TypeVar("V")
CACHED_ANSWERS = 4096  # per generation; two are kept
COUNTED_AS = {DONE: "imported", PENDING: "pending", FAILED: "failed"}


class CheckpointState:
    """Mapping-like views by id (`done`, `pending`, ...) over the file and the recent rows.

    Only contacts (one per phone) are held whole in memory; a message id costs a keyed read.
    """

    def __init__(self, store: Store):
        self.store = store
        self.recent: dict[str, Entry] = {}
        self._young: dict[str, Entry | None] = {}  # answers of the file, newest first
        self._old: dict[str, Entry | None] = {}
        self.recent_files: dict[str, File] = {}
        self.recent_links: dict[str, Link | tuple[()]] = {}  # reply -> link, () once healed
        self._contacts = store.contacts()
        self.contacts: dict[str, tuple[str, str]] = {
            phone: (c.lead, c.contact)
            for phone, c in self._contacts.items()
            if c.lead is not None and c.contact is not None
        }
        self.lead_intents = {phone for phone, c in self._contacts.items() if c.intended}
        self.done: _Messages[str] = _Messages(self, (DONE,), lambda e: e.close)
        self.sums: _Messages[str] = _Messages(self, (DONE,), lambda e: e.sum)
        self.pending: _Messages[str] = _Messages(self, (PENDING,), lambda e: e.chat)
        self.failed: _Messages[str] = _Messages(self, (FAILED,), lambda e: e.reason or "")
        self.chats: _Messages[str] = _Messages(self, (DONE, PENDING, FAILED), lambda e: e.chat)
        self.files = _Files(self)

    def entry(self, wa_id: str) -> Entry | None:
        entry = self.recent.get(wa_id)
        if entry is not None:
            return entry
        for generation in (self._young, self._old):
            if wa_id in generation:
                return generation[wa_id]
        found = self.store.message(wa_id)
        self._remember(wa_id, found)
        return found

    def done_among(self, wa_ids: Sequence[str]) -> set[str]:
        """Those of `wa_ids` that `done` holds, asked of the file in batches: what a reader of
        millions of ids asks (the planner, see `runner`), its answers too many to cache."""
        recent = self.recent
        found = self.store.done_among([i for i in wa_ids if i not in recent])
        found.update(i for i in wa_ids if i in recent and _is_done(recent[i]))
        return found

    def _remember(self, wa_id: str, entry: Entry | None) -> None:
        """Keep the last few thousand answers: a message is asked about five times as it is
        sent (done? pending? its fold twice, its reply's parent), the file needs to answer once.
        Only this run writes the file, so an answer stays true until a record replaces it, and
        `recent` (asked first) holds that record until its commit, then gives it here."""
        if len(self._young) >= CACHED_ANSWERS:
            self._old, self._young = self._young, {}
        self._young[wa_id] = entry

    def apply(self, record: dict[str, Any]) -> Change:
        """Fold one record (an op of the journal format) in; the row it changed, to write."""
        op = record["op"]
        if op in ("intent", "done", "fail"):
            wa_id = record["id"]
            entry = _fold(self.entry(wa_id), op, record)
            self.recent[wa_id] = entry
            return "messages", wa_id, entry
        if op == "file":
            file = (record["url"], float(record["at"]))
            self.recent_files[record["sha"]] = file
            return "files", record["sha"], file
        if op == "link":  # a reply created without its link: set it once the parent is in Close
            link = (record["close"], record["parent"])
            self.recent_links[record["id"]] = link
            return "links", record["id"], link
        if op == "linked":  # its link is set
            self.recent_links[record["id"]] = ()
            return "linked", record["id"], ()
        if op == "settled":  # a file whose every message is in Close (sources/settled.py)
            return "settled_files", record["key"], (record["source"], record["tally"], record["at"])
        phone = record["phone"]
        if op == "contact":
            contact = Contact(record["lead"], record["contact"], intended=False)
            self.contacts[phone] = (record["lead"], record["contact"])
            self.lead_intents.discard(phone)
        elif op == "lead":
            known = self._contacts.get(phone)
            contact = (
                Contact(known.lead, known.contact, True) if known else Contact(None, None, True)
            )
            self.lead_intents.add(phone)
        else:
            raise ValueError(f"unknown checkpoint op {op!r}")
        self._contacts[phone] = contact
        return "contacts", phone, contact

    def changes(self, record: dict[str, Any]) -> list[Change]:
        """`apply`, and for a failure, where its message was read (for `status --failed`,
        absolute: it may be run from another folder)."""
        change = self.apply(record)
        if record["op"] == "fail" and "source" in record and change[2].state == FAILED:
            where = (str(Path(record["source"]).absolute()), record.get("line"))
            return [change, ("failed_at", record["id"], where)]
        return [change]

    def settle(self, changes: list[Change]) -> None:
        """`changes` are committed: what no later record replaced is read from the file now."""
        for table, key, row in changes:
            if table == "messages" and self.recent.get(key) is row:
                del self.recent[key]
                self._remember(key, row)
            elif table == "files" and self.recent_files.get(key) is row:
                del self.recent_files[key]
            elif table in ("links", "linked") and self.recent_links.get(key) is row:
                del self.recent_links[key]

    def links_of(self, parent: str) -> list[tuple[str, str]]:
        """(reply, its Close id) for each reply whose link waits for `parent`."""
        recent = dict(self.recent_links)
        found = [row for row in self.store.links_of(parent) if row[0] not in recent]
        return found + [(r, link[0]) for r, link in recent.items() if link and link[1] == parent]

    def links(self) -> list[tuple[str, str, str]]:
        """Every link waiting for its parent: (reply, its Close id, the parent)."""
        recent = dict(self.recent_links)
        found = [row for row in self.store.links() if row[0] not in recent]
        return found + [(r, link[0], link[1]) for r, link in recent.items() if link]

    def by_chat(self) -> dict[str, Counter[str]]:
        """Per chat: how many messages are imported, pending and failed (the file's word)."""
        counts: dict[str, Counter[str]] = {}
        for chat, state, n in self.store.chat_counts():
            counts.setdefault(chat, Counter())[COUNTED_AS[state]] += n
        return counts


def _is_done(entry: Entry) -> bool:
    """Whether `done` holds it: the store's `done_among` asks the same of the file."""
    return entry.state == DONE and entry.close is not None


def _fold(entry: Entry | None, op: str, record: dict[str, Any]) -> Entry:
    """The journal's rule: the last word on an id wins, except that `done` is final."""
    if op == "done":
        chat = record.get("chat", entry.chat if entry else "")
        fingerprint = record.get("sum", entry.sum if entry else None)
        return Entry(DONE, chat, record["close"], fingerprint)
    if entry is not None and entry.state == DONE:
        return entry._replace(chat=record.get("chat", "")) if op == "intent" else entry
    if op == "intent":
        return Entry(PENDING, record.get("chat", ""))
    chat = entry.chat if entry is not None else record.get("chat", "")
    return Entry(FAILED, chat, reason=record.get("reason", ""))


class _Messages(Mapping[str, V]):
    """WhatsApp id -> one field of its entry, for the entries in `states` that have it."""

    def __init__(
        self, state: CheckpointState, states: tuple[int, ...], value: Callable[[Entry], V | None]
    ):
        self._state = state
        self._states = states
        self._value = value

    def _find(self, wa_id: str) -> V | None:
        entry = self._state.entry(wa_id)
        return self._value(entry) if entry is not None and entry.state in self._states else None

    def __getitem__(self, wa_id: str) -> V:
        value = self._find(wa_id)
        if value is None:
            raise KeyError(wa_id)
        return value

    def __contains__(self, wa_id: object) -> bool:
        return isinstance(wa_id, str) and self._find(wa_id) is not None

    def __iter__(self) -> Iterator[str]:
        recent = dict(self._state.recent)
        for state in self._states:
            for wa_id, entry in self._state.store.messages(state):
                if wa_id not in recent and self._value(entry) is not None:
                    yield wa_id
        for wa_id, entry in recent.items():
            if entry.state in self._states and self._value(entry) is not None:
                yield wa_id

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Files(Mapping[str, File]):
    """Content SHA-256 -> (download URL, uploaded at)."""

    def __init__(self, state: CheckpointState):
        self._state = state

    def __getitem__(self, sha: str) -> File:
        found = self._state.recent_files.get(sha) or self._state.store.file(sha)
        if found is None:
            raise KeyError(sha)
        return found

    def __iter__(self) -> Iterator[str]:
        recent = dict(self._state.recent_files)
        yield from (sha for sha, _ in self._state.store.files() if sha not in recent)
        yield from recent

    def __len__(self) -> int:
        return sum(1 for _ in self)
