"""Stopping a run from outside: SIGINT, SIGTERM and SIGHUP (a dropped SSH session) alike.

The first signal asks the run to stop: reading ends at the next item, workers, retries, pauses
and uploads in flight are cancelled, the journal is closed and the report written; what was sent
stays pending in the journal, so stopping at any moment is safe. A second signal ends the process
at once with 130 (as a SIGKILL would: the journal makes that safe too).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
EXIT_AT_ONCE = 130


class ReadingStopped(Exception):
    """Raised in the reading thread when a stop was asked for between two items."""


class StopOnSignals:
    """`with StopOnSignals() as stop:` for the life of a run, inside its event loop."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.requested = threading.Event()  # also read by the planning thread
        self.reason: str | None = None
        self._listeners: list[Callable[[str], None]] = []

    def __enter__(self) -> StopOnSignals:
        for sig in STOP_SIGNALS:
            # Outside the main thread (a run embedded in another program) signals are not ours.
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                self._loop.add_signal_handler(sig, self._on_signal, sig)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig in STOP_SIGNALS:
            with contextlib.suppress(ValueError, RuntimeError):
                self._loop.remove_signal_handler(sig)

    def on_stop(self, listener: Callable[[str], None]) -> None:
        """Call `listener(reason)` on the first signal, or now if it came already."""
        self._listeners.append(listener)
        if self.reason is not None:
            listener(self.reason)

    def until_stopped(self, items: Iterable[T]) -> Iterator[T]:
        """`items`, ending with `ReadingStopped` at the first item after a stop was asked."""
        for item in items:
            if self.requested.is_set():
                raise ReadingStopped
            yield item

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.reason is not None:
            os.write(2, f"wa-close-import: {sig.name} again: stopping at once\n".encode())
            os._exit(EXIT_AT_ONCE)
        self.reason = f"interrupted by {sig.name}; the checkpoint is consistent: rerun to resume"
        self.requested.set()
        for listener in self._listeners:
            listener(self.reason)
