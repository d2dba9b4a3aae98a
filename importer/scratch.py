"""Scratch SQLite files: a run's own storage on disk, so that memory does not grow with the archive.

Nothing in them is a promise to anyone: written without journal or sync, deleted when their
owner closes, and after a crash the next run reads the archive again and fills them anew.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from importer.errors import ScratchError

_PREFIX = ".wa-close-"


def open_scratch(directory: Path | None, name: str, schema: str) -> tuple[sqlite3.Connection, Path]:
    """A new, empty scratch file in `directory` (the system's temporary folder if None), with
    `schema` made. Usable from any thread: its owner serialises the use."""
    with failing_as_scratch(directory):
        fd, path = tempfile.mkstemp(prefix=f"{_PREFIX}{name}-", suffix=".sqlite", dir=directory)
        os.close(fd)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.executescript(schema)
    return db, Path(path)


def discard(db: sqlite3.Connection | None, path: Path | None) -> None:
    """Close a scratch file and delete it: nothing in it outlives its owner."""
    if db is not None:
        db.close()
    if path is not None:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def failing_as_scratch(where: Path | None) -> Iterator[None]:
    """SQLite's and the file system's errors on a scratch file in `where` (None: the system's
    temporary folder), as the run's `ScratchError`."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        folder = where or Path(tempfile.gettempdir())
        raise ScratchError(f"cannot write a scratch file in {folder}: {exc}") from exc


def remove_left(directory: Path | None) -> None:
    """Delete the scratch files a killed command left in `directory` (None: the system's
    temporary folder, where `inspect` keeps its own).

    Safe while other commands use the folder: a scratch file is only ever used through the
    connection that made it, and on POSIX an open file outlives its name.
    """
    for path in (directory or Path(tempfile.gettempdir())).glob(f"{_PREFIX}*-*.sqlite"):
        with contextlib.suppress(OSError):
            path.unlink()
