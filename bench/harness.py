"""Processes under measurement: the emulator, and importer runs timed and metered by the kernel.

The importer always runs as its own process so that `wait4` reports its CPU and peak RSS alone;
the emulator shares the two cores, so its CPU is read from /proc and reported next to each run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.archive import LOCAL_PHONE, Archive
from importer.checkpoint import load_state
from importer.emulator.process import EmulatorProcess
from importer.errors import ImporterError

_TICKS = os.sysconf("SC_CLK_TCK")
_API_KEY = "bench"  # the emulator accepts any key; this one never leaves loopback


def cpu_seconds(pid: int) -> float:
    """User + system CPU a live process has used so far (/proc/PID/stat fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def start_emulator(
    seed_data: Path, *, latency_ms: int = 50, rate_limit: int | None = None
) -> EmulatorProcess:
    """The emulator the scenarios measure against; enter it with `with`."""
    args = ["--latency-ms", str(latency_ms), "--data", str(seed_data)]
    if rate_limit is not None:
        args += ["--rate-limit", str(rate_limit)]
    return EmulatorProcess(*args)


def counters(emulator: EmulatorProcess) -> dict[str, int]:
    found: dict[str, int] = emulator.state()["counters"]
    return found


# Routes the emulator counts that are not Close's API (storage is counted on its own).
_NOT_API = frozenset({"storage", "file_download", "view"})


def api_requests(counters: dict[str, int]) -> int:
    """Requests that reached `/api/v1/` ("METHOD route" keys), refused ones included."""
    return sum(v for k, v in counters.items() if " " in k and k.split(" ", 1)[1] not in _NOT_API)


@dataclass(slots=True)
class Usage:
    """What the kernel and the clock say about one finished process."""

    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    killed_because: str | None = None
    stdout: bytes = b""
    stderr_tail: str = ""


@dataclass(slots=True)
class Watch:
    """Limits a measured process must stay within; past them it is killed, and that reported."""

    timeout_s: float = 600.0
    rss_cap_mb: float = 4_000.0  # the machine is shared: a runaway plan must not take it down
    samples: list[tuple[float, int]] = field(default_factory=list)
    tail: Path | None = None  # a checkpoint to follow: (time, done) samples for `sustained`
    peak_rss_mb: float = 0.0  # the child's VmHWM, as last read


def measure(command: Sequence[str], watch: Watch | None = None, *, capture: bool = False) -> Usage:
    """Run `command`, return its wall time and, from `wait4`, its own CPU and peak RSS."""
    watch = watch or Watch()
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=errors
        )
        killed: list[str] = []
        done = threading.Event()
        sampler = threading.Thread(target=_watch, args=(process.pid, watch, started, done, killed))
        sampler.start()
        output = process.stdout.read() if process.stdout is not None else b""
        # wait4 rather than Popen.wait: it is the only way to get this child's rusage alone.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not reap it again
        done.set()
        sampler.join()
        if process.stdout is not None:
            process.stdout.close()
        errors.seek(0)
        tail = errors.read()[-2000:].decode(errors="replace")
    if process.returncode not in (0, 1) or killed:
        print(f"  ! {' '.join(command[:5])}... exited {process.returncode}: {tail}", flush=True)
    return Usage(
        returncode=process.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        # ru_maxrss of a child counts the parent's RSS at fork (Linux keeps the larger of the
        # two across exec): the bench's own 80 MB would hide a small process. VmHWM, read
        # until it exits, is the child's own peak.
        peak_rss_mb=watch.peak_rss_mb or usage.ru_maxrss / 1024,
        killed_because=killed[0] if killed else None,
        stdout=output,
        stderr_tail=tail,
    )


def _watch(
    pid: int, watch: Watch, started: float, done: threading.Event, killed: list[str]
) -> None:
    while not done.wait(0.1):
        now = time.perf_counter() - started
        if watch.tail is not None and watch.tail.exists():
            watch.samples.append((now, _imported(watch.tail)))
        watch.peak_rss_mb = max(watch.peak_rss_mb, _status_mb(pid, "VmHWM:"))
        reason = None
        if now > watch.timeout_s:
            reason = f"killed after {watch.timeout_s:.0f} s"
        elif _status_mb(pid, "VmRSS:") > watch.rss_cap_mb:
            reason = f"killed above {watch.rss_cap_mb:.0f} MB RSS"
        if reason is not None and not killed:
            killed.append(reason)
            os.kill(pid, signal.SIGKILL)


def _imported(checkpoint: Path) -> int:
    """How many messages the checkpoint holds as done, read as `status` reads it."""
    try:
        state = load_state(checkpoint)
    except ImporterError:
        return 0  # not created yet, or mid-creation
    try:
        return sum(chat["imported"] for chat in state.by_chat().values())
    finally:
        state.store.close()


def _status_mb(pid: int, field: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


@dataclass(slots=True)
class Run:
    """One importer run against an emulator: the kernel's figures, its report, the server's."""

    usage: Usage
    report: dict[str, Any]
    api_requests: int  # as the emulator counted them
    rate_limited: int
    storage_posts: int
    emulator_cpu_s: float

    @property
    def elapsed_s(self) -> float:
        """The report's own clock: from reading the archive to the last answer, no start-up."""
        return float(self.report.get("elapsed_s") or self.usage.wall_s)

    @property
    def created(self) -> int:
        return int(self.report.get("created", 0))


def import_command(archive: Archive, work: Path, base_url: str, concurrency: int) -> list[str]:
    return [
        "-m", "importer", "run", str(archive.jsonl),
        "--base-url", base_url, "--api-key", _API_KEY,
        "--local-phone", LOCAL_PHONE, "--mapping", str(archive.mapping),
        "--checkpoint", str(work / "run.ckpt"), "--report", str(work / "report.json"),
        "--no-progress", "--concurrency", str(concurrency),
    ]  # fmt: skip


def run_import(
    archive: Archive,
    work: Path,
    emulator: EmulatorProcess,
    concurrency: int,
    *,
    watch: Watch | None = None,
    python_args: Sequence[str] = (),
) -> Run:
    """Import `archive` into `emulator` (reset first) and collect every figure of the run."""
    emulator.reset()
    for stale in ("run.ckpt", "report.json"):
        (work / stale).unlink(missing_ok=True)
    cpu_before = cpu_seconds(emulator.pid)
    command = [
        sys.executable,
        *python_args,
        *import_command(archive, work, emulator.base_url, concurrency),
    ]
    usage = measure(command, watch)
    emulator_cpu = cpu_seconds(emulator.pid) - cpu_before
    seen = counters(emulator)
    report_path = work / "report.json"
    report: dict[str, Any] = orjson.loads(report_path.read_bytes()) if report_path.exists() else {}
    return Run(
        usage=usage,
        report=report,
        api_requests=api_requests(seen),
        rate_limited=seen.get("rate_limited", 0),
        storage_posts=seen.get("uploads", 0),
        emulator_cpu_s=emulator_cpu,
    )


def startup_cpu_s() -> float:
    """CPU of an importer process that only starts and exits: the fixed cost in every run."""
    return measure([sys.executable, "-m", "importer", "--version"], capture=True).cpu_s
