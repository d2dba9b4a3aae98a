"""One import run, wired together: read, plan, resolve, send, journal, report."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from importer.checkpoint import Checkpoint, CheckpointState, load_state
from importer.checkpoint.store import LastRun, Store
from importer.close.api import CloseAPI
from importer.close.transport import RetryPolicy, Transport
from importer.contacts import ContactResolver, Defaults, LeadContact, LookupOptions
from importer.errors import CheckpointError, ScratchError
from importer.feed import ThreadFeed
from importer.model import Problem
from importer.pipeline import Importer, SendOptions, is_changed
from importer.plan import Planned, Planner, Window, amended
from importer.progress import RunProgress
from importer.report import Report
from importer.scratch import remove_left
from importer.signals import ReadingStopped, StopOnSignals
from importer.sources import read_sources
from importer.sources.meter import ReadMeter
from importer.sources.options import ReadOptions
from importer.sources.settled import SettledFiles, reading_key, settled_records

DEFAULT_CHECKPOINT = Path("wa-close-import.ckpt")


@dataclass(frozen=True, slots=True)
class RunConfig:
    sources: tuple[Path, ...]
    read: ReadOptions
    base_url: str
    api_key: str | None
    checkpoint: Path = DEFAULT_CHECKPOINT
    window: Window = field(default_factory=Window)
    mapping: dict[str, LeadContact] = field(default_factory=dict)  # phone -> (lead, contact)
    defaults: Defaults = field(default_factory=Defaults)
    send: SendOptions = field(default_factory=SendOptions)
    lookup: LookupOptions = field(default_factory=LookupOptions)
    dry_run: bool = False
    show_progress: bool = True
    status_every_s: float = 300.0  # stderr not a terminal: a line of where it stands this often
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    last_run: LastRun | None = None  # kept in the checkpoint, for `status` to print it again
    reread: bool = False  # read every file, even those a clean run imported whole (`settled`)


def needed(config: RunConfig, state: CheckpointState) -> Callable[[Planned], bool]:
    """What this run must send: what the checkpoint does not hold, and with --sync-edits what
    changed since it was sent."""
    sync = bool(config.send.sync_edits)
    done = state.done
    # A message the planner already found done needs no second look, unless edits are synced.
    return lambda p: (not p.known and p.external_id not in done) or (sync and is_changed(state, p))


class PlanStream:
    """The plan as it is read: batches of what must be sent, tallying the rest on the way.

    Reading and planning run in a thread (`feed.ThreadFeed`); filtering by the checkpoint, on
    the event loop. A later copy that amends a message (`Planned.amends`) goes to `amend`.
    """

    def __init__(
        self,
        config: RunConfig,
        state: CheckpointState,
        planner: Planner,
        amend: Callable[[Planned], bool],
        not_needed: Callable[[Counter[str]], None],
        *,
        settled: SettledFiles | None,
    ):
        self.planner = planner
        self._not_needed = not_needed  # how many of each chat are in Close already
        self.finished = False  # every source was read to its end
        self._needed = needed(config, state)
        self._amend = amend
        self.meter = ReadMeter(config.sources)
        items = read_sources(list(config.sources), config.read, self.meter, settled)
        self._feed = ThreadFeed(self.planner.messages(items))

    def stop(self) -> None:
        self._feed.stop()

    async def __aiter__(self) -> AsyncIterator[list[Planned]]:
        async for batch in self._feed:
            kept: list[Planned] = []
            at: dict[str, int] = {}  # id -> its place in `kept`, for a copy in the same batch
            not_needed: Counter[str] = Counter()  # chat -> how many
            for p in batch:
                if not p.amends:
                    if self._needed(p):
                        at[p.external_id] = len(kept)
                        kept.append(p)
                    else:
                        not_needed[p.remote_phone] += 1
                elif (i := at.get(p.external_id)) is not None:
                    kept[i] = amended(kept[i], p)
                else:
                    self._amend(p)
            if not_needed:
                self._not_needed(not_needed)
            yield kept
        self.finished = True


async def run_import(config: RunConfig) -> Report:
    """Import everything the config names; the report says what happened, problems included."""
    started = time.monotonic()
    report = Report(dry_run=config.dry_run)
    try:
        if config.dry_run:
            with StopOnSignals() as stop:
                try:
                    await asyncio.to_thread(_dry_run, config, report, stop)
                except ReadingStopped:
                    _stopped_reading(report, stop)
        else:
            await _send(config, report)
    except ScratchError as exc:
        # What was in flight finished and the checkpoint says so: a rerun resumes.
        report.reading_stopped = True
        report.stopped_because = f"{exc}; free some space there, then rerun to resume"
    report.elapsed_s = time.monotonic() - started
    return report


def _tally(report: Report, planner: Planner) -> None:
    """What the planner met besides messages to send: problems, skips, files not read again."""
    for problem in planner.problems:
        (report.note if problem.note else report.reject)(problem)
    for note in planner.notes:
        report.note(note)
    report.skipped_by_kind.update(planner.skipped)
    for settled in planner.settled:
        report.count_by_chat("skipped", settled.tally.phones)
    report.files_not_reread = len(planner.settled)


def _settled_files(config: RunConfig, store: Store) -> SettledFiles | None:
    """The files this run need not read again (unless --reread), asked of `store`."""
    if config.reread:
        return None
    reading = reading_key(config.read, config.window.since, config.window.until)
    sync = bool(config.send.sync_edits)
    return SettledFiles(store.settled_file, store.has_settled_files(), reading, sync_edits=sync)


def _stopped_reading(report: Report, stop: StopOnSignals) -> None:
    report.interrupted = report.reading_stopped = True
    report.stopped_because = stop.reason


def _dry_run(config: RunConfig, report: Report, stop: StopOnSignals) -> None:
    """Everything but the network, streaming: memory does not grow with the archive."""
    state = load_state(config.checkpoint)
    scratch = _scratch(config)
    remove_left(scratch)  # what a killed run or dry run left there
    planner = Planner(config.read, config.window, known=state.done_among, scratch=scratch)
    with contextlib.closing(planner):
        _dry_plan(config, report, stop, planner, state)


def _scratch(config: RunConfig) -> Path | None:
    """Where a run's scratch files go: beside its checkpoint, else the system's temporary folder
    (a dry run's checkpoint folder need not exist)."""
    folder = config.checkpoint.parent
    return folder if folder.is_dir() else None


def _dry_plan(
    config: RunConfig, report: Report, stop: StopOnSignals, planner: Planner, state: CheckpointState
) -> None:
    resolver = ContactResolver(config.mapping, config.defaults, state.contacts)
    files: set[tuple[str, str]] = set()
    unmapped: set[str] = set()
    settled = _settled_files(config, state.store)
    items = stop.until_stopped(read_sources(list(config.sources), config.read, settled=settled))
    for p in planner.messages(items):
        if p.known:
            report.count("skipped", p.remote_phone)
            continue
        report.count("created", p.remote_phone)
        for attachment in p.message.attachments:
            file = (str(attachment.blob.container), attachment.blob.member)
            report.attachment(attachment.blob.size, uploaded=file not in files)
            files.add(file)
        message = p.message
        offline = resolver.resolve_offline(p.remote_phone, message.lead_id, message.contact_id)
        if offline is None and p.remote_phone not in unmapped:
            unmapped.add(p.remote_phone)
            reason = f"{p.remote_phone} would be looked up in Close (no mapping for it)"
            report.note(Problem(message.source, message.line, reason, p.external_id))
    _tally(report, planner)


async def _send(config: RunConfig, report: Report) -> None:
    assert config.api_key is not None
    checkpoint = Checkpoint(config.checkpoint)
    await checkpoint.open()
    try:
        # The id index and spill of a run killed here, hundreds of MB at millions of messages.
        await asyncio.to_thread(remove_left, config.checkpoint.parent)
        if config.last_run is not None:
            await checkpoint.remember_run(config.last_run)
        with StopOnSignals() as stop:
            await _import_stream(config, report, checkpoint, stop)
    finally:
        try:
            await checkpoint.close()
        except CheckpointError as exc:
            # The run already stopped for it (or its last records failed): the report says so.
            report.journal_failed = True
            report.stopped_because = report.stopped_because or f"{exc}; rerun to resume"


async def _import_stream(
    config: RunConfig, report: Report, checkpoint: Checkpoint, stop: StopOnSignals
) -> None:
    assert config.api_key is not None
    reconcile = checkpoint.is_new if config.send.reconcile is None else config.send.reconcile
    async with (
        Transport(
            config.base_url,
            config.api_key,
            concurrency=config.send.concurrency,
            retry=config.retry,
        ) as transport,
        contextlib.AsyncExitStack() as stack,
    ):
        api = CloseAPI(transport)
        # The reading thread's own view of the checkpoint: what it holds needs no index entry.
        known = load_state(config.checkpoint)
        stack.callback(known.store.close)
        # A read transaction held between its reads would stay open while the thread waits
        # for room in the feed, and pin the journal: no commit after it could be folded into
        # the file, and the WAL would grow by every commit of the run.
        known.store.stop_holding()
        planner = Planner(
            config.read,
            config.window,
            amends=True,
            known=known.done_among,
            scratch=_scratch(config),
        )
        stack.callback(planner.close)  # after the reading thread stopped, or while it stops
        resolver = ContactResolver(
            config.mapping,
            config.defaults,
            checkpoint.state.contacts,
            api,
            checkpoint,
            options=replace(config.lookup, retry=config.retry),
            name_of=planner.name_of,
        )
        importer = Importer(
            api,
            checkpoint,
            contacts=resolver,
            options=replace(config.send, reconcile=reconcile),
            report=report,
        )
        plan = PlanStream(
            config,
            checkpoint.state,
            planner,
            importer.amend,
            lambda chats: report.count_by_chat("skipped", chats),
            settled=_settled_files(config, known.store),
        )
        shown = RunProgress(
            report,
            transport.counts,
            transport.limits,
            stream=sys.stderr,
            bars=config.show_progress,
            every_s=config.status_every_s,
            meter=plan.meter,
        )

        def on_stop(reason: str) -> None:
            importer.stop(reason, interrupted=True)
            plan.stop()

        stop.on_stop(on_stop)
        watching = asyncio.create_task(shown.watch())
        try:
            await importer.run(plan, spill_dir=config.checkpoint.parent)
        finally:
            watching.cancel()
            shown.close()  # the transport's counts into the report, and the bars off the screen
            report.reading_stopped = not plan.finished
            _tally(report, planner)
        if report.clean:
            synced = bool(config.send.sync_edits)
            records = settled_records(
                planner.files_read, planner.tallies, report.problems, synced=synced
            )
            for record in records:
                checkpoint.record(record)
