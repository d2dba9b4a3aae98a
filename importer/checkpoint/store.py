"""Rows in and out of the checkpoint's SQLite file: keyed reads, alone or many at once; batched
writes."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from importer.checkpoint.schema import DONE, FAILED
from importer.errors import CheckpointError


class Entry(NamedTuple):
    """What the checkpoint knows of one WhatsApp id."""

    state: int  # schema.PENDING, DONE or FAILED
    chat: str
    close: str | None = None
    sum: str | None = None
    reason: str | None = None


class Contact(NamedTuple):
    lead: str | None  # None while only the intent to create a lead is known
    contact: str | None
    intended: bool


class Failure(NamedTuple):
    """A failed id, why, and where it was read (None: recorded before the checkpoint kept it)."""

    wa_id: str
    reason: str
    source: str | None
    line: int | None


class LastRun(NamedTuple):
    """The sources and options of the checkpoint's last run (see `importer/rerun.py`)."""

    at: float  # epoch seconds it started
    sources: tuple[str, ...]
    options: tuple[str, ...]


HELD_READS = 1000
IN_BATCH = 500  # ids per `IN (...)`: far below SQLite's limit on parameters (999 before 3.32)
File = tuple[str, float]  # download URL, uploaded at (epoch seconds)
Link = tuple[str, str]  # a reply's Close id, its parent's WhatsApp id
# table, key, the row it now holds (Entry, Contact, File, Link; () for a link healed)
Change = tuple[str, str, Any]

_WRITES = {
    "messages": "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (wa_id) DO UPDATE "
    "SET state = excluded.state, chat = excluded.chat, close_id = excluded.close_id, "
    "sum = excluded.sum, reason = excluded.reason",
    "files": "INSERT OR REPLACE INTO files VALUES (?, ?, ?)",
    "contacts": "INSERT OR REPLACE INTO contacts VALUES (?, ?, ?, ?)",
    "links": "INSERT OR REPLACE INTO links VALUES (?, ?, ?)",
    "linked": "DELETE FROM links WHERE reply = ?",  # after "links": added and healed at once
    "failed_at": "INSERT OR REPLACE INTO failed_at VALUES (?, ?, ?)",
    "last_run": "INSERT OR REPLACE INTO last_run VALUES (?, ?, ?, ?)",
    "settled_files": "INSERT OR REPLACE INTO settled_files VALUES (?, ?, ?, ?)",
}


