"""Files a rerun need not read again: unchanged since a run imported every message in them.

A clean run (read to its end, nothing failed, rejected or left for later) records each file it
read whole and without a problem, keyed by a digest of its bytes, its name and the options it
was read with, beside what reading it gave the plan (`Tally`: messages per chat, skips by kind).
A later run with the same key counts that tally again instead of reading the file: a no-op
rerun of ten million messages costs a hash of the archive, not a parse of every line.

A file is read every time when what it holds reaches beyond it: a history media half (joined
with its other half, maybe in another file), address-book entries and history progress (they
name contacts and sync states for the whole run). `--reread` reads every file regardless.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import IO, TYPE_CHECKING

import orjson

from importer import __version__
from importer.model import FileRead, Item, Problem, SettledFile, Tally
from importer.sources.container import Entry
from importer.sources.options import ReadOptions

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# Bump when a reader reads the same bytes into different messages: every file is read again.
READERS = 1
_CHUNK = 1 << 20


def tally_json(tally: Tally, *, synced: bool) -> str:
    return orjson.dumps([tally.phones, tally.skipped, tally.names, synced]).decode()


def tally_of(text: str) -> tuple[Tally, bool]:
    """The tally, and whether every message in Close is as the file has it (`--sync-edits`)."""
    phones, skipped, names, synced = orjson.loads(text)
    return Tally(Counter(phones), Counter(skipped), names), synced


def settled_records(
    files_read: list[FileRead],
    tallies: dict[str, Tally],
    problems: list[Problem],
    *,
    synced: bool,
) -> Iterator[dict[str, object]]:
    """Checkpoint records for the files a clean run read that a rerun need not read: each read
    once, to its end, with no problem, and holding nothing that reaches beyond it. `synced`:
    the run synced edits, so Close holds each message as the file has it."""
    troubled = {problem.source for problem in problems}
    reads = Counter(read.source for read in files_read)
    now = time.time()
    for read in files_read:
        tally = tallies.get(read.source, Tally())
        if tally.reaches_beyond or read.source in troubled or reads[read.source] > 1:
            continue
        yield {
            "op": "settled",
            "key": read.key,
            "source": read.source,
            "tally": tally_json(tally, synced=synced),
            "at": now,
        }


def reading_key(options: ReadOptions, *more: object) -> bytes:
    """Everything besides a file's bytes that decides what reading it gives: the release, the
    reading options, and `more` (the run's window)."""
    settings = (
        __version__,
        READERS,
        options.me,
        options.local_phone,
        options.remote_phone,
        str(options.timezone),
        options.date_order,
        options.default_region,
        sorted(options.sender_phones.items()),
        [str(m) for m in more],
    )
    return orjson.dumps(settings)


class SettledFiles:
    """The checkpoint's settled files, asked by the reading thread before each file."""

    def __init__(
        self,
        find: Callable[[str], str | None],
        any_settled: bool,
        reading: bytes,
        *,
        sync_edits: bool,
    ):
        self._find = find  # key -> tally JSON
        self._any = any_settled
        self._reading = reading
        # Syncing edits, a file counts as settled only if a run that synced them settled it:
        # another run may have left an edit in it unsent.
        self._sync_edits = sync_edits

    def key(self, source: str, digest: bytes) -> str:
        return hashlib.sha256(self._reading + b"\0" + source.encode() + b"\0" + digest).hexdigest()

    def read(self, entry: Entry, reader: Callable[[Entry], Iterator[Item]]) -> Iterator[Item]:
        """`reader`'s items of `entry`, then `FileRead` if it got to the end; or, when the
        checkpoint holds the file as settled, `SettledFile` alone."""
        if self._any:
            try:
                found = self._find(self.key(entry.source, _digest(entry.open_binary())))
            except OSError:
                found = None  # the reader will say what is wrong with it
            if found is not None:
                tally, synced = tally_of(found)
                if synced or not self._sync_edits:
                    yield SettledFile(entry.source, tally)
                    return
        hashed = _Hashed()
        yield from reader(replace(entry, open_binary=hashed.opener(entry.open_binary)))
        if hashed.digest is not None:
            yield FileRead(entry.source, self.key(entry.source, hashed.digest))


def _digest(stream: IO[bytes]) -> bytes:
    found = hashlib.sha256()
    with stream:
        while chunk := stream.read(_CHUNK):
            found.update(chunk)
    return found.digest()


class _Hashed:
    """Hashes what a reader reads through `opener`: the digest of the last open read to its
    end, so a file that changes while it is read is recorded as what was read."""

    def __init__(self) -> None:
        self.digest: bytes | None = None

    def opener(self, open_binary: Callable[[], IO[bytes]]) -> Callable[[], IO[bytes]]:
        def hashing_open() -> IO[bytes]:
            self.digest = None
            return io.BufferedReader(_HashingStream(open_binary(), self), _CHUNK)

        return hashing_open


class _HashingStream(io.RawIOBase):
    def __init__(self, inner: IO[bytes], owner: _Hashed):
        self._inner = inner
        self._owner = owner
        self._hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        view[: len(data)] = data
        if data:
            self._hash.update(data)
        else:
            self._owner.digest = self._hash.digest()
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()
