"""How much of the sources has been read, in bytes: what a progress bar's ETA rests on.

The run streams (the archive is read while it is sent, and reading waits for sending), so the
share of the sources' bytes read is the share of the work done, give or take the messages in
flight. The total is what the readers will read: `.jsonl` and `.txt` files, and those members
of zips, uncompressed.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING

from importer.sources.container import Entry

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_READ = (".jsonl", ".txt")


class ReadMeter:
    """Bytes read of the sources so far, and how many they hold; updated by the reading thread."""

    def __init__(self, paths: Iterable[Path]):
        self.total = sum(map(_readable_bytes, paths))
        self.read = 0

    def counted(self, entry: Entry) -> Entry:
        """`entry`, its reads counted here: the furthest any of its opens got (a text export is
        read twice, once to learn its date order)."""
        furthest = _Furthest(self)
        open_binary = entry.open_binary

        def counted_open() -> IO[bytes]:
            return io.BufferedReader(_Counted(open_binary(), furthest))

        return replace(entry, open_binary=counted_open)


class _Furthest:
    """How far into one entry reading got; only what goes past that counts on the meter."""

    def __init__(self, meter: ReadMeter):
        self._meter = meter
        self._at = 0

    def reached(self, position: int) -> None:
        if position > self._at:
            self._meter.read += position - self._at
            self._at = position


class _Counted(io.RawIOBase):
    def __init__(self, inner: IO[bytes], furthest: _Furthest):
        self._inner = inner
        self._furthest = furthest
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        view[: len(data)] = data
        self._position += len(data)
        self._furthest.reached(self._position)
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


def _readable_bytes(path: Path) -> int:
    try:
        if path.is_dir():
            return sum(
                _readable_bytes(Path(here, name))
                for here, _, names in os.walk(path)
                for name in names
                if not name.startswith(".")
            )
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
            return sum(i.file_size for i in infos if i.filename.lower().endswith(_READ))
        return path.stat().st_size if path.suffix.lower() in _READ else 0
    except (OSError, zipfile.BadZipFile):
        return 0  # the reader says what is wrong with it; here it only counts for nothing
