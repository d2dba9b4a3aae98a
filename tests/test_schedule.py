"""The streaming scheduler: every message once, a reply after its parent, memory bounded."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.feed import ThreadFeed
from importer.model import Message
from importer.plan import Planned
from importer.schedule import Scheduler

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def planned(n: int, parent: int | None = None, seq: int | None = None) -> Planned:
    message = Message(
        external_id=f"m{n}",
        timestamp=T0 + timedelta(seconds=n),
        source="chat.jsonl",
        line=n + 1,
        reply_to=None if parent is None else f"m{parent}",
    )
    return Planned(n if seq is None else seq, message, "incoming", "+14155550100", "+14155550123")


async def batches_of(items: list[Planned], sizes: list[int]) -> AsyncIterator[list[Planned]]:
    at = 0
    for size in itertools.cycle(sizes):
        if at >= len(items):
            return
        yield items[at : at + size]
        at += size
        await asyncio.sleep(0)


class Recorder:
    """A stand-in for the importer: notes when each message starts and finishes."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.clock = 0
        self.started: dict[str, int] = {}
        self.finished: dict[str, int] = {}
        self.order: list[str] = []

    async def start(self, p: Planned) -> None:
        assert p.external_id not in self.started, f"{p.external_id} started twice"
        self.clock += 1
        self.started[p.external_id] = self.clock
        self.order.append(p.external_id)
        for _ in range(self.rng.randrange(4)):
            await asyncio.sleep(0)
        self.clock += 1
        self.finished[p.external_id] = self.clock


@st.composite
def archives(draw: st.DrawFn) -> tuple[list[Planned], set[str], list[int], int, int, int]:
    count = draw(st.integers(1, 60))
    parents: list[int | None] = []
    for n in range(count):
        # A parent earlier in time, or one the input lacks (n + 1000), or none.
        kind = draw(st.sampled_from(["none", "earlier", "missing"])) if n else "none"
        if kind == "earlier":
            parents.append(draw(st.integers(0, n - 1)))
        elif kind == "missing":
            parents.append(n + 1000)
        else:
            parents.append(None)
    items = [planned(n, parent) for n, parent in enumerate(parents)]
    order = draw(st.permutations(range(count)))
    shuffled = [planned(n, parents[n], seq=position) for position, n in enumerate(order)]
    done = {f"m{n + 1000}" for n in range(count) if draw(st.booleans())}
    sizes = draw(st.lists(st.integers(1, 9), min_size=1, max_size=30))
    window = draw(st.integers(1, 20))
    concurrency = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**16))
    del items
    return shuffled, done, sizes, window, concurrency, seed


@settings(max_examples=150, deadline=None)
@given(archives())
def test_every_message_starts_once_and_each_reply_after_its_parent(
    tmp_path_factory: pytest.TempPathFactory,
    archive: tuple[list[Planned], set[str], list[int], int, int, int],
) -> None:
    items, done, sizes, window, concurrency, seed = archive
    recorder = Recorder(random.Random(seed))
    spill_dir = tmp_path_factory.mktemp("spill")

    async def main() -> int:
        scheduler = Scheduler(
            recorder.start,
            concurrency=concurrency,
            is_done=done.__contains__,
            spill_dir=spill_dir,
            window=window,
        )
        left = await scheduler.run(batches_of(items, sizes))
        assert scheduler.most_held <= window + max(sizes)
        return left

    assert asyncio.run(main()) == 0
    assert sorted(recorder.started) == sorted(p.external_id for p in items)
    in_input = {p.external_id for p in items}
    for p in items:
        parent = p.message.reply_to
        if parent in in_input:
            assert recorder.finished[parent] < recorder.started[p.external_id], (p, parent)
    assert list(spill_dir.iterdir()) == []  # the spill file is gone with the run


async def test_lines_out_of_order_within_the_window_go_out_in_time_order(tmp_path: Path) -> None:
    order = list(range(200))
    random.Random(7).shuffle(order)
    items = [planned(n, seq=position) for position, n in enumerate(order)]
    recorder = Recorder(random.Random(1))
    scheduler = Scheduler(
        recorder.start, concurrency=1, is_done=lambda _: False, spill_dir=tmp_path, window=256
    )
    assert await scheduler.run(batches_of(items, [16])) == 0
    assert recorder.order == [f"m{n}" for n in range(200)]


