"""Scenario 3: under 40 requests/s per endpoint group, 32 in flight, nothing beats 40 msg/s.

Latency stays at 50 ms, so 32 in flight could do 640/s: the limit, not latency, is the bound,
and the importer must find it from the `RateLimit` headers rather than from 429s.
"""

from __future__ import annotations

from pathlib import Path

from bench.archive import Shape, write_archive
from bench.harness import run_import, start_emulator
from bench.latency import LATENCY_S
from bench.measure import Measurement, from_run

RATE = 40
CONCURRENCY = 32
MAX_429_SHARE = 0.02


def run(work: Path, *, quick: bool) -> list[Measurement]:
    archive = write_archive(work / "limited", Shape(messages=200 if quick else 1_000))
    with start_emulator(
        archive.seed_data, latency_ms=int(LATENCY_S * 1000), rate_limit=RATE
    ) as emulator:
        result = run_import(archive, work / "limited", emulator, CONCURRENCY)
    measured = from_run(
        "3 rate limit",
        result,
        bound=RATE,
        target=">= 90% of 40 msg/s, <= 2% 429",
        min_ratio=0.9,
    )
    if measured.share_429 is not None and measured.share_429 > MAX_429_SHARE:
        measured.passed = False
    print(measured.line(), flush=True)
    return [measured]
