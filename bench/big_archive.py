"""Scenario 5: a 1,000,000-message JSONL through `inspect` and `run --dry-run`.

Both must finish in 30 s within 250 MB: only possible if messages stream through rather than
being held all at once. Wall time here includes start-up: the user waits for that too.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench.archive import LOCAL_PHONE, Shape, write_archive
from bench.harness import Usage, Watch, measure
from bench.measure import Measurement

TIME_LIMIT_S = 30.0
RSS_LIMIT_MB = 250.0
# Beyond these the run is killed and reported as such: the machine is shared.
_WATCH_TIMEOUT_S = 300.0
_WATCH_RSS_MB = 6_000.0


def run(work: Path, *, quick: bool) -> list[Measurement]:
    messages = 100_000 if quick else 1_000_000
    started = time.perf_counter()
    archive = write_archive(work / "big", Shape(messages=messages, reply_share=0.30))
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
    for label, command in (("5 big inspect", inspect), ("5 big dry-run", dry_run)):
        usage = measure(command, Watch(timeout_s=_WATCH_TIMEOUT_S, rss_cap_mb=_WATCH_RSS_MB))
        results.append(_measurement(label, usage, messages, size_mb))
        print(results[-1].line(), flush=True)
    return results


def _measurement(label: str, usage: Usage, messages: int, size_mb: float) -> Measurement:
    finished = usage.killed_because is None and usage.returncode in (0, 1)
    return Measurement(
        scenario=label,
        name=f"wall s, {messages:,} msgs",
        unit="s",
        achieved=usage.wall_s,
        bound=None,
        target="<= 30 s and <= 250 MB peak RSS",
        passed=finished and usage.wall_s <= TIME_LIMIT_S and usage.peak_rss_mb <= RSS_LIMIT_MB,
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
