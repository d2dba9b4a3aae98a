"""`inspect` and `status`: what the archives hold and what a checkpoint says, without network."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from importer import mapping_template, rerun
from importer.checkpoint import load_state
from importer.checkpoint.store import LastRun
from importer.contacts import LeadContact
from importer.errors import UsageError
from importer.message_ids import IdIndex
from importer.plan import Planned, Planner, Window
from importer.report import printable, problem_json, problem_lines
from importer.scratch import remove_left
from importer.sources import read_sources
from importer.sources.options import ReadOptions


@dataclass(slots=True)
class ChatSummary:
    source: str
    chat: str
    remote_phone: str
    messages: int = 0
    incoming: int = 0
    outgoing: int = 0
    first: datetime | None = None
    last: datetime | None = None
    replies: int = 0
    replies_unresolved: int = 0
    attachments: int = 0
    attachment_bytes: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "chat": self.chat,
            "remote_phone": self.remote_phone,
            "messages": self.messages,
            "incoming": self.incoming,
            "outgoing": self.outgoing,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "replies": self.replies,
            "replies_unresolved": self.replies_unresolved,
            "attachments": self.attachments,
            "attachment_bytes": self.attachment_bytes,
        }


def summarise(messages: Iterable[Planned], ids: IdIndex) -> list[ChatSummary]:
    """Per-chat counts in one pass; `ids` (every id read, filled as `messages` is consumed)
    settles which replies point outside the sources: at once for a parent read shortly before its
    reply, at the end, in one query of the index's disk, for the others."""
    numbers: dict[tuple[str, str], int] = {}  # (source, phone) -> its place in `chats`
    shown: dict[tuple[str, str], int] = {}  # the same for a zip's members: one chat per zip
    chats: list[ChatSummary] = []
    for p in messages:
        m = p.message
        number = numbers.get((m.source, p.remote_phone))
        if number is None:
            source = m.source.split(":", 1)[0] if ".zip:" in m.source else m.source
            number = shown.get((source, p.remote_phone))
            if number is None:
                number = shown[source, p.remote_phone] = len(chats)
                chats.append(ChatSummary(source, m.chat or p.remote_phone, p.remote_phone))
            numbers[m.source, p.remote_phone] = number
        chat = chats[number]
        chat.messages += 1
        if p.direction == "incoming":
            chat.incoming += 1
        else:
            chat.outgoing += 1
        at = m.timestamp
        if chat.first is None or at < chat.first:
            chat.first = at
        if chat.last is None or at > chat.last:
            chat.last = at
        if m.reply_to:
            chat.replies += 1
            parent = ids.key(m.reply_to)
            if not ids.held_in_memory(parent):
                ids.ask_at_end(number, parent)
        if m.attachments:
            chat.attachments += len(m.attachments)
            chat.attachment_bytes += sum(a.blob.size for a in m.attachments)
    for number, unresolved in ids.missing_by_group().items():
        chats[number].replies_unresolved = unresolved
    return chats


def inspect_sources(
    options: ReadOptions,
    sources: list[Path],
    window: Window,
    *,
    as_json: bool,
    template: Path | None = None,
    mapping: dict[str, LeadContact] | None = None,
    lookup: tuple[str, str] | None = None,
) -> int:
    remove_left(None)  # what a killed `inspect` left in the temporary folder
    planner = Planner(options, window)  # its id index's file, if any, in the temporary folder
    items = read_sources(sources, options)
    phones = mapping_template.PhoneTable(mapping or {}, options.default_region)
    messages = phones.tap(items, planner, window) if template else planner.messages(items)
    with contextlib.closing(planner):
        chats = summarise(messages, planner.ids)
    if template is not None:
        rows = phones.rows(planner.names())
        if lookup is not None:
            asyncio.run(mapping_template.look_up(rows, *lookup))
        mapping_template.write(rows, template)
        named = sum(1 for row in rows if not row.phone)
        by_name = f" ({named} by name: fill in their phone)" if named else ""
        print(printable(f"wrote {len(rows)} parties to {template}{by_name}"), file=sys.stderr)
    problems = [problem_json(p) for p in planner.problems + planner.notes]
    if as_json:
        document = {
            "chats": [c.as_json() for c in chats],
            "skipped": dict(sorted(planner.skipped.items())),
            "problems": problems,
            "date_order": {s.source: s.date_order for s in planner.sources if s.date_order},
            "date_order_evidence": {s.source: s.evidence for s in planner.sources if s.date_order},
            "history": {b: sync.as_json() for b, sync in planner.history.syncs.items()},
            "parties": {s.source: s.parties for s in planner.sources if s.parties},
        }
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for info in planner.sources:
            if info.date_order:
                print(
                    printable(f"{info.source}: dates read as {info.date_order} ({info.evidence})")
                )
            if info.parties:
                print(printable(f"{info.source}: {info.parties}"))
        for c in chats:
            span = f"{c.first:%Y-%m-%d} .. {c.last:%Y-%m-%d}" if c.first and c.last else ""
            who = c.remote_phone if c.chat == c.remote_phone else f"{c.chat} ({c.remote_phone})"
            line = (
                f"{c.source}: chat {who}: {c.messages} messages "
                f"({c.incoming} in, {c.outgoing} out), {c.replies} replies "
                f"({c.replies_unresolved} to messages not in the sources), "
                f"{c.attachments} attachments ({c.attachment_bytes} bytes), {span}"
            )
            print(printable(line))
        for sync in planner.history.syncs.values():
            print(printable(sync.describe()))
        if planner.skipped:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(planner.skipped.items()))
            print(printable(f"not imported by design: {kinds}"))
        for line in problem_lines(planner.problems + planner.notes):
            print(line)
        total = sum(c.messages for c in chats)
        print(f"{total} messages in {len(chats)} chats, {len(problems)} problems")
    return 1 if problems else 0


