"""One writer per checkpoint: an exclusive `flock` on `<checkpoint>.lock`, held for the run.

The caller passes the path the checkpoint resolves to, so a symlink and its target share one
lock. The lock vanishes with the process, so a killed run never blocks the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from importer.errors import CheckpointError, CheckpointLocked


def take(real: Path, shown: Path) -> int:
    """Lock `real` (shown to the user as `shown`); the lock's file descriptor."""
    lock_path = real.with_name(real.name + ".lock")
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise CheckpointError(f"cannot open checkpoint lock {lock_path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise CheckpointLocked(
            f"checkpoint {shown} is in use by a running import (pid {holder}); "
            "wait for it to finish or stop it"
        ) from None
    with contextlib.suppress(OSError):  # the pid only informs the next run; the lock is held
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
    return fd


def release(fd: int) -> None:
    os.close(fd)
