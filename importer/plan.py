"""From read messages to a plan: who is who, what is in the window, in what order to send.

The plan settles everything that needs no network: each message's direction and its local and
remote phone in E.164 (from the message, else `--local-phone`/`--remote-phone`), the
`--since`/`--until` window, duplicate ids, and the send order: timestamp, then position in the
sources (file order breaks ties; input need not be sorted).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from pathlib import Path

from importer.coexistence import AddressBook, HistorySync, HistoryTally
from importer.copies import Copies, Taken
from importer.message_ids import IdIndex, digest
from importer.model import (
    AddressEntry,
    Direction,
    FileRead,
    HistoryChunk,
    Message,
    Problem,
    SettledFile,
    Skipped,
    SourceInfo,
    Tally,
    record,
)
from importer.phones import to_e164
from importer.sources.options import ReadOptions

KNOWN_BATCH = 500  # messages asked of the checkpoint at once (`Planner`'s `known`)


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def __contains__(self, moment: datetime) -> bool:
        return (self.since is None or moment >= self.since) and (
            self.until is None or moment < self.until
        )


@record
class Planned:
    seq: int  # position in the input: breaks ties between equal timestamps
    message: Message
    direction: Direction
    local_phone: str  # E.164
    remote_phone: str  # E.164
    amends: bool = False  # a later copy of a message planned before: replaces it (`copies`)
    known: bool = False  # the planner's `known` said the checkpoint holds it as done

    @property
    def external_id(self) -> str:
        return self.message.external_id

    @property
    def their_name(self) -> str | None:
        """The remote party's name as the archive shows it (only their own messages show it)."""
        return self.message.sender_name if self.direction == "incoming" else None


@dataclass(slots=True)
class Plan:
    messages: list[Planned] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # kind -> count
    sources: list[SourceInfo] = field(default_factory=list)
    not_needed: int = 0  # messages read but left out by `make_plan`'s `needed`
    notes: list[Problem] = field(default_factory=list)  # problems that keep no message out
    # E.164 -> its name: the address book's, else the first their messages gave
    names: dict[str, str] = field(default_factory=dict)
    history: dict[str, HistorySync] = field(default_factory=dict)  # business E.164 -> its sync


