"""Scenario 6: a no-op rerun sends nothing and is quick; a big checkpoint loads quickly.

The checkpoint is written directly in checkpoint.py's journal format (an intent and a done
line per message) instead of by a first import, which would take minutes at the emulator's pace.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.archive import Shape, write_archive, write_done_checkpoint
from bench.harness import counters, import_command, measure, start_emulator
from bench.latency import LATENCY_S
from bench.measure import Measurement

RERUN_LIMIT_S = 10.0
LOAD_LIMIT_S = 5.0

_LOAD = """
import sys, time
from pathlib import Path
from importer.checkpoint import load_state
started = time.perf_counter()
state = load_state(Path(sys.argv[1]))
print(time.perf_counter() - started, len(state.done))
"""


def run(work: Path, *, quick: bool) -> list[Measurement]:
    return [
        _rerun(work, 10_000 if quick else 100_000),
        _load(work, 100_000 if quick else 1_000_000),
    ]


def _rerun(work: Path, messages: int) -> Measurement:
    folder = work / "rerun"
    archive = write_archive(folder, Shape(messages=messages))
    write_done_checkpoint(folder / "run.ckpt", archive.shape)
    with start_emulator(archive.seed_data, latency_ms=int(LATENCY_S * 1000)) as emulator:
        emulator.reset()
        usage = measure([sys.executable, *import_command(archive, folder, emulator.base_url, 16)])
        sent = sum(v for k, v in counters(emulator).items() if " " in k)
    measured = Measurement(
        scenario="6 no-op rerun",
        name=f"wall s, {messages:,} done",
        unit="s",
        achieved=usage.wall_s,
        bound=None,
        target="<= 10 s and 0 requests",
        passed=usage.returncode == 0 and sent == 0 and usage.wall_s <= RERUN_LIMIT_S,
        cpu_ms_per_msg=1000 * usage.cpu_s / messages,
        peak_rss_mb=usage.peak_rss_mb,
        extra={"requests_sent": sent, "exit": usage.returncode, "cpu_s": round(usage.cpu_s, 2)},
    )
    print(measured.line(), flush=True)
    return measured


def _load(work: Path, entries: int) -> Measurement:
    path = work / "big.ckpt"
    write_done_checkpoint(path, Shape(messages=entries))
    usage = measure([sys.executable, "-c", _LOAD, str(path)], capture=True)
    seconds, loaded = usage.stdout.split()
    measured = Measurement(
        scenario="6 checkpoint load",
        name=f"load_state s, {entries:,}",
        unit="s",
        achieved=float(seconds),
        bound=None,
        target="<= 5 s",
        passed=usage.returncode == 0 and int(loaded) == entries and float(seconds) <= LOAD_LIMIT_S,
        peak_rss_mb=usage.peak_rss_mb,
        extra={
            "entries": entries,
            "journal_lines": 2 * entries + 1,
            "journal_mb": round(path.stat().st_size / 2**20, 1),
            "process_wall_s": round(usage.wall_s, 2),
        },
    )
    print(measured.line(), flush=True)
    return measured
