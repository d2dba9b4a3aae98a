"""What a run did, for people (summary, progress) and for programs (the JSON report)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO, TypeVar

import orjson

from importer.model import Problem

T = TypeVar("T")

Outcome = Literal["created", "updated", "skipped", "failed", "rejected"]


@dataclass(slots=True)
class ChatCounts:
    """What became of one chat's messages (a chat: its remote phone)."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    rejected: int = 0  # only those rejected once the chat was known (Close refused, a file)


@dataclass(slots=True)
class Report:
    created: int = 0
    updated: int = 0  # --sync-edits: activities whose message changed since their import
    skipped: int = 0  # already in Close (checkpoint, reconciled, or found by a lookup)
    failed: int = 0  # sent and refused, or not sent because of Close; a rerun retries them
    rejected: int = 0  # bad input: unreadable lines, messages that cannot be imported as they are
    attachments_uploaded: int = 0
    attachments_reused: int = 0  # the same bytes uploaded earlier (this run or within a day)
    attachment_bytes_uploaded: int = 0
    attachment_bytes_reused: int = 0
    links_healed: int = 0  # replies whose link was set once their parent was in Close
    # (reply, parent) WhatsApp ids of the reply links still waiting for their parent
    links_waiting: list[tuple[str, str]] = field(default_factory=list)
    not_attempted: int = 0  # left for the next run (interrupted, or Close became unavailable)
    # Files unchanged since a run imported every message in them: counted, not read again.
    files_not_reread: int = 0
    elapsed_s: float = 0.0
    dry_run: bool = False
    problems: list[Problem] = field(default_factory=list)
    skipped_by_kind: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    rate_limited: int = 0  # answers 429: the request waited for Close's window and went again
    retries: int = 0  # requests sent again after a transient failure (timeout, 5xx, cut)
    chats: dict[str, ChatCounts] = field(default_factory=dict)
    shown_problems: int = 0  # the first problems, already printed one a line while it ran
    stopped_because: str | None = None
    interrupted: bool = False
    reading_stopped: bool = False  # stopped before the sources were read to their end
    key_refused: bool = False
    journal_failed: bool = False  # the checkpoint could not be written: nothing more was sent

    @property
    def left_undone(self) -> bool:
        """Whether some message was neither imported nor settled as failed or rejected."""
        return self.reading_stopped or self.not_attempted > 0

    @property
    def changed_close(self) -> bool:
        return bool(self.created or self.updated or self.attachments_uploaded)

    @property
    def messages(self) -> int:
        """The messages this run settled, one way or another."""
        return self.created + self.updated + self.skipped + self.failed + self.rejected

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def clean(self) -> bool:
        """Whether the run sent all it had to and read everything: nothing left, nothing cut."""
        return not (
            self.left_undone
            or self.interrupted
            or self.journal_failed
            or self.key_refused
            or self.stopped_because
        )

    def count(self, outcome: Outcome, chat: str | None = None) -> None:
        """One message's outcome, in the totals and, when its chat is known, in the chat's."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        if chat is not None:
            counts = self._chat(chat)
            setattr(counts, outcome, getattr(counts, outcome) + 1)

    def count_by_chat(self, outcome: Outcome, chats: Counter[str]) -> None:
        """The outcome of `chats[chat]` messages of each chat: a rerun finds millions in Close
        already, and counts them a batch at a time."""
        setattr(self, outcome, getattr(self, outcome) + chats.total())
        for chat, n in chats.items():
            counts = self._chat(chat)
            setattr(counts, outcome, getattr(counts, outcome) + n)

    def _chat(self, chat: str) -> ChatCounts:
        counts = self.chats.get(chat)
        if counts is None:
            counts = self.chats[chat] = ChatCounts()
        return counts

    def attachment(self, size: int, *, uploaded: bool) -> None:
        """One attachment of a message: its bytes sent now, or a file Close already has."""
        if uploaded:
            self.attachments_uploaded += 1
            self.attachment_bytes_uploaded += size
        else:
            self.attachments_reused += 1
            self.attachment_bytes_reused += size

    def reject(self, problem: Problem, chat: str | None = None) -> None:
        self.count("rejected", chat)
        self.problems.append(problem)

    def fail(self, problem: Problem, chat: str | None = None) -> None:
        self.count("failed", chat)
        self.problems.append(problem)

    def note(self, problem: Problem) -> None:
        """A problem that did not keep the message out of Close (e.g. a missing reply link)."""
        self.problems.append(problem)

    def as_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "failed": self.failed,
            "rejected": self.rejected,
            "attachments_uploaded": self.attachments_uploaded,
            "attachments_reused": self.attachments_reused,
            "attachment_bytes_uploaded": self.attachment_bytes_uploaded,
            "attachment_bytes_reused": self.attachment_bytes_reused,
            "not_attempted": self.not_attempted,
            "files_not_reread": self.files_not_reread,
            "links_healed": self.links_healed,
            "links_waiting": len(self.links_waiting),
            "links_waiting_for": [
                {"reply": reply, "parent": parent} for reply, parent in self.links_waiting
            ],
            "elapsed_s": round(self.elapsed_s, 3),
            "messages_per_s": round(self.messages_per_s, 1),
            "dry_run": self.dry_run,
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "retries": self.retries,
            "chats": [
                {"chat": chat, **asdict(counts)} for chat, counts in sorted(self.chats.items())
            ],
            "skipped_by_kind": dict(sorted(self.skipped_by_kind.items())),
            "stopped_because": self.stopped_because,
            "interrupted": self.interrupted,
            "problems": [problem_json(p) for p in self.problems],
        }

    def write(self, path: Path) -> None:
        data = orjson.dumps(self.as_json(), option=orjson.OPT_INDENT_2)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data + b"\n")
        tmp.replace(path)

    def summary(self) -> str:
        """The run in one line: what became of the messages, the attachments and the requests."""
        verb = "would create" if self.dry_run else "created"
        parts = [
            f"{verb} {self.created}",
            *([f"updated {self.updated}"] if self.updated else []),
            f"already imported {self.skipped}",
            f"failed {self.failed}",
            f"rejected {self.rejected}",
        ]
        if self.not_attempted:
            parts.append(f"left for the next run {self.not_attempted}")
        if self.files_not_reread:
            parts.append(f"files unchanged since imported, not read again {self.files_not_reread}")
        if self.links_healed or self.links_waiting:
            links = f"reply links healed {self.links_healed}"
            parts.append(links + f", waiting {len(self.links_waiting)}")
        files = f"attachments uploaded {self.attachments_uploaded}"
        if self.attachments_uploaded or not self.dry_run:
            files += f" ({byte_size(self.attachment_bytes_uploaded)})"
        if self.attachments_reused:
            files += f", reused {self.attachments_reused} "
            files += f"({byte_size(self.attachment_bytes_reused)})"
        parts.append(files)
        if not self.dry_run:
            parts.append(
                f"requests {self.requests} (429s {self.rate_limited}, retries {self.retries})"
            )
        if self.skipped_by_kind:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.skipped_by_kind.items()))
            parts.append(f"not messages: {kinds}")
        rate = f"{self.messages_per_s:.1f} messages/s"
        return f"{', '.join(parts)} in {self.elapsed_s:.1f} s, {rate}"

    def chat_lines(self) -> list[str]:
        """A line per chat: what it created, skipped, failed."""
        verb = "would create" if self.dry_run else "created"
        lines = []
        for chat, c in sorted(self.chats.items()):
            said = f"  {chat}: {verb} {c.created}"
            said += f", updated {c.updated}" if c.updated else ""
            said += f", already imported {c.skipped}, failed {c.failed}"
            said += f", rejected {c.rejected}" if c.rejected else ""
            lines.append(printable(said))
        return lines

    def print(self, out: TextIO | None = None, max_problems: int = 20) -> None:
        """Problems (those not shown while it ran, up to `max_problems` in all), the summary,
        the chats, and why it stopped."""
        out = out or sys.stderr
        rest = self.problems[self.shown_problems :]
        lines = problem_lines(rest)
        room = max(0, max_problems - self.shown_problems)
        for line in lines[:room]:
            print(line, file=out)
        if len(lines) > room:
            more = sum(group.count for group in group_problems(rest)[room:])
            print(f"... and {more} more problems (see --report)", file=out)
        print(printable(self.summary()), file=out)
        for line in self.chat_lines():
            print(line, file=out)
        if self.stopped_because:
            print(printable(self.stopped_because), file=out)


@dataclass(slots=True)
class ProblemGroup:
    """Problems of one source with one reason: said once, with how many and where."""

    first: Problem
    count: int = 0
    lines: list[int] = field(default_factory=list)  # the first few, in input order


_SHOWN_LINES = 5


def group_problems(problems: Iterable[Problem]) -> list[ProblemGroup]:
    """The problems by (source, reason), in the order each was first met."""
    groups: dict[tuple[str, str], ProblemGroup] = {}
    for problem in problems:
        group = groups.get((problem.source, problem.reason))
        if group is None:
            group = groups[problem.source, problem.reason] = ProblemGroup(problem)
        group.count += 1
        if problem.line is not None and len(group.lines) < _SHOWN_LINES:
            group.lines.append(problem.line)
    return list(groups.values())


def problem_lines(problems: Iterable[Problem]) -> list[str]:
    """One `problem: ...` line per group, for people; `--json` and the report keep each one."""
    lines = []
    for group in group_problems(problems):
        problem = group.first
        if group.count == 1:
            where = f"{problem.source}:{problem.line}" if problem.line else problem.source
            ident = f" [{problem.external_id}]" if problem.external_id else ""
            lines.append(printable(f"problem: {where}{ident}: {problem.reason}"))
            continue
        shown = ", ".join(map(str, group.lines))
        more = ", ..." if group.count > len(group.lines) else ""
        what = "messages" if problem.external_id else "times"
        at = f", lines {shown}{more}" if group.lines else ""
        said = f"problem: {problem.source}: {problem.reason} ({group.count} {what}{at})"
        lines.append(printable(said))
    return lines


# What a terminal would act on rather than show: control characters (ESC starts every escape
# sequence) and the bidirectional overrides that make text read differently than it is.
_UNPRINTABLE = {
    **{code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)]},
    **{code: f"\\u{code:04x}" for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]},
}


def printable(text: str) -> str:
    """`text` safe for a terminal: names from an archive cannot move the cursor or recolour."""
    return text.translate(_UNPRINTABLE)


def byte_size(count: int) -> str:
    """Bytes as people read them: 980 B, 12.3 kB, 4.5 MB, 1.2 GB."""
    size, unit = float(count), 0
    while size >= 1000 and unit < len(_UNITS) - 1:
        size, unit = size / 1000, unit + 1
    return f"{count} B" if unit == 0 else f"{size:.1f} {_UNITS[unit]}"


_UNITS = ("B", "kB", "MB", "GB")


def problem_json(problem: Problem) -> dict[str, Any]:
    """A problem as the report and `inspect --json` show it (interface.md)."""
    return {
        "source": problem.source,
        "line": problem.line,
        "external_id": problem.external_id,
        "reason": problem.reason,
        "note": problem.note,  # the message is in Close all the same
    }