class Planner:
    """Resolves messages one at a time, keeping only their ids (to tell repeats from clashes).

    `inspect`, `--dry-run` and `run` (`runner.PlanStream`) stream through it; `make_plan`
    collects and orders what it yields, whole, for small inputs. Cloud API copies and media
    halves are settled by `copies`, which holds a media half until its other half is read;
    halves still alone at the end are planned then, a placeholder as `<media omitted>`.
    """

    def __init__(
        self,
        options: ReadOptions,
        window: Window = Window(),
        *,
        amends: bool = False,
        known: Callable[[list[str]], Container[str]] | None = None,
        scratch: Path | None = None,
    ):
        self.problems: list[Problem] = []
        self.notes: list[Problem] = []  # e.g. a declined history sync: said, nothing left out
        self.skipped: Counter[str] = Counter()
        self.sources: list[SourceInfo] = []
        self.ids = IdIndex(scratch)  # past 200,000 ids, on disk in `scratch` (a folder)
        self.address_book = AddressBook()
        self.history = HistoryTally()
        self.tallies: dict[str, Tally] = {}  # source -> what reading it gave, for `settled`
        self.settled: list[SettledFile] = []  # files not read again: counted from their tally
        self.files_read: list[FileRead] = []
        self._copies = Copies(self.ids, self.skipped)
        self._amends = amends  # yield the later copies that amend a planned message
        self._known = known  # of the ids asked, those the checkpoint holds as done
        self._done: Container[str] = ()  # what `known` said of the items read ahead
        self._their_names: dict[str, str] = {}  # E.164 -> first name a message of theirs gave
        self._options = options
        self._window = window
        self._local = _phone(options.local_phone, options)
        self._remote = _phone(options.remote_phone, options)

    def close(self) -> None:
        """Deletes the id index's file, if it made one; from any thread."""
        self.ids.close()

    def messages(self, items: Iterable[object]) -> Iterator[Planned]:
        """The plannable messages of `items`; the rest is tallied on self.

        In input order, except history media halves: those come once both are read, or at the
        end. With `amends`, a later copy amending a message comes too (`Planned.amends`)."""
        # Without a checkpoint to ask, items are planned as they are read: `mapping_template`
        # watches both in step.
        read = items if self._known is None else self._asked_ahead(items, self._known)
        for position, item in enumerate(read):
            if isinstance(item, Message):
                tally = self._tally(item.source)
                known = item.external_id in self._done
                if item.part is None and known:
                    # The checkpoint holds it: no repeat to tell from a clash, no copy to join,
                    # and so no entry in the index, which then grows only with what is new.
                    planned = self._plan(item, position, known=True, index=False)
                elif item.wamid:
                    tally.reaches_beyond |= item.part is not None
                    duplicates = self.skipped["duplicate"]
                    taken = self._copies.take(item, position)
                    tally.skipped["duplicate"] += self.skipped["duplicate"] - duplicates
                    planned = self._plan_taken(taken, known) if taken is not None else None
                else:
                    planned = self._plan(item, position, known=known)
                if planned is not None and (self._amends or not planned.amends):
                    if not planned.amends:
                        tally.phones[planned.remote_phone] += 1
                    yield planned
            elif isinstance(item, Problem):
                self.problems.append(item)
            elif isinstance(item, Skipped):
                self._skip(item.kind, item.source)
            elif isinstance(item, SourceInfo):
                self.sources.append(item)
            elif isinstance(item, AddressEntry):
                self._tally(item.source).reaches_beyond = True
                phone = _phone(item.phone, self._options)
                if phone is not None:
                    self.address_book.add(phone, item.at, item.name)
            elif isinstance(item, HistoryChunk):
                self._tally(item.source).reaches_beyond = True
                self._chunk(item)
            elif isinstance(item, SettledFile):
                self._count_settled(item)
            elif isinstance(item, FileRead):
                self.files_read.append(item)
        lone = list(self._copies.lone_halves())
        done = self._known([t.message.external_id for t, _ in lone]) if self._known and lone else ()
        for taken, part in lone:
            if part == "placeholder":
                self.history.placeholder_left(taken.message.local_phone)
            if (planned := self._plan_taken(taken, taken.message.external_id in done)) is not None:
                yield planned

    def _asked_ahead(
        self, items: Iterable[object], known: Callable[[list[str]], Container[str]]
    ) -> Iterator[object]:
        """`items`, `known` asked about a batch of their messages before they are planned: one
        question per message cost a rerun more than reading the message did."""
        them = iter(items)
        while batch := list(islice(them, KNOWN_BATCH)):
            self._done = known([m.external_id for m in batch if isinstance(m, Message)])
            yield from batch

    def _tally(self, source: str) -> Tally:
        tally = self.tallies.get(source)
        if tally is None:
            tally = self.tallies[source] = Tally()
        return tally

    def _skip(self, kind: str, source: str) -> None:
        self.skipped[kind] += 1
        self._tally(source).skipped[kind] += 1

    def _count_settled(self, settled: SettledFile) -> None:
        """A file not read again: what reading it gave, as if it had been read."""
        self.settled.append(settled)
        self.skipped.update(settled.tally.skipped)
        for phone, name in settled.tally.names.items():
            self._their_names.setdefault(phone, name)

    def name_of(self, phone: str) -> str | None:
        """`names()` of one phone, safe to ask from another thread while this one reads."""
        return self.address_book.name(phone) or self._their_names.get(phone)

    def names(self) -> dict[str, str]:
        """Each remote phone's name: the address book's, else the first their messages gave."""
        return self._their_names | self.address_book.names()

    def _chunk(self, chunk: HistoryChunk) -> None:
        kind, problem = self.history.add(chunk)
        if kind is not None:
            self.skipped[kind] += 1
        if problem is not None:
            self.notes.append(problem)

    def _plan_taken(self, taken: Taken, known: bool) -> Planned | None:
        """`_plan` of what `copies` gave (a message read alone needs no `Taken`: millions are)."""
        return self._plan(taken.message, taken.position, amends=taken.amends, known=known)

    def _plan(
        self,
        message: Message,
        position: int,
        *,
        amends: bool = False,
        known: bool,
        index: bool = True,
    ) -> Planned | None:
        if index and not message.wamid:
            found = digest(message.timestamp, message.text, message.reply_to)
            earlier = self.ids.first(message.external_id, found)
            if earlier is not None:
                if earlier == found:
                    self._skip("duplicate", message.source)  # the same message again: once
                else:
                    reason = "id already used by a different message"
                    self.problems.append(_problem(message, reason))
                return None
        if message.timestamp not in self._window:
            if not amends:
                self._skip("outside window", message.source)
            return None
        resolved = _resolve_parties(message, self._options, self._local, self._remote)
        if isinstance(resolved, str):
            if not amends:
                self.problems.append(_problem(message, resolved))
            return None
        planned = Planned(position, message, *resolved, amends, known)
        if planned.their_name:
            self._their_names.setdefault(planned.remote_phone, planned.their_name)
            self._tally(message.source).names.setdefault(planned.remote_phone, planned.their_name)
        return planned


