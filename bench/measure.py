"""One measured figure against its bound and target, printed as a line and kept for results.json."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.harness import Run

RESULTS = Path(__file__).with_name("results.json")


@dataclass(slots=True)
class Measurement:
    scenario: str  # e.g. "1 latency"
    name: str  # what was measured, e.g. "msgs/s"
    achieved: float
    bound: float | None  # what no client could beat, in the same unit; None for limits
    target: str  # the condition, as text
    passed: bool | None  # None: informational (the naive baseline)
    unit: str = ""
    share_429: float | None = None
    cpu_ms_per_msg: float | None = None
    peak_rss_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return self.achieved / self.bound if self.bound else None

    def line(self) -> str:
        bound = f"{self.bound:9.1f}" if self.bound is not None else f"{'-':>9}"
        ratio = f"{self.ratio:6.1%}" if self.ratio is not None else f"{'-':>6}"
        share = f"{self.share_429:6.2%}" if self.share_429 is not None else f"{'-':>6}"
        cpu = f"{self.cpu_ms_per_msg:6.3f}" if self.cpu_ms_per_msg is not None else f"{'-':>6}"
        rss = f"{self.peak_rss_mb:7.1f}" if self.peak_rss_mb is not None else f"{'-':>7}"
        verdict = {True: "PASS", False: "FAIL", None: "info"}[self.passed]
        return (
            f"{self.scenario:<22} {self.name:<24} {self.achieved:10.2f} {self.unit:<6} {bound} "
            f"{ratio} {share} {cpu} {rss}  {verdict}  {self.target}"
        )

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        return data


HEADER = (
    f"{'scenario':<22} {'measure':<24} {'achieved':>10} {'unit':<6} {'bound':>9} {'ratio':>6} "
    f"{'429':>6} {'cpu ms':>6} {'RSS MB':>7}  verdict  target"
)


def from_run(
    scenario: str, run: Run, *, bound: float, target: str, min_ratio: float | None,
    in_requests: bool = False,
) -> Measurement:  # fmt: skip
    """Rates of an import run: created (or requests) over the report's `elapsed_s`."""
    # elapsed_s excludes interpreter start-up and imports, which are no part of the throughput.
    done = run.api_requests + run.storage_posts if in_requests else run.created
    achieved = done / run.elapsed_s if run.elapsed_s else 0.0
    ratio = achieved / bound
    return Measurement(
        scenario=scenario,
        name="requests/s" if in_requests else "messages/s",
        unit="req/s" if in_requests else "msg/s",
        achieved=achieved,
        bound=bound,
        target=target,
        passed=None if min_ratio is None else ratio >= min_ratio and run.usage.returncode == 0,
        share_429=run.rate_limited / run.api_requests if run.api_requests else 0.0,
        cpu_ms_per_msg=1000 * run.usage.cpu_s / run.created if run.created else None,
        peak_rss_mb=run.usage.peak_rss_mb,
        extra=run_details(run),
    )


def run_details(run: Run) -> dict[str, Any]:
    return {
        "created": run.created,
        "elapsed_s": round(run.elapsed_s, 3),
        "wall_s": round(run.usage.wall_s, 3),
        "importer_cpu_s": round(run.usage.cpu_s, 3),
        "report_requests": run.report.get("requests"),
        "emulator_api_requests": run.api_requests,
        "emulator_storage_posts": run.storage_posts,
        "rate_limited": run.rate_limited,
        "emulator_cpu_s": round(run.emulator_cpu_s, 3),
        # Near 1.0 the single-threaded emulator, not the importer, is the bottleneck.
        "emulator_cpu_share": round(run.emulator_cpu_s / run.usage.wall_s, 3),
        "exit": run.usage.returncode,
        "failed": run.report.get("failed"),
        "not_attempted": run.report.get("not_attempted"),
    }


def machine() -> dict[str, Any]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        # The tree is shared with others at work: say exactly which importer was measured.
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_importer_files": _git("status", "--porcelain", "--", "importer").splitlines(),
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return done.stdout.strip()


def print_table(results: list[Measurement]) -> None:
    print()
    print(HEADER)
    for m in results:
        print(m.line())


def write_results(results: list[Measurement], *, quick: bool, path: Path = RESULTS) -> None:
    """Merge into results.json by scenario, so a run of some scenarios keeps the others."""
    previous: list[dict[str, Any]] = []
    if path.exists():
        previous = orjson.loads(path.read_bytes()).get("measurements", [])
    ran = {m.scenario for m in results}
    kept = [m for m in previous if m["scenario"] not in ran]
    if path.exists() and orjson.loads(path.read_bytes()).get("quick") != quick:
        kept = []  # never mix smoke figures with real ones
    data = {
        "machine": machine(),
        "quick": quick,
        "measurements": kept + [m.as_json() for m in results],
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    tmp.replace(path)
