"""Scenario 8: a 1,000,000-message first import starts sending at once and stays small.

100 chats interleaved, 30% replies, an emulator answering in 20 ms. The importer runs for a
while and is killed (SIGKILL: the checkpoint must take that), then resumed with the same
checkpoint; each time we note when the emulator got its first create, counted from the start
of the process, and the process's peak RSS. A whole 1M import at Close's pace would take hours;
memory that grows with the archive shows in the first seconds, since the old plan read and
sorted everything before the first request. 8c: the same for a 2,000-message archive, where
start-up is all there is (issue 10 asks <= 0.2 s). 8d (`full1m`, minutes): the whole 1M first
import, against an emulator answering at once, to its end: peak RSS, and the largest the
checkpoint's WAL grew while it sent.
"""

from __future__ import annotations

import sys
import threading
import time
import urllib.request
from pathlib import Path

import orjson

from bench.archive import Shape, write_archive
from bench.harness import Usage, Watch, import_command, measure, run_import, start_emulator
from bench.measure import Measurement

FIRST_CREATE_LIMIT_S = 3.0
WAL_LIMIT_MB = 16.0  # SQLite folds the WAL every ~4 MB; one that grows with the run is a leak
SMALL_FIRST_CREATE_LIMIT_S = 0.2  # issue 10, item 4: a small archive
SMALL_MESSAGES = 2_000
RSS_LIMIT_MB = 250.0
LATENCY_MS = 20


def run(work: Path, *, quick: bool) -> list[Measurement]:
    messages = 100_000 if quick else 1_000_000
    run_s = 20.0 if quick else 60.0
    folder = work / "streaming"
    archive = write_archive(folder, Shape(messages=messages, chats=100, reply_share=0.30))
    results = []
    with start_emulator(archive.seed_data, latency_ms=LATENCY_MS) as emulator:
        emulator.reset()
        command = [sys.executable, *import_command(archive, folder, emulator.base_url, 8)]
        for label in ("8 first import", "8b resumed"):
            first: list[float] = []
            started = time.perf_counter()
            poller = threading.Thread(
                target=_first_create, args=(emulator.base_url, started, first), daemon=True
            )
            poller.start()
            usage = measure(command, Watch(timeout_s=run_s, rss_cap_mb=4_000))
            poller.join(timeout=5)
            results.append(_measurement(label, usage, messages, first, run_s))
            print(results[-1].line(), flush=True)
    results.append(_small(folder))
    print(results[-1].line(), flush=True)
    return results


def _small(work: Path) -> Measurement:
    """8c: the first create of a 2,000-message first import, from the start of the process."""
    archive = write_archive(work / "small", Shape(messages=SMALL_MESSAGES, chats=4))
    with start_emulator(archive.seed_data, latency_ms=LATENCY_MS) as emulator:
        emulator.reset()
        command = [sys.executable, *import_command(archive, work / "small", emulator.base_url, 8)]
        first: list[float] = []
        started = time.perf_counter()
        poller = threading.Thread(
            target=_first_create, args=(emulator.base_url, started, first, 0.002), daemon=True
        )
        poller.start()
        usage = measure(command, Watch(timeout_s=120, rss_cap_mb=4_000))
        poller.join(timeout=5)
    target = f"<= {SMALL_FIRST_CREATE_LIMIT_S} s to the first create, <= 250 MB peak RSS"
    return _measurement(
        "8c small archive", usage, SMALL_MESSAGES, first, 120,
        limit_s=SMALL_FIRST_CREATE_LIMIT_S, target=target,
    )  # fmt: skip


def _first_create(base_url: str, started: float, first: list[float], every_s: float = 0.02) -> None:
    """Poll until the emulator holds one activity more than when this started."""
    before = _count(base_url)
    deadline = started + 300
    while time.perf_counter() < deadline:
        if _count(base_url) > before:
            first.append(time.perf_counter() - started)
            return
        time.sleep(every_s)


def _count(base_url: str) -> int:
    url = f"{base_url.removesuffix('/api/v1')}/_emulator/counters"
    with urllib.request.urlopen(url, timeout=10) as answer:
        counters: dict[str, int] = orjson.loads(answer.read())
    return counters.get("creates", 0)


def _measurement(
    label: str,
    usage: Usage,
    messages: int,
    first: list[float],
    run_s: float,
    *,
    limit_s: float = FIRST_CREATE_LIMIT_S,
    target: str = f"<= {FIRST_CREATE_LIMIT_S:.0f} s to the first create, <= 250 MB peak RSS",
) -> Measurement:
    first_s = first[0] if first else float("inf")
    return Measurement(
        scenario=label,
        name=f"first create s, {messages:,}",
        unit="s",
        achieved=first_s,
        bound=None,
        target=target,
        passed=first_s <= limit_s and usage.peak_rss_mb <= RSS_LIMIT_MB,
        peak_rss_mb=usage.peak_rss_mb,
        extra={
            "messages": messages,
            "ran_s": round(usage.wall_s, 1),
            "stopped": usage.killed_because or f"exit {usage.returncode}",
            "planned_run_s": run_s,
            "cpu_s": round(usage.cpu_s, 2),
        },
    )


def run_full(work: Path, *, quick: bool) -> list[Measurement]:
    """8d: a whole first import; memory and the journal must not grow with what was sent."""
    messages = 100_000 if quick else 1_000_000
    folder = work / "full"
    archive = write_archive(folder, Shape(messages=messages, chats=100, reply_share=0.30))
    wal = folder / "run.ckpt-wal"
    largest = [0]
    done = threading.Event()

    def watch_wal() -> None:
        while not done.wait(0.5):
            if wal.exists():
                largest[0] = max(largest[0], wal.stat().st_size)

    watcher = threading.Thread(target=watch_wal, daemon=True)
    watcher.start()
    with start_emulator(archive.seed_data, latency_ms=0) as emulator:
        result = run_import(archive, folder, emulator, 32, watch=Watch(3600, 4_000))
    done.set()
    watcher.join(timeout=5)
    wal_mb = largest[0] / 2**20
    usage = result.usage
    measured = Measurement(
        scenario="8d full first import",
        name=f"peak RSS MB, {messages:,}",
        unit="MB",
        achieved=usage.peak_rss_mb,
        bound=None,
        target=f"<= {RSS_LIMIT_MB:.0f} MB peak RSS, WAL <= {WAL_LIMIT_MB:.0f} MB, all created",
        passed=usage.peak_rss_mb <= RSS_LIMIT_MB
        and wal_mb <= WAL_LIMIT_MB
        and result.created == messages,
        cpu_ms_per_msg=1000 * usage.cpu_s / max(result.created, 1),
        peak_rss_mb=usage.peak_rss_mb,
        extra={
            "created": result.created,
            "wall_s": round(usage.wall_s, 1),
            "largest_wal_mb": round(wal_mb, 1),
            "exit": usage.returncode,
            "killed_because": usage.killed_because,
        },
    )
    print(measured.line(), flush=True)
    return [measured]
