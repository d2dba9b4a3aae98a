"""What a coexistence log says besides its messages: the address book's names, and how far each
business's history sync got (cloud-api-history.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from importer.model import HistoryChunk, Problem


class AddressBook:
    """Per phone, the name of the latest `add` by its timestamp; on a tie the later one read."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, str]] = {}  # E.164 -> (timestamp, name)

    def add(self, phone: str, at: int, name: str) -> None:
        earlier = self._entries.get(phone)
        if earlier is None or at >= earlier[0]:
            self._entries[phone] = (at, name)

    def name(self, phone: str) -> str | None:
        entry = self._entries.get(phone)
        return entry[1] if entry is not None else None

    def names(self) -> dict[str, str]:
        return {phone: name for phone, (_, name) in self._entries.items()}


@dataclass(slots=True)
class HistorySync:
    """One business's history sync as its chunks tell it."""

    business: str
    phases: set[str] = field(default_factory=set)
    progress: int | None = None  # the highest seen; 100: the sync finished
    chunks: int = 0
    declined: dict[int | None, str] = field(default_factory=dict)  # error code -> title
    placeholders_without_media: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "phases": sorted(self.phases),
            "progress": self.progress,
            "complete": self.progress == 100,
            "chunks": self.chunks,
            "declined": [{"code": c, "title": t} for c, t in self.declined.items()],
            "placeholders_without_media": self.placeholders_without_media,
        }

    def describe(self) -> str:
        """One line for `inspect`: whether the sync finished, and what is still missing."""
        if self.declined:
            codes = "; ".join(f"code {c}: {t}" for c, t in self.declined.items())
            return f"history of {self.business}: declined ({codes})"
        done = "complete" if self.progress == 100 else "not complete: no chunk said 100"
        progress = "?" if self.progress is None else self.progress
        return (
            f"history of {self.business}: {self.chunks} chunks read, phases "
            f"{', '.join(sorted(self.phases)) or 'none'}, progress {progress}% ({done}), "
            f"{self.placeholders_without_media} media placeholders still without their media"
        )


class HistoryTally:
    """The `HistorySync` of every business, and a declined sync said once per business and code."""

    def __init__(self) -> None:
        self.syncs: dict[str, HistorySync] = {}

    def add(self, chunk: HistoryChunk) -> tuple[str | None, Problem | None]:
        """Note `chunk`; the kind it is skipped as (if any), and the problem it is (once)."""
        sync = self.syncs.get(chunk.business)
        if sync is None:
            sync = self.syncs[chunk.business] = HistorySync(chunk.business)
        sync.chunks += 1
        if chunk.phase is not None:
            sync.phases.add(chunk.phase)
        if chunk.progress is not None:
            sync.progress = max(sync.progress or 0, chunk.progress)
        if chunk.error is not None:
            code, title = chunk.error
            problem = None
            if code not in sync.declined:
                sync.declined[code] = title
                reason = f"{chunk.business} declined to share its history: code {code}: {title}"
                problem = Problem(chunk.source, chunk.line, reason)
            return "history declined", problem
        return ("history progress only" if chunk.threads == 0 else None), None

    def placeholder_left(self, business: str | None) -> None:
        sync = self.syncs.get(business or "")
        if sync is not None:
            sync.placeholders_without_media += 1
