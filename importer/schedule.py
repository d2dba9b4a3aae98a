"""Start messages as they are read: a bounded pool, a reply only after its parent, memory bounded.

The plan arrives as a stream of batches while the archive is still being read. Each message is
*admitted* into one of three places:

- the **ready** heap, in send order (timestamp, then position in the sources). Messages leave it
  only once `window` messages are held (or the input has ended), so lines that are out of order
  within that many of each other (webhook logs of several servers) still go out in order;
- **waiting** in memory, for a parent that is held here too (ready, waiting or in flight): it
  joins the heap as soon as that parent has finished;
- the **spill** on disk, for a parent this run has not read (yet): taken back, as room allows,
  once the parent has finished, or once the input has ended, in send order. Then a reply whose
  parent never came is sent like any other, and the importer looks its parent up in Close.

A parent the checkpoint already holds is no reason to wait. Memory holds at most about `window`
messages plus those in flight; the stream is not read further until there is room.

A later copy of a message not started yet (a webhook delivered again with the reply link the
first lacked) amends it when it starts (`amend`).
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import AsyncIterable, Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

from importer.plan import Planned, amended, send_order
from importer.spill import Spill

WINDOW = 4096

Start = Callable[[Planned], Coroutine[Any, Any, None]]


class Scheduler:
    """Runs `start(planned)` for every message streamed in, `concurrency` at a time."""

    def __init__(
        self,
        start: Start,
        *,
        concurrency: int,
        is_done: Callable[[str], bool],
        spill_dir: Path,
        window: int = WINDOW,
    ):
        self._start = start
        self._is_done = is_done
        self._window = window
        self._slots = asyncio.Semaphore(concurrency)
        self._ready: list[tuple[tuple[datetime, int], Planned]] = []
        self._waiting: dict[str, list[Planned]] = {}
        self._waiting_count = 0
        self._live: set[str] = set()  # ids ready, waiting or in flight
        self._in_flight: set[str] = set()
        self._running = 0
        self._spill = Spill(spill_dir)
        self._released: deque[str] = deque()  # finished ids that may have replies in the spill
        self._ended = False  # the stream is exhausted; the spill is being drained or is empty
        self._stopped = False
        self._changed = asyncio.Event()
        self._error: Exception | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._cancelled = 0
        self._amends: dict[str, Planned] = {}  # id -> a later copy, for a message not started
        self.most_held = 0  # the largest number of messages held in memory at once

    @property
    def held(self) -> int:
        """Messages in memory that have not started: ready or waiting for a parent."""
        return len(self._ready) + self._waiting_count

    def stop(self, *, cancel: bool = False) -> None:
        """Start nothing more; with `cancel`, cancel what is in flight too (except the caller)."""
        self._stopped = True
        self._changed.set()
        if cancel:
            current = asyncio.current_task()
            for task in self._tasks:
                if task is not current:  # a worker that stops the run ends by itself
                    task.cancel()

    def amend(self, later: Planned) -> bool:
        """Apply `later` (a copy with more to say) to its message when it starts, if it has not
        started yet; False if it has (or was never admitted)."""
        wa_id = later.external_id
        started = wa_id in self._in_flight
        if started or (wa_id not in self._live and not self._spill.holds(wa_id)):
            return False
        earlier = self._amends.get(wa_id)
        self._amends[wa_id] = later if earlier is None else amended(earlier, later)
        return True

    async def run(self, batches: AsyncIterable[list[Planned]]) -> int:
        """Start everything `batches` yields; the number left unstarted by a stop."""
        try:
            async with asyncio.TaskGroup() as workers:
                feeder = workers.create_task(self._feed(batches))
                while True:
                    await self._slots.acquire()
                    planned = await self._next()
                    if planned is None:
                        self._slots.release()
                        break
                    self._running += 1
                    self._in_flight.add(planned.external_id)
                    task = workers.create_task(self._work(planned))
                    self._tasks.add(task)
                    task.add_done_callback(self._finished)
                feeder.cancel()
            left = self.held + len(self._spill) + self._cancelled
        finally:
            self._spill.close()
        if self._error is not None:
            raise self._error
        return left

    async def _feed(self, batches: AsyncIterable[list[Planned]]) -> None:
        try:
            await self._read(batches)
        except Exception as exc:  # the reader failed: finish what is in flight, then raise it
            self._error = exc
            self.stop()

    async def _read(self, batches: AsyncIterable[list[Planned]]) -> None:
        async for batch in batches:
            for planned in batch:
                self._admit(planned)
            self._note_held()
            self._changed.set()
            while self.held >= self._window and not self._stopped:
                await self._wait_for_change()
            if self._stopped:
                return
        self._ended = True
        while self._spill and not self._stopped:
            for planned in self._spill.oldest(max(self._window - self.held, 1)):
                self._admit(planned)
            self._note_held()
            self._changed.set()
            while self.held >= self._window and not self._stopped:
                await self._wait_for_change()
        self._changed.set()

    def _admit(self, planned: Planned) -> None:
        parent = planned.message.reply_to
        if parent and parent != planned.external_id and not self._is_done(parent):
            if parent in self._live:
                self._waiting.setdefault(parent, []).append(planned)
                self._waiting_count += 1
                self._live.add(planned.external_id)
                return
            if not self._ended:
                self._spill.put(parent, planned)
                return
        self._push(planned)

    def _push(self, planned: Planned) -> None:
        heapq.heappush(self._ready, (send_order(planned), planned))
        self._live.add(planned.external_id)

    async def _next(self) -> Planned | None:
        """The next message to start, once it may start; None when all is done or stopped."""
        while not self._stopped:
            self._refill()
            if self._ready and (self._ended or self.held >= self._window):
                planned = heapq.heappop(self._ready)[1]
                later = self._amends.pop(planned.external_id, None)
                if later is None:
                    return planned
                # Admitted again: the copy may have brought a parent to wait for.
                self._live.discard(planned.external_id)
                self._admit(amended(planned, later))
                continue
            if self._ended and not (self._ready or self._running or self._spill):
                if not self._waiting:
                    return None
                # Unreachable by construction (a reply waits only for a parent held here),
                # but a stuck reply must never end a run silently: send what waits.
                for group in self._waiting.values():
                    for planned in group:
                        self._push(planned)
                self._waiting.clear()
                self._waiting_count = 0
                continue
            await self._wait_for_change()
        return None

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            self._cancelled += 1

    async def _work(self, planned: Planned) -> None:
        try:
            await self._start(planned)
        finally:
            self._running -= 1
            self._slots.release()
            wa_id = planned.external_id
            self._live.discard(wa_id)
            self._in_flight.discard(wa_id)
            children = self._waiting.pop(wa_id, [])
            self._waiting_count -= len(children)
            for child in children:
                self._push(child)
            if self._spill:
                self._released.append(wa_id)
            self._note_held()
            self._changed.set()

    def _refill(self) -> None:
        """Bring back from the spill, as room allows, the replies of parents that finished."""
        while self._released and self.held < self._window:
            room = self._window - self.held
            children = self._spill.take(self._released[0], room)
            if len(children) < room:
                self._released.popleft()
            for child in children:
                self._push(child)
        self._note_held()

    async def _wait_for_change(self) -> None:
        self._changed.clear()
        await self._changed.wait()

    def _note_held(self) -> None:
        self.most_held = max(self.most_held, self.held)
