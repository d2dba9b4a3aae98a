"""The checkpoint: what this importer has done in Close, in one SQLite file.

For each WhatsApp id it holds one row: *pending* (a create is about to leave, or left and its
answer was lost), *done* (Close holds it as activity `close_id`, with a fingerprint of what was
sent, for `--sync-edits`) or *failed* (Close refused it, or it could not be sent). Beside them:
uploaded files (content hash -> download URL and when), and phones resolved to a lead and
contact, or whose lead creation was about to be sent. For `status --failed`: where each failed
id was read, and the sources and options of the last run (never the API key: `rerun.py`).

The guarantees, and what gives each:
- An intent is committed before its create leaves (`write_ahead`); the run's workers share
  commits, so a commit carries every intent and result recorded while the previous one ran,
  written by a thread off the event loop. Results (`record`) go in the next commit.
- Durable against the process being killed at any moment: the file is in WAL mode with
  `synchronous=NORMAL`, under which a committed transaction is in the OS (the WAL file) before
  COMMIT returns, and SQLite replays it on the next open; a torn write is a transaction that
  never committed. FULL would add an fsync per commit, which guards only against a power cut.
- A pending id is looked up in Close before anything is resent for it (pipeline.py).
- Any failed commit (a full disk, a short write, an I/O error) fails every waiter and every
  later write-ahead: nothing more is sent; SQLite rolls the transaction back, so the file stays
  consistent and a rerun resumes from it.
- "Is this id done?" is one keyed read (`state.done`, ...), or one query for hundreds of ids
  (`done_among`), never a copy of every id in memory; `status` reads per-chat counts that
  triggers keep in step with the rows.
- One writer at a time (`lock.py`, on what the path resolves to); `status` and `--dry-run`
  read without the lock and write nothing.
- A checkpoint written by release 0.1 (a JSONL journal) is migrated in place on first open,
  atomically; a damaged checkpoint or a file that is not one is refused and left untouched.

A clean end folds the WAL into the main file, so the checkpoint is one file to copy (copy it
while no run holds it).
"""

from __future__ import annotations

from pathlib import Path

from importer.checkpoint.access import open_for_reading, real_path
from importer.checkpoint.state import CheckpointState
from importer.checkpoint.writer import Checkpoint

__all__ = ["Checkpoint", "CheckpointState", "load_state"]


def load_state(path: Path) -> CheckpointState:
    """Read a checkpoint without taking its lock and without writing (`status`, `--dry-run`)."""
    return CheckpointState(open_for_reading(real_path(path), path))
