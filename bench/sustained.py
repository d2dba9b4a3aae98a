"""Scenario 7: 20,000 messages at scenario 1's settings; the last quarter as fast as the first.

Progress is read from the checkpoint as it grows (its `done` lines), on the harness's side, so
watching costs the emulator nothing.
"""

from __future__ import annotations

from pathlib import Path

from bench.archive import Shape, write_archive
from bench.harness import Watch, run_import, start_emulator
from bench.latency import BOUND, CONCURRENCY, LATENCY_S
from bench.measure import Measurement, from_run

MAX_SLOWDOWN = 0.10


def run(work: Path, *, quick: bool) -> list[Measurement]:
    archive = write_archive(work / "sustained", Shape(messages=4_000 if quick else 20_000))
    watch = Watch(tail=work / "sustained" / "run.ckpt")
    with start_emulator(archive.seed_data, latency_ms=int(LATENCY_S * 1000)) as emulator:
        result = run_import(archive, work / "sustained", emulator, CONCURRENCY, watch=watch)
    overall = from_run("7 sustained", result, bound=BOUND, target="info", min_ratio=None)
    first, last = _quarter_rates(watch.samples, result.created)
    measured = Measurement(
        scenario="7 sustained",
        name="last/first quarter rate",
        unit="",
        achieved=last / first if first else 0.0,
        bound=None,
        target=">= 0.90 (last quarter within 10% of first)",
        passed=bool(first) and last >= first * (1 - MAX_SLOWDOWN) and result.usage.returncode == 0,
        share_429=overall.share_429,
        cpu_ms_per_msg=overall.cpu_ms_per_msg,
        peak_rss_mb=overall.peak_rss_mb,
        extra={
            **overall.extra,
            "overall_msgs_per_s": round(overall.achieved, 1),
            "overall_ratio_to_bound": round(overall.achieved / BOUND, 3),
            "first_quarter_msgs_per_s": round(first, 1),
            "last_quarter_msgs_per_s": round(last, 1),
        },
    )
    print(measured.line(), flush=True)
    return [measured]


def _quarter_rates(samples: list[tuple[float, int]], total: int) -> tuple[float, float]:
    """Messages per second over the first and the last quarter of the `done` lines."""
    if total < 8 or not samples:
        return 0.0, 0.0
    quarter = total // 4

    def reached(count: int) -> float:
        return next((t for t, n in samples if n >= count), samples[-1][0])

    first = quarter / max(reached(quarter) - reached(1), 1e-9)
    last = quarter / max(reached(total) - reached(total - quarter), 1e-9)
    return first, last
