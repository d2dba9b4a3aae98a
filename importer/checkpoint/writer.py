"""The checkpoint of one run: holds the lock, answers from the file, commits records in groups."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import orjson

from importer.checkpoint import lock, schema
from importer.checkpoint.access import open_for_writing, real_path
from importer.checkpoint.state import CheckpointState
from importer.checkpoint.store import Change, LastRun, Store, write
from importer.errors import CheckpointError

# Results alone wait up to this long for an intent to share their commit: one commit per
# created message instead of two, and a crash loses at most this much of them (a lookup each).
RESULTS_WAIT_S = 0.05


class Checkpoint:
    """Records fold into `state` at once and reach the file in the next grouped commit."""

    state: CheckpointState

    def __init__(self, path: Path):
        self.path = path
        self.is_new = True
        self._real = real_path(path)
        self._lock_fd: int | None = None
        self._db: sqlite3.Connection | None = None
        self._store: Store | None = None
        self._reads_held = True
        self._intent_waits = asyncio.Event()  # set when a write-ahead caller waits for a commit
        self._closing = False
        self._buffer: list[Change] = []
        self._written: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._failure: CheckpointError | None = None
        self._failure_seen = False

    async def open(self) -> None:
        self._lock_fd = lock.take(self._real, self.path)
        try:
            self._db, self._store = open_for_writing(self._real, self.path)
            self.state = CheckpointState(self._store)
            # New as far as messages go: it cannot tell what Close already holds.
            self.is_new = not self._store.has_messages()
        except BaseException:
            self._release()
            self._unlock()
            raise

    async def close(self) -> None:
        """Commit what is still buffered, then let the lock go.

        Raises if a commit failed and no write-ahead caller has been told: the run would
        otherwise end as if its results were kept.
        """
        self._closing = True
        self._intent_waits.set()
        try:
            if self._flusher is not None:
                await asyncio.shield(self._flusher)
            await asyncio.to_thread(self._release)
        finally:
            self._unlock()
        if self._failure is not None and not self._failure_seen:
            raise self._failure

    async def remember_run(self, run: LastRun) -> None:
        """Keep this run's sources and options in place of the last run's, before sending."""
        assert self._db is not None
        row = (run.at, orjson.dumps(run.sources).decode(), orjson.dumps(run.options).decode())
        try:
            await asyncio.to_thread(write, self._db, [("last_run", "last", row)])
        except (sqlite3.Error, OSError) as exc:
            raise CheckpointError(f"cannot write checkpoint {self.path}: {exc}") from exc

    def record(self, *records: dict[str, Any]) -> None:
        """Take records now and commit them soon, in the next grouped commit.

        For results (done, fail, file, contact): losing the last few to a crash costs a lookup
        or an upload on the next start, never a duplicate.
        """
        if self._reads_held and self._store is not None:
            self._store.stop_holding()  # the first write: from now on reads see each commit
            self._reads_held = False
        changes = [change for record in records for change in self.state.changes(record)]
        if self._failure is not None:
            return  # nothing reaches the file any more; the run is stopping
        self._buffer += changes
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def write_ahead(self, *records: dict[str, Any]) -> None:
        """Record and return once the records are committed (intents, before their request).

        After any failed commit, raises: nothing more may be sent once the file can no longer
        say what was.
        """
        if self._failure is not None:
            self._failure_seen = True
            raise self._failure
        if self._written is None:
            self._written = asyncio.get_running_loop().create_future()
            self._intent_waits.set()
        written = self._written
        self.record(*records)
        try:
            await asyncio.shield(written)
        except CheckpointError:
            self._failure_seen = True
            raise

    async def _flush(self) -> None:
        assert self._db is not None
        while self._buffer and self._failure is None:
            if self._written is None and not self._closing:
                # Only results so far: they ride with the next intent's commit, or soon alone.
                self._intent_waits.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._intent_waits.wait(), RESULTS_WAIT_S)
            batch, self._buffer = self._buffer, []
            written, self._written = self._written, None
            try:
                await asyncio.to_thread(write, self._db, batch)
            except (sqlite3.Error, OSError) as exc:
                self._fail(CheckpointError(f"cannot write checkpoint {self.path}: {exc}"), written)
                return
            self.state.settle(batch)
            if written is not None:
                written.set_result(None)

    def _fail(self, failure: CheckpointError, written: asyncio.Future[None] | None) -> None:
        """Fail every waiter: the batch's, and the next one's (waiting for this flush to end)."""
        self._failure = failure
        self._buffer.clear()
        for waiter in (written, self._written):
            if waiter is not None and not waiter.done():
                waiter.set_exception(failure)
                waiter.exception()  # retrieved here too: a waiter cancelled meanwhile is no leak
        self._written = None

    def remember_contact(self, phone: str, found: tuple[str, str]) -> None:
        self.record({"op": "contact", "phone": phone, "lead": found[0], "contact": found[1]})

    async def intend_lead(self, phone: str) -> None:
        await self.write_ahead({"op": "lead", "phone": phone})

    def lead_intended(self, phone: str) -> bool:
        return phone in self.state.lead_intents

    def _release(self) -> None:
        """Close both connections, the WAL folded into the file."""
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._db is not None:
            schema.fold_wal(self._db)  # on a full disk the WAL stays beside it, the file whole
            self._db.close()
            self._db = None

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            lock.release(self._lock_fd)
            self._lock_fd = None
