"""Scenarios 1 and 4, and the naive baseline: latency-bound imports at 50 ms, 16 in flight.

With C requests in flight and latency L no client beats C/L requests per second; with no
attachments a message is one request, so the bound is 16 / 0.05 s = 320 messages/s.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.archive import Shape, write_archive
from bench.harness import run_import, start_emulator, startup_cpu_s
from bench.measure import Measurement, from_run

LATENCY_S = 0.05
CONCURRENCY = 16
BOUND = CONCURRENCY / LATENCY_S


def run(work: Path, *, quick: bool) -> list[Measurement]:
    plain = write_archive(work / "plain", Shape(messages=500 if quick else 2_000))
    media = write_archive(work / "media", replace(plain.shape, attachment_share=0.10))
    naive = write_archive(work / "naive", replace(plain.shape, messages=50 if quick else 200))
    results = []
    with start_emulator(plain.seed_data, latency_ms=int(LATENCY_S * 1000)) as emulator:
        first = run_import(plain, work / "plain", emulator, CONCURRENCY)
        results.append(
            from_run("1 latency", first, bound=BOUND, target=">= 90% of 320 msg/s", min_ratio=0.9)
        )
        print(results[-1].line(), flush=True)
        results.append(_cpu(first.usage.cpu_s, first.created))
        print(results[-1].line(), flush=True)

        # An attachment costs an upload slot, a storage POST and the create: bound in requests.
        attached = run_import(media, work / "media", emulator, CONCURRENCY)
        results.append(
            from_run("1b attachments", attached, bound=BOUND, target=">= 85% of 320 req/s",
                     min_ratio=0.85, in_requests=True)
        )  # fmt: skip
        print(results[-1].line(), flush=True)

        # Close's own example code sends one request at a time: that is --concurrency 1.
        baseline = run_import(naive, work / "naive", emulator, 1)
        measured = from_run("0 naive baseline", baseline, bound=BOUND,
                            target="info: --concurrency 1", min_ratio=None)  # fmt: skip
        measured.extra["own_bound_msgs_per_s"] = 1 / LATENCY_S
        if measured.achieved:
            speedup = results[0].achieved / measured.achieved
            measured.extra["speedup_of_scenario_1"] = round(speedup, 1)
        results.append(measured)
        print(results[-1].line(), flush=True)
    return results


def _cpu(cpu_s: float, created: int) -> Measurement:
    """Scenario 4: the whole process's CPU per message, start-up (imports) included."""
    per_message = 1000 * cpu_s / created if created else float("inf")
    startup = startup_cpu_s()
    net = 1000 * max(cpu_s - startup, 0.0) / created if created else float("inf")
    return Measurement(
        scenario="4 cpu",
        name="importer CPU ms/message",
        unit="ms",
        achieved=per_message,
        bound=None,
        target="<= 0.5 ms/msg (user+sys, scenario 1)",
        passed=per_message <= 0.5,
        cpu_ms_per_msg=per_message,
        extra={"startup_cpu_s": round(startup, 3), "net_of_startup_ms_per_msg": round(net, 4)},
    )
