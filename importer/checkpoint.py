"""The checkpoint: an append-only journal of what this importer has done in Close.

Every line is one JSON record; the file is only ever appended to, so a crash can at worst leave
a torn last line, which loading drops. Records, by `op`:

- `intent` {id, chat}: a create for WhatsApp id `id` is about to be sent. Written (to the OS)
  before the request leaves, so a crash between the two is seen on the next start.
- `done` {id, close, sum?}: Close holds WhatsApp id `id` as activity `close`; `sum` fingerprints
  the content sent (text and attachments), so `--sync-edits` can tell what changed since.
- `fail` {id, reason}: Close refused it (or it could not be sent); a rerun tries again.
- `file` {sha, url, at}: bytes with this SHA-256 were uploaded; `url` is their download URL,
  usable in activities until `at` + 24 h.
- `contact` {phone, lead, contact}: the lead and contact this phone resolved to.
- `lead` {phone}: with --create-missing, a lead for this phone is about to be created; until a
  `contact` record follows, a restart searches Close again before creating one.

An intent with neither `done` nor `fail` after it is *pending*: its create may or may not have
reached Close, so it is looked up there before anything is re-sent.

The journal grows by two lines per message; when it holds twice the records its facts need
(and more than COMPACT_AFTER), opening it rewrites it as one record per fact, atomically.

One writer at a time: the run holds an exclusive `flock` on `<checkpoint>.lock` for its whole
life; the lock vanishes with the process, so a killed run never blocks the next one.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiofiles
import orjson
from aiofiles.threadpool.binary import AsyncFileIO

from importer.errors import CheckpointError, CheckpointLocked

FORMAT = "wa-close-checkpoint/1"
# A journal of intent+done pairs holds twice the records its facts need; past this many
# records, opening it rewrites it with one record per fact.
COMPACT_AFTER = 10_000


@dataclass(slots=True)
class CheckpointState:
    """What the journal says, folded: the last word on each WhatsApp id wins."""

    done: dict[str, str] = field(default_factory=dict)  # WhatsApp id -> Close activity id
    sums: dict[str, str] = field(default_factory=dict)  # WhatsApp id -> content fingerprint
    pending: dict[str, str] = field(default_factory=dict)  # WhatsApp id -> chat
    failed: dict[str, str] = field(default_factory=dict)  # WhatsApp id -> reason
    chats: dict[str, str] = field(default_factory=dict)  # WhatsApp id -> chat
    files: dict[str, tuple[str, float]] = field(default_factory=dict)  # sha -> (url, uploaded at)
    contacts: dict[str, tuple[str, str]] = field(default_factory=dict)  # phone -> (lead, contact)
    lead_intents: set[str] = field(default_factory=set)  # phones whose lead creation may be lost

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

    def snapshot(self) -> Iterator[dict[str, Any]]:
        """Records that load back into this very state, one per fact."""
        yield {"op": "format", "format": FORMAT}
        for wa_id, close in self.done.items():
            record = {"op": "done", "id": wa_id, "close": close}
            if wa_id in self.chats:
                record["chat"] = self.chats[wa_id]
            if wa_id in self.sums:
                record["sum"] = self.sums[wa_id]
            yield record
        for wa_id, chat in self.pending.items():
            yield {"op": "intent", "id": wa_id, "chat": chat}
        for wa_id, reason in self.failed.items():
            yield {"op": "fail", "id": wa_id, "reason": reason, "chat": self.chats.get(wa_id, "")}
        for sha, (url, at) in self.files.items():
            yield {"op": "file", "sha": sha, "url": url, "at": at}
        for phone, (lead, contact) in self.contacts.items():
            yield {"op": "contact", "phone": phone, "lead": lead, "contact": contact}
        for phone in self.lead_intents:
            yield {"op": "lead", "phone": phone}

    def facts(self) -> int:
        parts = (self.done, self.pending, self.failed, self.files, self.contacts, self.lead_intents)
        return sum(len(part) for part in parts)


def _load(path: Path, state: CheckpointState) -> tuple[int, int]:
    """Apply the journal's complete records to `state`; their size in bytes, and their count.

    Read a line at a time: a journal of a million messages is ~200 MB. Whatever follows the last
    newline was being written when a process died, and is dropped.
    """
    complete = records = 0
    with path.open("rb") as journal:
        for raw in journal:
            if not raw.endswith(b"\n"):
                break
            complete += len(raw)
            records += 1
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue  # a torn line that a later run wrote past; nothing in it is trustworthy
            if isinstance(record, dict):
                state.apply(record)
    return complete, records


def load_state(path: Path) -> CheckpointState:
    """Read a checkpoint without taking its lock (for `status` and `--dry-run`)."""
    state = CheckpointState()
    try:
        _load(path, state)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror}") from exc
    return state


class Checkpoint:
    """The journal of one run: holds the lock, loads the state, appends records in groups."""

    def __init__(self, path: Path):
        self.path = path
        self.state = CheckpointState()
        self.is_new = True
        self._lock_fd: int | None = None
        self._file: AsyncFileIO | None = None
        self._buffer: list[bytes] = []
        self._written: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._failure: CheckpointError | None = None

    async def open(self) -> None:
        self._lock()
        try:
            self.path.touch()
            complete, records = _load(self.path, self.state)
            if records > COMPACT_AFTER and records >= 2 * self.state.facts():
                complete = self._compact()
            elif complete < self.path.stat().st_size:
                # Cut the torn tail so the next record starts on a line of its own.
                os.truncate(self.path, complete)
        except OSError as exc:
            self._unlock()
            raise CheckpointError(f"cannot read checkpoint {self.path}: {exc.strerror}") from exc
        # New as far as messages go: it cannot tell what Close already holds.
        self.is_new = not (self.state.done or self.state.pending or self.state.failed)
        self._file = await aiofiles.open(self.path, "ab", buffering=0)
        if complete == 0:
            self.record({"op": "format", "format": FORMAT})

    async def close(self) -> None:
        """Write what is still buffered, then let the lock go; raises if any write failed."""
        try:
            if self._flusher is not None:
                await asyncio.shield(self._flusher)
            if self._file is not None:
                # Through the OS to the disk: the next run may be after a power cut.
                await asyncio.to_thread(os.fsync, self._file.fileno())
                await self._file.close()
                self._file = None
        finally:
            self._unlock()
        if self._failure is not None:
            raise self._failure

    def record(self, *records: dict[str, Any]) -> None:
        """Take records now and write them soon, in the next grouped write.

        For results (done, fail, file, contact): losing the last few to a crash costs a lookup
        or an upload on the next start, never a duplicate.
        """
        for record in records:
            self.state.apply(record)
            self._buffer.append(orjson.dumps(record) + b"\n")
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def write_ahead(self, *records: dict[str, Any]) -> None:
        """Write records and return once the OS has them (intents, before their request)."""
        if self._failure is not None:
            raise self._failure
        if self._written is None:
            self._written = asyncio.get_running_loop().create_future()
        written = self._written
        self.record(*records)
        await asyncio.shield(written)

    async def _flush(self) -> None:
        assert self._file is not None
        while self._buffer:
            data = b"".join(self._buffer)
            self._buffer.clear()
            written, self._written = self._written, None
            try:
                await self._file.write(data)
            except OSError as exc:
                self._failure = CheckpointError(
                    f"cannot write checkpoint {self.path}: {exc.strerror}"
                )
                # Fail the next batch's waiters too: nothing will write their records now.
                for waiter in (written, self._written):
                    if waiter is not None and not waiter.done():
                        waiter.set_exception(self._failure)
                        waiter.exception()  # retrieved: a waiter cancelled meanwhile is no leak
                self._written = None
                self._buffer.clear()
                return
            if written is not None:
                written.set_result(None)

    def _compact(self) -> int:
        """Replace the journal by one record per fact: written aside, synced, renamed over.

        A crash at any point leaves either the old journal or the new one, both whole.
        """
        temporary = self.path.with_name(self.path.name + ".compacting")
        with temporary.open("wb") as snapshot:
            for record in self.state.snapshot():
                snapshot.write(orjson.dumps(record) + b"\n")
            snapshot.flush()
            os.fsync(snapshot.fileno())
            size = snapshot.tell()
        temporary.replace(self.path)
        return size

    def remember_contact(self, phone: str, found: tuple[str, str]) -> None:
        self.record({"op": "contact", "phone": phone, "lead": found[0], "contact": found[1]})

    async def intend_lead(self, phone: str) -> None:
        await self.write_ahead({"op": "lead", "phone": phone})

    def lead_intended(self, phone: str) -> bool:
        return phone in self.state.lead_intents

    def _lock(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            message = f"cannot open checkpoint lock {lock_path}: {exc.strerror}"
            raise CheckpointError(message) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise CheckpointLocked(
                f"checkpoint {self.path} is in use by a running import (pid {holder}); "
                "wait for it to finish or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
