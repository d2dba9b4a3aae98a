"""Opening a checkpoint file: told apart from anything else, migrated from the journal, checked.

Nothing here writes to a file that is not a checkpoint: a zip or a source passed by mistake is
refused before it is opened for writing. A damaged checkpoint is refused too, naming the way
out: it can no longer say which creates may have reached Close, and a new checkpoint can,
since a new one lists every chat's lead in Close before sending anything (README, rule 7).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from importer.checkpoint import schema
from importer.checkpoint.journal import JournalState, load_journal
from importer.checkpoint.schema import DONE, FAILED, PENDING, Kind
from importer.checkpoint.store import Change, Contact, Entry, Store, damaged, unreadable, write
from importer.errors import CheckpointError


def real_path(path: Path) -> Path:
    """What `path` resolves to, symlinks followed: one file, one lock, however it is named."""
    return Path(os.path.realpath(path))


def refuse_foreign(shown: Path) -> CheckpointError:
    return CheckpointError(
        f"{shown} is not a checkpoint (it is not empty and holds no checkpoint format); "
        "it was left untouched: pass another --checkpoint"
    )


def open_for_writing(real: Path, shown: Path) -> tuple[sqlite3.Connection, Store]:
    """The run's writer connection and its reader, the file migrated and checked (lock held)."""
    kind = schema.identify(real)
    if kind is Kind.FOREIGN:
        raise refuse_foreign(shown)
    if kind is Kind.JOURNAL:
        migrate(real, shown)
    elif kind is Kind.NEW:
        # Made whole aside, then renamed in: a file at this path is always ours, header and all
        # (a kill while SQLite wrote a first header would leave one that is not).
        _replace(real, shown, ())
    db: sqlite3.Connection | None = None
    store: Store | None = None
    try:
        db = schema.connect(real)
        schema.prepare(db, shown)
        store = Store(schema.connect(real), shown)
        _check(store, shown)
        schema.write_ahead_log(db)
    except (sqlite3.Error, CheckpointError) as exc:
        for opened in (store, db):
            if opened is not None:
                opened.close()
        if isinstance(exc, sqlite3.Error):
            raise unreadable(shown, exc) from exc
        raise
    return db, store


def open_for_reading(real: Path, shown: Path) -> Store:
    """The checkpoint as it is, for `status` and `--dry-run`: no lock, nothing written."""
    kind = schema.identify(real)
    if kind is Kind.FOREIGN:
        raise refuse_foreign(shown)
    if kind is not Kind.STORE:
        db = schema.connect(":memory:")
        schema.prepare(db, shown)
        if kind is Kind.JOURNAL:
            write(db, _journal_changes(_read_journal(real, shown)))
        return Store(db, shown)
    try:
        # No quick_check here: it reads the whole file (a minute at 10M messages when it is
        # not in the page cache); a damaged page read later is refused just the same.
        return Store(schema.connect(real, read_only=True), shown)
    except sqlite3.Error as exc:
        raise unreadable(shown, exc) from exc


def _check(store: Store, shown: Path) -> None:
    """`PRAGMA quick_check` before a run writes: 3 s at 10M messages, more from a cold disk."""
    problem = store.damage()
    if problem is not None:
        raise damaged(shown, problem)


def migrate(real: Path, shown: Path) -> None:
    """Replace a journal by the same facts in SQLite: written aside, synced, renamed over.

    A crash at any point leaves either the journal or the new file, whole; the next open
    starts the migration again from the journal.
    """
    _replace(real, shown, _journal_changes(_read_journal(real, shown)))


def _replace(real: Path, shown: Path, changes: Iterable[Change]) -> None:
    aside = real.with_name(real.name + ".new")
    try:
        _remove(aside)
        build(aside, changes)
        # A stale WAL beside the old file would be replayed into the new one: clear it.
        _remove(real, keep_main=True)
        aside.replace(real)
        _sync_folder(real.parent)
    except (OSError, sqlite3.Error) as exc:
        with contextlib.suppress(OSError):
            _remove(aside)
        raise CheckpointError(f"cannot write checkpoint {shown}: {exc}") from exc


def build(path: Path, changes: Iterable[Change]) -> None:
    """A new checkpoint at `path` holding `changes`, synced, in one file (no WAL beside it)."""
    db = schema.connect(path)
    try:
        schema.prepare(db, path)
        write(db, changes)
    finally:
        db.close()
    with path.open("rb") as file:
        os.fsync(file.fileno())


def _read_journal(real: Path, shown: Path) -> JournalState:
    try:
        journal = load_journal(real)
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {shown}: {exc.strerror}") from exc
    if journal.damaged:
        lines = ", ".join(str(n) for n in journal.damaged[:5])
        more = f" and {len(journal.damaged) - 5} more" if len(journal.damaged) > 5 else ""
        raise damaged(shown, f"line {lines}{more} is not a complete record")
    return journal


def _journal_changes(journal: JournalState) -> Iterator[Change]:
    for wa_id, close in journal.done.items():
        entry = Entry(DONE, journal.chats.get(wa_id, ""), close, journal.sums.get(wa_id))
        yield "messages", wa_id, entry
    for wa_id, chat in journal.pending.items():
        yield "messages", wa_id, Entry(PENDING, chat)
    for wa_id, reason in journal.failed.items():
        yield "messages", wa_id, Entry(FAILED, journal.chats.get(wa_id, ""), reason=reason)
    for sha, file in journal.files.items():
        yield "files", sha, file
    for phone in journal.contacts.keys() | journal.lead_intents:
        lead, contact = journal.contacts.get(phone, (None, None))
        yield "contacts", phone, Contact(lead, contact, phone in journal.lead_intents)


def _remove(path: Path, *, keep_main: bool = False) -> None:
    names = ("-wal", "-shm") if keep_main else ("", "-wal", "-shm")
    for suffix in names:
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
