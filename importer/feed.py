"""Reading in a thread, sending on the event loop: a blocking iterator handed over in batches.

Reading an archive is blocking, CPU-bound work (JSON, regexes, zip members); sending is I/O on
the event loop. The reader runs in a thread of its own and hands its items over in batches, at
most `depth` batches ahead of the consumer, so memory stays bounded however large the archive
and sending starts with the first batch. `stop()` ends the reading at the next item.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")

BATCH = 512
DEPTH = 8


class _End:
    def __init__(self, error: BaseException | None = None):
        self.error = error


class ThreadFeed(Generic[T]):
    """`async for batch in ThreadFeed(items)`: lists of items, read in a thread of their own."""

    def __init__(self, items: Iterable[T], *, batch: int = BATCH, depth: int = DEPTH):
        self._items = items
        self._batch = batch
        self._room = threading.Semaphore(depth)
        self._stopped = threading.Event()
        self._queue: asyncio.Queue[list[T] | _End] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._read, name="reader", daemon=True)
        self._started = False

    def stop(self) -> None:
        """Stop reading at the next item; what was read and not consumed is dropped."""
        self._stopped.set()
        self._room.release()  # a reader waiting for room wakes up and sees the flag

    async def __aiter__(self) -> AsyncIterator[list[T]]:
        if not self._started:
            self._started = True
            self._thread.start()
        try:
            while not self._stopped.is_set():
                got = await self._queue.get()
                if isinstance(got, _End):
                    if got.error is not None:
                        raise got.error
                    return
                self._room.release()
                yield got
        finally:
            self.stop()

    def _read(self) -> None:
        end = _End()
        try:
            chunk: list[T] = []
            for item in self._items:
                if self._stopped.is_set():
                    return
                chunk.append(item)
                if len(chunk) >= self._batch:
                    self._hand_over(chunk)
                    chunk = []
            if chunk:
                self._hand_over(chunk)
        except BaseException as exc:  # handed to the consumer, which raises it where it awaits
            end = _End(exc)
        finally:
            self._put(end)

    def _hand_over(self, chunk: list[T]) -> None:
        self._room.acquire()
        if not self._stopped.is_set():
            self._put(chunk)

    def _put(self, got: list[T] | _End) -> None:
        # RuntimeError: the loop closed, nobody is left to read this.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, got)