def make_plan(
    items: Iterable[object],
    options: ReadOptions,
    window: Window = Window(),
    needed: Callable[[Planned], bool] = lambda _: True,
) -> Plan:
    """The messages `needed` keeps, in send order: by timestamp, file order breaking ties.

    Everything kept is held in memory: for small inputs and the planner's own tests; `run`
    streams instead (`runner.PlanStream`, `schedule.Scheduler`).
    """
    planner = Planner(options, window, amends=True)
    with contextlib.closing(planner):
        return _collect(planner, items, needed)


def _collect(planner: Planner, items: Iterable[object], needed: Callable[[Planned], bool]) -> Plan:
    kept: list[Planned] = []
    where: dict[str, int] = {}  # Cloud API id -> its place in `kept`, for amending copies
    left = 0
    for p in planner.messages(items):
        if p.amends:
            if (at := where.get(p.external_id)) is not None:
                kept[at] = amended(kept[at], p)
        elif needed(p):
            if p.message.wamid:
                where[p.external_id] = len(kept)
            kept.append(p)
        else:
            left += 1
    kept.sort(key=send_order)
    return Plan(
        kept,
        planner.problems,
        planner.skipped,
        planner.sources,
        left,
        planner.notes,
        planner.names(),
        planner.history.syncs,
    )


def amended(first: Planned, later: Planned) -> Planned:
    """The first copy with the reply link and sender name only the later one gave."""
    message = replace(
        first.message,
        reply_to=first.message.reply_to or later.message.reply_to,
        sender_name=first.message.sender_name or later.message.sender_name,
    )
    return replace(first, message=message)


def send_order(p: Planned) -> tuple[datetime, int]:
    return p.message.timestamp, p.seq


def _resolve_parties(
    message: Message, options: ReadOptions, local_default: str | None, remote_default: str | None
) -> tuple[Direction, str, str] | str:
    """(direction, local E.164, remote E.164), or the reason they cannot be known."""
    sender = _phone(message.from_phone, options)
    receiver = _phone(message.to_phone, options)
    local_given = _phone(message.local_phone, options)
    remote_given = _phone(message.remote_phone, options)
    for raw, phone in (
        (message.from_phone, sender),
        (message.to_phone, receiver),
        (message.local_phone, local_given),
        (message.remote_phone, remote_given),
    ):
        if raw and phone is None:
            return f"not a phone number: {raw!r}"
    local = local_given or local_default
    direction = message.direction
    if direction is None and local is not None:
        if sender == local:
            direction = "outgoing"
        elif receiver == local:
            direction = "incoming"
    if direction is None:
        return "direction unknown: give `direction`, or `from`/`to` naming the local phone"
    theirs, ours = (receiver, sender) if direction == "outgoing" else (sender, receiver)
    local = local_given or ours or local_default
    remote = remote_given or theirs or remote_default
    if local is None:
        return "local phone unknown: pass --local-phone or give `local_phone`"
    if remote is None:
        return "remote phone unknown: pass --remote-phone or give `remote_phone`"
    return direction, local, remote


def _phone(raw: str | None, options: ReadOptions) -> str | None:
    return to_e164(raw, options.default_region) if raw else None


def _problem(message: Message, reason: str) -> Problem:
    return Problem(message.source, message.line, reason, message.external_id)
