"""Every message id a run has read, with a digest of its message: a repeat told from a clash.

Memory does not grow with the archive: the most recent ids are held in a dict, and past `HOLD`
of them they go, sorted, into a scratch SQLite file (`scratch`), with a Bloom filter in memory
that answers "not on disk" for almost every new id without reading the file. So a first read
of 10,000,000 ids costs about 25 MB of dict, 32 MB of filter, SQLite's 32 MB page cache and
~260 MB of disk, where a dict of them all took ~1.9 GB.

An id is kept as its 64-bit `hash()`: two ids of one archive are taken for one with probability
about n**2 / 2**65 (3 in a million at 10,000,000 ids), and the key means nothing outside this
process. Whoever makes the index closes it, from any thread: that deletes the file.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from importer.scratch import discard, failing_as_scratch, open_scratch

HOLD = 200_000  # ids held in the dict before they go to disk: ~25 MB
BLOOM_BITS = 2**28  # 32 MB: 0.5% of new ids read from disk at 10M ids on it (two probes)
_MASK = BLOOM_BITS - 1
_SCHEMA = """
CREATE TABLE ids (key INTEGER PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE asked (grp INTEGER NOT NULL, key INTEGER NOT NULL);
"""
_CACHE_KIB = 32 * 1024
_DIGEST = 2**63 - 1


def digest(timestamp: datetime, text: str, reply_to: str | None) -> int:
    """63 bits of the message's `hash()` (never negative, so a signed 8-byte integer on disk):
    two different messages under one id are taken for a repeat with probability about 2**-63,
    not the 1 in 256 a one-byte digest gave. Like the keys, it means nothing outside this
    process; a tuple's hash is a twentieth of the cost of a blake2b of its text."""
    return hash((timestamp, text, reply_to)) & _DIGEST


class IdIndex:
    """id -> digest of the first message read under it; digests are never negative, so callers
    may store negative marks of their own (`copies` does, for WhatsApp's own ids)."""

    def __init__(self, scratch: Path | None = None, *, hold: int | None = None):
        self._recent: dict[int, int] = {}  # key -> value, not yet on disk (or changed since)
        self._scratch = scratch  # the folder of the disk file; None: the system's temporary one
        self._hold = hold or HOLD
        self._db: sqlite3.Connection | None = None
        self._path: Path | None = None
        self._bloom = bytearray()  # empty until the first ids go to disk
        self._lock = threading.Lock()  # the disk file, between its reader and whoever closes
        self._closed = False
        self._asked: list[tuple[int, int]] = []  # (group, key) to answer at the end

    def __contains__(self, wa_id: object) -> bool:
        return isinstance(wa_id, str) and self.get(wa_id) is not None

    def __len__(self) -> int:
        """How many ids are held; once some are on disk this costs a count of the file."""
        if self._db is None:
            return len(self._recent)
        self._flush()
        with self._disk() as db:
            (count,) = db.execute("SELECT count(*) FROM ids").fetchone()
        return int(count)

    @staticmethod
    def key(wa_id: str) -> int:
        """What the index keeps of `wa_id`: 8 bytes, for callers that must remember ids too."""
        return hash(wa_id)

    def get(self, wa_id: str) -> int | None:
        return self.get_key(hash(wa_id))

    def get_key(self, key: int) -> int | None:
        if self._closed:
            raise sqlite3.ProgrammingError("the id index is closed")
        value = self._recent.get(key)
        if value is None and self._bloom and self._may_hold(key):
            with self._disk() as db:
                row = db.execute("SELECT value FROM ids WHERE key = ?", (key,)).fetchone()
            value = None if row is None else row[0]
        return value

    def add(self, wa_id: str, value: int) -> None:
        self._keep(hash(wa_id), value)

    def first(self, wa_id: str, value: int) -> int | None:
        """The value held for `wa_id`; if none, None, and `value` is held from now on."""
        key = hash(wa_id)
        # `get_key` inlined as far as the dict: this runs once per message read.
        earlier = self._recent.get(key)
        if earlier is None and (self._closed or (self._bloom and self._may_hold(key))):
            earlier = self.get_key(key)  # on disk, or a closed index's error
        if earlier is None:
            self._keep(key, value)
        return earlier

    def _keep(self, key: int, value: int) -> None:
        self._recent[key] = value
        if len(self._recent) >= self._hold:
            self._flush()

    def held_in_memory(self, key: int) -> bool:
        """Whether `key` is held and answered without reading the disk: for a caller that can
        ask about the rest at the end, together (`ask_at_end`)."""
        return key in self._recent

    def ask_at_end(self, group: int, key: int) -> None:
        """Remember to tell, at the end (`missing_by_group`), whether `key` was ever held; the
        questions wait on disk with the ids, so any number of them costs no memory."""
        self._asked.append((group, key))
        if len(self._asked) >= self._hold:
            self._flush()

    def missing_by_group(self) -> Counter[int]:
        """Of the keys asked about (`ask_at_end`), how many of each group are not held."""
        if self._db is None:
            return Counter(group for group, key in self._asked if key not in self._recent)
        self._flush()
        with self._disk() as db:
            unheld = "SELECT grp, count(*) FROM asked WHERE key NOT IN (SELECT key FROM ids)"
            return Counter(dict(db.execute(f"{unheld} GROUP BY grp").fetchall()))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            discard(self._db, self._path)
            self._db, self._path = None, None
        self._recent.clear()
        self._bloom = bytearray()

    def _may_hold(self, key: int) -> bool:
        bloom = self._bloom
        return all(bloom[bit >> 3] >> (bit & 7) & 1 for bit in _bits(key))

    def _flush(self) -> None:
        """The held ids onto disk, in key order (each page of the file is written once), and the
        questions asked for the end."""
        recent = self._recent
        keys = sorted(recent)
        with self._disk() as db:
            if not self._bloom:
                self._bloom = bytearray(BLOOM_BITS // 8)
            db.execute("BEGIN")
            db.executemany(
                "INSERT OR REPLACE INTO ids VALUES (?, ?)",
                zip(keys, map(recent.get, keys), strict=True),
            )
            db.executemany("INSERT INTO asked VALUES (?, ?)", self._asked)
            db.execute("COMMIT")
        self._asked.clear()
        bloom = self._bloom
        for key in keys:
            for bit in _bits(key):
                bloom[bit >> 3] |= 1 << (bit & 7)
        recent.clear()

    @contextlib.contextmanager
    def _disk(self) -> Iterator[sqlite3.Connection]:
        """The disk file, made on first use, held from whoever closes; its failures (a full
        disk) as `ScratchError`."""
        with self._lock, failing_as_scratch(self._scratch):
            yield self._open()

    def _open(self) -> sqlite3.Connection:
        if self._closed:
            raise sqlite3.ProgrammingError("the id index is closed")
        if self._db is None:
            self._db, self._path = open_scratch(self._scratch, "ids", _SCHEMA)
            self._db.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        return self._db


def _bits(key: int) -> tuple[int, int]:
    """The Bloom filter's two bits for `key`: two disjoint 28-bit slices of its hash."""
    return key & _MASK, (key >> 28) & _MASK
