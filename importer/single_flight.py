"""One shared call per key: concurrent callers for the same key await the same task."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """Runs `make()` once per key and shares its outcome.

    A caller that is cancelled does not cancel the shared call (others may be waiting on it);
    `cancel()` ends every call still running. With `forget=True` a finished call is dropped,
    so the next caller for its key runs a new one (the answer is cached elsewhere).
    """

    def __init__(self, *, forget: bool = False):
        self._forget = forget
        self._tasks: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, make: Callable[[], Coroutine[Any, Any, V]]) -> V:
        task = self._tasks.get(key)
        if task is None:
            task = self._tasks[key] = asyncio.create_task(make())
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def cancel(self) -> None:
        for task in self._tasks.values():
            task.cancel()

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved: when every caller was cancelled, nobody else will
        if self._forget and self._tasks.get(key) is task:
            del self._tasks[key]