class Store:
    """Reads through one connection, shared by the event loop and the planning thread.

    Until the first write (while a run plans, and always for `status` and `--dry-run`) reads
    share read transactions of HELD_READS reads each: a keyed read then costs ~4 µs instead of
    ~12, the file's lock taken once per group; between groups a run starting beside a long
    `--dry-run` gets its turn. Once the run writes, each read is its own transaction again, so
    it sees every commit and never holds the WAL back from its reset.
    """

    def __init__(self, db: sqlite3.Connection, where: Path):
        self._db = db
        self._where = where
        self._lock = threading.Lock()
        self._holding = True
        self._held_reads = 0

    def stop_holding(self) -> None:
        """From now on, read what each commit made (called before the first write)."""
        with self._lock:
            self._holding = False
            if self._db.in_transaction:
                self._db.execute("COMMIT")

    def _begin(self, reads: int = 1) -> None:
        if not self._holding:
            return
        self._held_reads += reads
        if self._held_reads >= HELD_READS and self._db.in_transaction:
            self._db.execute("COMMIT")
            self._held_reads = 0
        if not self._db.in_transaction:
            self._db.execute("BEGIN")

    def _rows(self, sql: str, *args: object, hold: bool = True, reads: int = 1) -> list[Any]:
        """The answer's rows; `reads`: how many keyed reads it stands for, for HELD_READS."""
        try:
            with self._lock:
                if hold:
                    self._begin(reads)
                return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise unreadable(self._where, exc) from exc

    def _stream(self, sql: str, *args: object) -> Iterator[Any]:
        """Rows of a long answer, a slice at a time, the lock held only while fetching."""
        try:
            with self._lock:
                self._begin()
                cursor = self._db.execute(sql, args)
            while True:
                with self._lock:
                    rows = cursor.fetchmany(1000)
                if not rows:
                    return
                yield from rows
        except sqlite3.Error as exc:
            raise unreadable(self._where, exc) from exc

    def message(self, wa_id: str) -> Entry | None:
        rows = self._rows(
            "SELECT state, chat, close_id, sum, reason FROM messages WHERE wa_id = ?", wa_id
        )
        return Entry(*rows[0]) if rows else None

    def done_among(self, wa_ids: Sequence[str]) -> set[str]:
        """Those of `wa_ids` held as done: IN_BATCH ids a query, not one each (a rerun asks
        this of every message it reads)."""
        found: set[str] = set()
        for start in range(0, len(wa_ids), IN_BATCH):
            batch = wa_ids[start : start + IN_BATCH]
            sql = f"SELECT wa_id FROM messages WHERE wa_id IN ({','.join('?' * len(batch))})"
            sql += f" AND state = {DONE} AND close_id IS NOT NULL"
            found.update(row[0] for row in self._rows(sql, *batch, reads=len(batch)))
        return found

    def messages(self, state: int) -> Iterator[tuple[str, Entry]]:
        sql = "SELECT wa_id, state, chat, close_id, sum, reason FROM messages WHERE state = ?"
        if state != DONE:  # the index of unsettled ids serves a query that repeats its condition
            sql += f" AND state != {DONE}"
        for wa_id, *row in self._stream(sql, state):
            yield wa_id, Entry(*row)

    def has_messages(self) -> bool:
        return bool(self._rows("SELECT EXISTS (SELECT 1 FROM messages)")[0][0])

    def chat_counts(self) -> list[tuple[str, int, int]]:
        return self._rows("SELECT chat, state, n FROM chat_counts WHERE n > 0")

    def file(self, sha: str) -> File | None:
        rows = self._rows("SELECT url, at FROM files WHERE sha = ?", sha)
        return (rows[0][0], rows[0][1]) if rows else None

    def files(self) -> Iterator[tuple[str, File]]:
        for sha, url, at in self._stream("SELECT sha, url, at FROM files"):
            yield sha, (url, at)

    def links_of(self, parent: str) -> list[tuple[str, str]]:
        """(reply WhatsApp id, reply Close id) of the replies waiting for `parent`."""
        return self._rows("SELECT reply, close_id FROM links WHERE parent = ?", parent)

    def links(self) -> list[tuple[str, str, str]]:
        """Every link still waiting: (reply, reply Close id, parent)."""
        return self._rows("SELECT reply, close_id, parent FROM links")

    def contacts(self) -> dict[str, Contact]:
        rows = self._rows("SELECT phone, lead, contact, lead_intended FROM contacts")
        return {
            phone: Contact(lead, contact, bool(intended)) for phone, lead, contact, intended in rows
        }

    def failures(self) -> Iterator[Failure]:
        """Every failed id, by source and line (where each was read, when the file kept it)."""
        if self._lacks("failed_at"):  # a file of an earlier release, read as it is
            sql = "SELECT wa_id, reason, NULL, NULL FROM messages m"
        else:
            sql = "SELECT m.wa_id, m.reason, f.source, f.line FROM messages m "
            sql += "LEFT JOIN failed_at f USING (wa_id)"
        sql += f" WHERE m.state = {FAILED} AND m.state != {DONE} ORDER BY 3, 4, 1"
        for wa_id, reason, source, line in self._stream(sql):
            yield Failure(wa_id, reason or "", source, line)

    def last_run(self) -> LastRun | None:
        if self._lacks("last_run"):
            return None
        rows = self._rows("SELECT at, sources, options FROM last_run")
        if not rows:
            return None
        at, sources, options = rows[0]
        return LastRun(at, tuple(orjson.loads(sources)), tuple(orjson.loads(options)))

    def has_settled_files(self) -> bool:
        if self._lacks("settled_files"):
            return False
        return bool(self._rows("SELECT EXISTS (SELECT 1 FROM settled_files)")[0][0])

    def settled_file(self, key: str) -> str | None:
        """The tally (JSON) of the file settled under `key`, if one is."""
        rows = self._rows("SELECT tally FROM settled_files WHERE key = ?", key)
        return rows[0][0] if rows else None

    def _lacks(self, table: str) -> bool:
        """Whether a table of a later schema step is missing (`status` opens files read-only,
        so an older file is read without its later steps)."""
        sql = "SELECT NOT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)"
        return bool(self._rows(sql, table)[0][0])

    def damage(self) -> str | None:
        """What `PRAGMA quick_check` finds wrong with the file, or None."""
        # Outside a held transaction: the file may change journal mode right after.
        found = [row[0] for row in self._rows("PRAGMA quick_check", hold=False)]
        return None if found == ["ok"] else "; ".join(found[:3])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def damaged(shown: Path, detail: str) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {shown} is damaged ({detail}), so it cannot tell what may already be in "
        f"Close; nothing more is sent. Move it aside (mv {shown} {shown}.damaged) and rerun: a "
        "new checkpoint checks every chat against Close first, so nothing is imported twice"
    )


def unreadable(shown: Path, exc: sqlite3.Error) -> CheckpointError:
    if exc.sqlite_errorname in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
        return damaged(shown, str(exc))
    return CheckpointError(f"cannot read checkpoint {shown}: {exc}")


def write(db: sqlite3.Connection, changes: Iterable[Change]) -> None:
    """Write `changes` in one transaction: all of them, or (raising) none."""
    db.execute("BEGIN IMMEDIATE")
    try:
        by_table: dict[str, list[tuple[Any, ...]]] = {table: [] for table in _WRITES}
        for n, (table, key, row) in enumerate(changes, start=1):
            by_table[table].append((key, *row))
            if n % 10_000 == 0:  # a migration or a bulk load writes millions: stay flat
                _flush(db, by_table)
        _flush(db, by_table)
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):  # a full disk may refuse the rollback too
            if db.in_transaction:
                db.execute("ROLLBACK")
        raise


def _flush(db: sqlite3.Connection, by_table: dict[str, list[tuple[Any, ...]]]) -> None:
    for table, rows in by_table.items():
        if rows:
            db.executemany(_WRITES[table], rows)
            rows.clear()
