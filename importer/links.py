"""Reply links that heal: a reply sent before its parent was in Close gets its link later.

A reply created without `response_to_id` (its parent outside the window, in a later archive,
later in a recent-first migration) is journaled as a waiting link, in the same record as its
`done`. Once the parent is in Close (this run or a later one), one PUT sets the link and a
`linked` record settles it. A crash before that record costs the same PUT again, which sets the
same value: harmless. A lost answer to a PUT is retried by the transport (`repeatable`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from importer.checkpoint import Checkpoint
from importer.close.api import CloseAPI
from importer.errors import Rejected
from importer.model import Problem
from importer.report import Report


def waiting(reply: str, close_id: str, parent: str) -> dict[str, Any]:
    """The record that journals a reply's link as waiting for `parent`."""
    return {"op": "link", "id": reply, "close": close_id, "parent": parent}


class Links:
    """Sets the waiting reply links whose parents are in Close, each once."""

    def __init__(self, api: CloseAPI, checkpoint: Checkpoint, report: Report, concurrency: int):
        self._api = api
        self._checkpoint = checkpoint
        self._report = report
        self._slots = asyncio.Semaphore(concurrency)
        self._healing: set[str] = set()  # replies whose PUT is in flight

    async def heal(self, parent: str) -> None:
        """Set the links of the replies waiting for `parent`, if Close holds it now."""
        parent_close = self._checkpoint.state.done.get(parent)
        if parent_close is not None:
            for reply, close_id in self._checkpoint.state.links_of(parent):
                await self._put(reply, close_id, parent_close)

    async def heal_known(self) -> None:
        """Set every waiting link whose parent the checkpoint holds as done."""
        done = self._checkpoint.state.done
        ready = [(r, c, done[p]) for r, c, p in self._checkpoint.state.links() if p in done]
        if ready:
            await asyncio.gather(*(self._put(*link) for link in ready))

    def count_waiting(self) -> None:
        """Put the links still waiting, with their parents, in the report."""
        self._report.links_waiting = [(r, p) for r, _, p in self._checkpoint.state.links()]

    async def _put(self, reply: str, close_id: str, parent_close: str) -> None:
        if reply in self._healing:
            return
        self._healing.add(reply)
        try:
            async with self._slots:
                await self._api.update_whatsapp_message(close_id, {"response_to_id": parent_close})
        except Rejected as exc:
            reason = f"reply link not set: Close refused it: {exc}; the next run tries again"
            self._report.note(Problem("checkpoint", None, reason, reply, note=True))
            return
        finally:
            self._healing.discard(reply)
        self._checkpoint.record({"op": "linked", "id": reply})
        self._report.links_healed += 1
