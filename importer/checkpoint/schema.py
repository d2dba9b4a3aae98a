"""The checkpoint's SQLite file: what it holds, how it is told apart, how it is opened.

`application_id` marks the file as ours and `user_version` counts the schema steps applied to it;
a later release adds a step to STEPS (a table for reply links to heal, one for the sources and
options of the last run, one for the files a rerun need not read) and files written before it
gain that step when they are next opened.
"""

from __future__ import annotations

import contextlib
import enum
import sqlite3
from pathlib import Path

from importer.checkpoint.journal import is_journal
from importer.errors import CheckpointError

APPLICATION_ID = 0x57414331  # "WAC1"
SQLITE_MAGIC = b"SQLite format 3\x00"
PENDING, DONE, FAILED = 0, 1, 2  # messages.state

STEPS: tuple[str, ...] = (
    """
    CREATE TABLE messages (
        wa_id TEXT PRIMARY KEY,
        state INTEGER NOT NULL,  -- PENDING: its create may have reached Close; DONE; FAILED
        chat TEXT NOT NULL,
        close_id TEXT,
        sum TEXT,  -- fingerprint of what was sent, for --sync-edits
        reason TEXT
    ) WITHOUT ROWID;
    CREATE INDEX messages_unsettled ON messages (state) WHERE state != 1;
    -- Kept by triggers, in the same transaction: `status` reads a few rows, not every message.
    CREATE TABLE chat_counts (
        chat TEXT NOT NULL, state INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (chat, state)
    ) WITHOUT ROWID;
    CREATE TRIGGER messages_added AFTER INSERT ON messages BEGIN
        INSERT INTO chat_counts VALUES (NEW.chat, NEW.state, 1)
            ON CONFLICT DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER messages_moved AFTER UPDATE OF chat, state ON messages BEGIN
        UPDATE chat_counts SET n = n - 1 WHERE chat = OLD.chat AND state = OLD.state;
        INSERT INTO chat_counts VALUES (NEW.chat, NEW.state, 1)
            ON CONFLICT DO UPDATE SET n = n + 1;
    END;
    CREATE TABLE files (sha TEXT PRIMARY KEY, url TEXT NOT NULL, at REAL NOT NULL) WITHOUT ROWID;
    -- lead and contact are NULL while only the intent to create a lead is known.
    CREATE TABLE contacts (
        phone TEXT PRIMARY KEY, lead TEXT, contact TEXT, lead_intended INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # Reply links to heal: a reply created without its response_to_id (its parent was not in
    # Close yet), waiting for the parent to be; the index finds a parent's replies.
    """
    CREATE TABLE links (
        reply TEXT PRIMARY KEY, close_id TEXT NOT NULL, parent TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX links_by_parent ON links (parent);
    """,
    # `status --failed`: where each failed message was read, and the run that retries them.
    """
    -- Only failed ids have a row: the trigger drops it once the id is settled otherwise.
    CREATE TABLE failed_at (
        wa_id TEXT PRIMARY KEY, source TEXT NOT NULL, line INTEGER
    ) WITHOUT ROWID;
    CREATE TRIGGER failure_settled AFTER UPDATE OF state ON messages WHEN NEW.state != 2 BEGIN
        DELETE FROM failed_at WHERE wa_id = NEW.wa_id;
    END;
    -- One row, replaced at the start of each run (options: arguments of `run`, never the key).
    CREATE TABLE last_run (
        run TEXT PRIMARY KEY CHECK (run = 'last'),
        at REAL NOT NULL,  -- epoch seconds
        sources TEXT NOT NULL,  -- JSON list of absolute paths
        options TEXT NOT NULL  -- JSON list of arguments
    );
    """,
    # Files a clean run imported whole: a rerun counts them again unread (sources/settled.py).
    """
    CREATE TABLE settled_files (
        key TEXT PRIMARY KEY,  -- digest of the file's bytes, its name and the reading options
        source TEXT NOT NULL,  -- the file as that run named it
        tally TEXT NOT NULL,  -- JSON: what reading it gave the plan
        at REAL NOT NULL  -- epoch seconds
    ) WITHOUT ROWID;
    """,
)


class Kind(enum.Enum):
    NEW = "new"  # missing or empty
    STORE = "store"  # our SQLite file
    JOURNAL = "journal"  # the JSONL journal of release 0.1, to migrate
    FOREIGN = "foreign"  # anything else: never touched


def identify(path: Path) -> Kind:
    try:
        with path.open("rb") as file:
            head = file.read(100)
    except FileNotFoundError:
        return Kind.NEW
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror}") from exc
    if not head:
        return Kind.NEW
    if head.startswith(SQLITE_MAGIC) and len(head) == 100:
        return Kind.STORE if int.from_bytes(head[68:72], "big") == APPLICATION_ID else Kind.FOREIGN
    return Kind.JOURNAL if is_journal(head) else Kind.FOREIGN


def connect(path: Path | str, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from any thread."""
    target = f"{Path(path).as_uri()}?mode=ro" if read_only else str(path)
    db = sqlite3.connect(target, uri=read_only, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 20000")  # a run starting while `status` reads
    return db


def write_ahead_log(db: sqlite3.Connection) -> None:
    """The run's mode: WAL, so readers (`status`, the run's own lookups) never wait for it.

    synchronous=NORMAL: in WAL mode a commit has written its pages to the OS before COMMIT
    returns, so it survives the process being killed at any moment after, and the next open
    replays it; only a power cut can lose the last commits. FULL would add an fsync to every
    commit, and so to the wait before every create, for that case alone.
    """
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")


def fold_wal(db: sqlite3.Connection) -> None:
    """Fold the WAL into the file and leave WAL mode: one file to copy, and one a read-only
    `status` can read without creating the WAL's companions beside it. The run's next open
    turns WAL on again. Best effort: if a reader holds the file, it stays in WAL mode, whole."""
    with contextlib.suppress(sqlite3.Error):
        db.execute("PRAGMA busy_timeout = 0")  # a reader is there: leave it be, at once
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode = DELETE")


def prepare(db: sqlite3.Connection, where: Path) -> None:
    """Bring a new or older file to the current schema, in one transaction."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(STEPS):
        raise CheckpointError(
            f"checkpoint {where} was written by a newer release (schema {version}); "
            "use that release or a newer one"
        )
    if version == len(STEPS):
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        for step in STEPS[version:]:
            for statement in _statements(step):
                db.execute(statement)
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {len(STEPS)}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """Split a step into statements (executescript would commit on its own)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]