def show_status(path: Path, *, as_json: bool, failed: bool = False) -> int:
    """Totals and per chat; with `failed`, each failed message and where it was read; and the
    command that runs the last run again, which retries the failed."""
    if not path.is_file():
        raise UsageError(f"no checkpoint at {path}")
    state = load_state(path)
    by_chat = state.by_chat()
    totals = sum(by_chat.values(), Counter[str]())
    chats = [
        {
            "chat": chat,
            "imported": counts["imported"],
            "pending": counts["pending"],
            "failed": counts["failed"],
        }
        for chat, counts in sorted(by_chat.items())
    ]
    last = state.store.last_run()
    if as_json:
        document = {
            "imported": totals["imported"],
            "pending": totals["pending"],
            "failed": totals["failed"],
            "chats": chats,
            "failed_messages": [
                {"external_id": f.wa_id, "reason": f.reason, "source": f.source, "line": f.line}
                for f in state.store.failures()
            ],
            "last_run": None if last is None else _last_run_json(last, path),
        }
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(
        printable(
            f"{path}: imported {totals['imported']}, pending {totals['pending']}, "
            f"failed {totals['failed']}"
        )
    )
    for row in chats:
        print(
            printable(
                f"  {row['chat'] or '(unknown chat)'}: imported {row['imported']}, "
                f"pending {row['pending']}, failed {row['failed']}"
            )
        )
    if failed:
        for f in state.store.failures():
            print(printable(f"  failed {f.wa_id}: {f.reason}{_read_at(f.source, f.line)}"))
    _say_rerun(path, last, totals["failed"], listed=failed)
    return 0


def _last_run_json(last: LastRun, path: Path) -> dict[str, Any]:
    return {
        "started": datetime.fromtimestamp(last.at, UTC).isoformat(),
        "sources": list(last.sources),
        "options": list(last.options),
        "command": rerun.command(last, path),
    }


def _read_at(source: str | None, line: int | None) -> str:
    if source is None:
        return ""
    return f" (at {source}:{line})" if line is not None else f" (in {source})"


def _say_rerun(path: Path, last: LastRun | None, failed: int, *, listed: bool) -> None:
    if last is None:
        if failed:
            print(
                printable(
                    f"this checkpoint does not name its last run's sources (an earlier release "
                    f"wrote it): to retry the failed, rerun `wa-close-import run SOURCE... "
                    f"--checkpoint {path}` with that run's options"
                )
            )
        return
    started = datetime.fromtimestamp(last.at, UTC)
    if not failed:
        print(f"last run, started {started:%Y-%m-%d %H:%M:%S} UTC:")
    elif listed:
        print(
            f"to retry them once their cause is fixed, run the last run again (started "
            f"{started:%Y-%m-%d %H:%M:%S} UTC; the API key is not kept: set CLOSE_API_KEY):"
        )
    else:
        print(
            printable(
                f"{failed} failed: `wa-close-import status --failed --checkpoint {path}` lists "
                f"them; to retry them, run the last run again (started "
                f"{started:%Y-%m-%d %H:%M:%S} UTC; the API key is not kept: set CLOSE_API_KEY):"
            )
        )
    print(printable(f"  {rerun.command(last, path)}"))
