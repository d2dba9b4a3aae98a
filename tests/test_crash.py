"""Doing the bad thing for real: SIGKILL and SIGINT a running import, then finish it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from importer.emulator.process import EmulatorProcess
from tests.conftest import API_KEY, LOCAL_PHONE, SAMPLES

SEED_LEAD = "lead_acmeSampleLead000000000000000000000000001"
SEED_CONTACT = "cont_mariaSampleContact0000000000000000000001"


@pytest.fixture
def slow_close() -> Iterator[EmulatorProcess]:
    """An emulator process with 40 ms latency and some dropped answers."""
    args = ["--latency-ms", "40", "--drop-rate", "0.05", "--seed", "11"]
    with EmulatorProcess(*args, "--data", str(SAMPLES / "seed.json")) as emulator:
        yield emulator


def write_chat(path: Path, count: int) -> list[dict[str, Any]]:
    rng = random.Random(5)
    rows = []
    for n in range(count):
        row: dict[str, Any] = {
            "id": f"wamid.K+{n:05d}",
            "timestamp": 1_700_000_000 + n,
            "direction": rng.choice(["incoming", "outgoing"]),
            "remote_phone": "+16505550123",
            "text": f"message {n}",
        }
        if n > 5 and rng.random() < 0.4:
            row["reply_to"] = f"wamid.K+{rng.randrange(n - 5, n):05d}"
        rows.append(row)
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    return rows


def start_run(
    emulator: EmulatorProcess,
    tmp_path: Path,
    preexec_fn: Callable[[], None] | None = None,
    *extra: str,
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "importer",
            "run",
            str(tmp_path / "chat.jsonl"),
            "--base-url",
            emulator.base_url,
            "--api-key",
            API_KEY,
            "--local-phone",
            LOCAL_PHONE,
            "--lead-id",
            SEED_LEAD,
            "--contact-id",
            SEED_CONTACT,
            "--concurrency",
            "6",
            "--checkpoint",
            str(tmp_path / "run.ckpt"),
            "--report",
            str(tmp_path / "report.json"),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=preexec_fn,  # noqa: PLW1509 - only setrlimit and signal, nothing that locks
    )


def created(emulator: EmulatorProcess) -> int:
    count: int = emulator.state()["counters"].get("creates", 0)
    return count


def assert_exactly_once(emulator: EmulatorProcess, rows: list[dict[str, Any]]) -> None:
    copies: dict[str, list[dict[str, Any]]] = {}
    for activity in emulator.state()["activities"].values():
        copies.setdefault(activity["external_whatsapp_message_id"], []).append(activity)
    assert sorted(copies) == sorted(r["id"] for r in rows)
    assert [k for k, v in copies.items() if len(v) > 1] == []
    for row in rows:
        if "reply_to" in row:
            assert copies[row["id"]][0]["response_to_id"] == copies[row["reply_to"]][0]["id"]


def test_sigkill_at_random_moments_then_finish_exactly_once(
    slow_close: EmulatorProcess, tmp_path: Path
) -> None:
    rows = write_chat(tmp_path / "chat.jsonl", 600)
    # Kill each run once Close holds a random number more of the messages: mid-flight, wherever
    # that falls (uploads, creates, journal writes), however fast the machine is.
    for target in sorted(random.Random(3).sample(range(40, 520), 5)):
        run = start_run(slow_close, tmp_path)
        while run.poll() is None and created(slow_close) < target:
            time.sleep(0.01)
        assert run.poll() is None, "the run finished before it could be killed"
        os.kill(run.pid, signal.SIGKILL)
        run.wait(10)
    assert 0 < created(slow_close) < len(rows)

    final = start_run(slow_close, tmp_path)
    assert final.wait(120) == 0

    assert_exactly_once(slow_close, rows)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_stops_cleanly_with_130_and_a_rerun_resumes(
    slow_close: EmulatorProcess, tmp_path: Path, stop: signal.Signals
) -> None:
    rows = write_chat(tmp_path / "chat.jsonl", 400)
    run = start_run(slow_close, tmp_path)
    while run.poll() is None and created(slow_close) < 30:
        time.sleep(0.01)
    run.send_signal(stop)
    assert run.wait(30) == 130
    report = orjson.loads((tmp_path / "report.json").read_bytes())
    assert report["interrupted"] is True
    assert 0 < report["created"] < len(rows)
    assert report["not_attempted"] > 0

    assert start_run(slow_close, tmp_path).wait(120) == 0
    assert_exactly_once(slow_close, rows)


def test_a_second_run_is_refused_while_the_first_lives_and_not_after_it_is_killed(
    slow_close: EmulatorProcess, tmp_path: Path
) -> None:
    rows = write_chat(tmp_path / "chat.jsonl", 400)
    first = start_run(slow_close, tmp_path)
    while created(slow_close) < 20:
        time.sleep(0.01)

    second = subprocess.run(
        [sys.executable, "-m", "importer", "run", str(tmp_path / "chat.jsonl"),
         "--api-key", API_KEY, "--base-url", slow_close.base_url,
         "--checkpoint", str(tmp_path / "run.ckpt")],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert second.returncode == 2
    assert f"pid {first.pid}" in second.stderr

    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    assert start_run(slow_close, tmp_path).wait(120) == 0
    assert_exactly_once(slow_close, rows)


def refuse_writes_past(limit: int) -> None:
    """In the child: any file write past `limit` bytes fails (EFBIG), as on a full disk."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_journal_that_cannot_be_written_stops_the_run_with_exit_1_and_a_report(
    tmp_path: Path,
) -> None:
    # Room for the journal's first few hundred messages, whatever its format, not for 1,500.
    rows = write_chat(tmp_path / "chat.jsonl", 1500)
    with EmulatorProcess("--data", str(SAMPLES / "seed.json")) as emulator:
        started = time.monotonic()
        run = start_run(emulator, tmp_path, preexec_fn=lambda: refuse_writes_past(256_000))
        try:
            assert run.wait(60) == 1
        finally:
            run.kill()  # a hang fails here, not the next test with a stray process
            run.wait(10)
        assert time.monotonic() - started < 30
        report = orjson.loads((tmp_path / "report.json").read_bytes())
        assert "cannot write checkpoint" in report["stopped_because"]
        assert 0 < report["created"] < len(rows)
        # Nothing more was sent once the journal failed: at most what was in flight landed.
        assert created(emulator) <= report["created"] + 6
        # Room again: the rerun finishes, and what the failed run sent is there once.
        assert start_run(emulator, tmp_path).wait(120) == 0
        assert_exactly_once(emulator, rows)
