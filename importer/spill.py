"""Replies that wait on disk for a parent not read yet: a temporary SQLite file of their own.

A reply read before its parent (a webhook log from several servers, a recent-first migration)
cannot be sent until its parent is in Close, and its parent may be a million lines further on,
or in no source at all. Holding such replies in memory would make memory grow with the archive;
here they wait on disk, keyed by the parent's WhatsApp id, until the parent is done or the
input has ended.

The file is scratch: nothing in it is a promise to anyone. It is created on the first reply that
needs it, written without journal or sync, and deleted when the run ends; after a crash the next
run reads the archive again and spills anew.
"""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

from importer.plan import Planned
from importer.scratch import discard, failing_as_scratch, open_scratch


class Spill:
    """Planned replies by parent id, on disk; every one put is taken or drained exactly once."""

    def __init__(self, directory: Path):
        self._directory = directory
        self._db: sqlite3.Connection | None = None
        self._path: Path | None = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def put(self, parent: str, planned: Planned) -> None:
        key = planned.message.timestamp.timestamp()
        # Pickle is safe here: the file is this run's own scratch, read back only by this run.
        data = pickle.dumps(planned, protocol=pickle.HIGHEST_PROTOCOL)
        row = (planned.external_id, parent, key, planned.seq, data)
        db = self._open()
        with failing_as_scratch(self._directory):
            db.execute("INSERT INTO waiting VALUES (?, ?, ?, ?, ?)", row)
        self._count += 1

    def holds(self, wa_id: str) -> bool:
        if not self._count:
            return False
        assert self._db is not None
        with failing_as_scratch(self._directory):
            found = self._db.execute("SELECT 1 FROM waiting WHERE id = ?", (wa_id,)).fetchone()
        return bool(found)

    def take(self, parent: str, limit: int) -> list[Planned]:
        """Up to `limit` of the replies waiting for `parent`, removed from the file."""
        return self._remove("WHERE parent = ?", (parent,), limit)

    def oldest(self, limit: int) -> list[Planned]:
        """Up to `limit` of the replies still waiting, first in send order, removed from disk."""
        return self._remove("ORDER BY at, seq", (), limit)

    def _remove(self, choose: str, args: tuple[object, ...], limit: int) -> list[Planned]:
        """The rows `choose` picks (at most `limit`), deleted, in send order."""
        if not self._count:
            return []
        assert self._db is not None
        with failing_as_scratch(self._directory):
            rows = self._db.execute(
                "DELETE FROM waiting WHERE rowid IN "
                f"(SELECT rowid FROM waiting {choose} LIMIT ?) RETURNING at, seq, payload",
                (*args, limit),
            ).fetchall()
        self._count -= len(rows)
        # RETURNING gives no order: sort here.
        return [pickle.loads(row[2]) for row in sorted(rows, key=lambda r: (r[0], r[1]))]

    def close(self) -> None:
        discard(self._db, self._path)
        self._db, self._path = None, None
        self._count = 0

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self._db, self._path = open_scratch(self._directory, "waiting", _SCHEMA)
        return self._db


_SCHEMA = """
CREATE TABLE waiting (id TEXT NOT NULL, parent TEXT NOT NULL,
    at REAL NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL);
CREATE INDEX waiting_parent ON waiting (parent);
CREATE INDEX waiting_id ON waiting (id);
"""