async def test_replies_read_before_their_parent_wait_on_disk_not_in_memory(
    tmp_path: Path,
) -> None:
    # 2,000 replies to a message that comes last (a recent-first archive, inverted).
    items = [planned(n + 1, parent=0, seq=n) for n in range(2000)] + [planned(0, seq=2000)]
    recorder = Recorder(random.Random(2))
    scheduler = Scheduler(
        recorder.start, concurrency=4, is_done=lambda _: False, spill_dir=tmp_path, window=50
    )
    assert await scheduler.run(batches_of(items, [100])) == 0
    assert scheduler.most_held <= 50 + 100
    assert len(recorder.started) == 2001
    assert all(recorder.finished["m0"] < at for k, at in recorder.started.items() if k != "m0")


async def test_a_parent_the_checkpoint_holds_is_no_reason_to_wait(tmp_path: Path) -> None:
    items = [planned(1, parent=0, seq=0)]
    recorder = Recorder(random.Random(3))
    scheduler = Scheduler(
        recorder.start, concurrency=1, is_done={"m0"}.__contains__, spill_dir=tmp_path, window=1
    )
    assert await scheduler.run(batches_of(items, [1])) == 0
    assert recorder.order == ["m1"]
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 (nothing was spilled)


async def test_a_stop_starts_nothing_more_and_counts_what_was_left(tmp_path: Path) -> None:
    items = [planned(n) for n in range(100)]
    scheduler: Scheduler

    async def start(p: Planned) -> None:
        if p.external_id == "m9":
            scheduler.stop()
        await asyncio.sleep(0)

    scheduler = Scheduler(
        start, concurrency=1, is_done=lambda _: False, spill_dir=tmp_path, window=100
    )
    left = await scheduler.run(batches_of(items, [100]))
    assert left == 90


async def test_a_reader_failure_ends_the_run_after_what_is_in_flight(tmp_path: Path) -> None:
    finished: list[str] = []

    async def start(p: Planned) -> None:
        await asyncio.sleep(0.01)
        finished.append(p.external_id)

    async def failing() -> AsyncIterator[list[Planned]]:
        yield [planned(0)]
        await asyncio.sleep(0.001)
        raise OSError("disk gone")

    scheduler = Scheduler(
        start, concurrency=2, is_done=lambda _: False, spill_dir=tmp_path, window=1
    )
    with pytest.raises(OSError, match="disk gone"):
        await scheduler.run(failing())
    assert finished == ["m0"]


async def test_thread_feed_hands_every_item_over_in_order() -> None:
    seen: list[int] = []
    async for batch in ThreadFeed(iter(range(10_000)), batch=64, depth=2):
        assert len(batch) <= 64
        seen.extend(batch)
    assert seen == list(range(10_000))


async def test_thread_feed_raises_the_readers_error() -> None:
    def items() -> object:
        yield 1
        raise ValueError("bad archive")

    with pytest.raises(ValueError, match="bad archive"):
        async for _ in ThreadFeed(items()):  # type: ignore[arg-type]
            pass


async def test_thread_feed_stops_reading_when_the_consumer_leaves() -> None:
    read: list[int] = []

    def endless() -> object:
        n = 0
        while True:
            read.append(n)
            yield n
            n += 1

    feed: ThreadFeed[int] = ThreadFeed(endless(), batch=10, depth=1)  # type: ignore[arg-type]
    async for _ in feed:
        break
    await asyncio.sleep(0.05)
    settled = len(read)
    await asyncio.sleep(0.05)
    assert len(read) == settled <= 40


async def test_a_copy_of_a_message_already_started_is_not_taken_as_an_amendment(
    tmp_path: Path,
) -> None:
    answers: list[bool] = []
    scheduler: Scheduler

    async def start(p: Planned) -> None:
        answers.append(scheduler.amend(planned(0, parent=9)))  # while m0 is in flight
        await asyncio.sleep(0)

    scheduler = Scheduler(start, concurrency=1, is_done=lambda _: False, spill_dir=tmp_path)
    assert await scheduler.run(batches_of([planned(0)], [1])) == 0
    assert answers == [False]  # too late to lend its link: the caller must heal it
