"""`make bench`: run every scenario (or those named) and write bench/results.json.

`--quick` shrinks every size for a smoke run of a minute or two; its figures are not results.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import (
    big_archive,
    hotpath,
    latency,
    ratelimit,
    replies,
    rerun,
    streaming,
    sustained,
    view,
)
from bench.measure import HEADER, Measurement, machine, print_table, write_results

Scenario = Callable[..., list[Measurement]]

SCENARIOS: dict[str, Scenario] = {
    "latency": latency.run,  # 1, 1b, 4 and the naive baseline
    "replies": replies.run,  # 2
    "ratelimit": ratelimit.run,  # 3
    "big": big_archive.run,  # 5
    "big10m": big_archive.run_10m,  # 5b: inspect and dry-run at 10M, minutes
    "rerun": rerun.run,  # 6 at 100k
    "rerun10m": rerun.run_10m,  # 6 at 10M: minutes to write the archive and its checkpoint
    "sustained": sustained.run,  # 7
    "streaming": streaming.run,  # 8: first create and peak RSS of a 1M first import, resumed
    "full1m": streaming.run_full,  # 8d: a whole 1M first import, minutes: RSS and the WAL
    "profile": hotpath.run,  # cProfile of 1 into bench/PROFILE.md
    "view": view.run,  # issue 14: the conversation view of a 20,000-message lead
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"any of {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    args = parser.parse_args()
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    names = args.scenarios or list(SCENARIOS)
    about = machine()
    print(f"machine: {about['nproc']} cores, {about['cpu']}, Python {about['python']}")
    print(HEADER, flush=True)
    results: list[Measurement] = []
    started = time.perf_counter()
    for name in names:
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as work:
            measured = SCENARIOS[name](Path(work), quick=args.quick)
        # The machine is shared: a load well above what the bench itself makes (about 1 to 1.5)
        # means other work competed for the two cores, and the figures are pessimistic.
        for m in measured:
            m.extra["load_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        results += measured
    print_table(results)
    print(f"\n{len(results)} measurements in {time.perf_counter() - started:.0f} s", end="")
    print(f"; {sum(m.passed is False for m in results)} targets missed")
    write_results(results, quick=args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
