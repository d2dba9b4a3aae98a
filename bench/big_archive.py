"""Scenario 5: a 1,000,000-message JSONL through `inspect` and `run --dry-run`; 5b: 10,000,000.

At 1M both must finish in 30 s, at 10M in 150 s (issue 10), within 250 MB: only possible if
messages stream through and the ids read go to disk rather than being held all at once. Wall
time here includes start-up: the user waits for that too. 5b is its own scenario (`big10m`):
writing its 1.6 GB archive takes a minute.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench.archive import LOCAL_PHONE, Shape, write_archive
from bench.harness import Usage, Watch, measure
from bench.measure import Measurement

RSS_LIMIT_MB = 250.0
# Beyond these the run is killed and reported as such: the machine is shared.
_WATCH_RSS_MB = 6_000.0


def run(work: Path, *, quick: bool) -> list[Measurement]:
    return _scenario(work, "5 big", 100_000 if quick else 1_000_000, chats=4, limit_s=30.0)


def run_10m(work: Path, *, quick: bool) -> list[Measurement]:
    # The shape: 100 chats interleaved.
    messages = 1_000_000 if quick else 10_000_000
    return _scenario(work, "5b 10M", messages, chats=100, limit_s=150.0)


def _scenario(
    work: Path, label: str, messages: int, *, chats: int, limit_s: float
) -> list[Measurement]:
    started = time.perf_counter()
    archive = write_archive(work / "big", Shape(messages=messages, chats=chats, reply_share=0.30))
    written_s = time.perf_counter() - started
    size_mb = archive.jsonl.stat().st_size / 2**20
    print(f"  wrote {messages:,} messages ({size_mb:.0f} MB) in {written_s:.1f} s", flush=True)
    common = [str(archive.jsonl), "--local-phone", LOCAL_PHONE, "--mapping", str(archive.mapping)]
    inspect = [sys.executable, "-m", "importer", "inspect", *common, "--json"]
    dry_run = [
        sys.executable, "-m", "importer", "run", *common, "--dry-run", "--no-progress",
        "--checkpoint", str(work / "big" / "dry.ckpt"), "--report", str(work / "big" / "dry.json"),
    ]  # fmt: skip
    results = []
    for name, command in ((f"{label} inspect", inspect), (f"{label} dry-run", dry_run)):
        usage = measure(command, Watch(timeout_s=10 * limit_s, rss_cap_mb=_WATCH_RSS_MB))
        results.append(_measurement(name, usage, messages, size_mb, limit_s))
        print(results[-1].line(), flush=True)
    return results


def _measurement(
    label: str, usage: Usage, messages: int, size_mb: float, limit_s: float
) -> Measurement:
    finished = usage.killed_because is None and usage.returncode in (0, 1)
    return Measurement(
        scenario=label,
        name=f"wall s, {messages:,} msgs",
        unit="s",
        achieved=usage.wall_s,
        bound=None,
        target=f"<= {limit_s:.0f} s and <= {RSS_LIMIT_MB:.0f} MB peak RSS",
        passed=finished and usage.wall_s <= limit_s and usage.peak_rss_mb <= RSS_LIMIT_MB,
        cpu_ms_per_msg=1000 * usage.cpu_s / messages,
        peak_rss_mb=usage.peak_rss_mb,
        extra={
            "messages": messages,
            "jsonl_mb": round(size_mb, 1),
            "exit": usage.returncode,
            "killed_because": usage.killed_because,
            "cpu_s": round(usage.cpu_s, 2),
            "messages_per_s": round(messages / usage.wall_s),
        },
    )
