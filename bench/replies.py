"""Scenario 2: 60% replies in long chains must not serialise the run.

Each chat carries four chains (sixteen in all, as many as requests in flight); a reply extends
a random one, answering its previous link. Only a chain's own links wait for each other, so a
scheduler that holds back just those keeps every slot busy.
"""

from __future__ import annotations

from pathlib import Path

from bench.archive import Shape, write_archive
from bench.harness import run_import, start_emulator
from bench.latency import BOUND, CONCURRENCY, LATENCY_S
from bench.measure import Measurement, from_run

CHAINS_PER_CHAT = 4


def run(work: Path, *, quick: bool) -> list[Measurement]:
    shape = Shape(
        messages=500 if quick else 2_000, reply_share=0.60, chains_per_chat=CHAINS_PER_CHAT
    )
    archive = write_archive(work / "chains", shape)
    with start_emulator(archive.seed_data, latency_ms=int(LATENCY_S * 1000)) as emulator:
        result = run_import(archive, work / "chains", emulator, CONCURRENCY)
    measured = from_run(
        "2 reply chains", result, bound=BOUND, target=">= 80% of 320 msg/s", min_ratio=0.8
    )
    # The longest chain alone needs (links x latency): a floor no scheduler can go under.
    measured.extra["longest_chain_floor_s"] = round(_longest_chain(archive.jsonl) * LATENCY_S, 2)
    print(measured.line(), flush=True)
    return [measured]


def _longest_chain(jsonl: Path) -> int:
    import orjson

    depth: dict[str, int] = {}
    for raw in jsonl.read_bytes().splitlines():
        record = orjson.loads(raw)
        parent = record.get("reply_to")
        depth[record["id"]] = depth.get(parent, 0) + 1 if parent else 1
    return max(depth.values(), default=0)
