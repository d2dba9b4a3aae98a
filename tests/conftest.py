"""Shared fixtures: the emulator as the network seam, the samples as realistic input."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import settings

from importer.emulator import Emulator, EmulatorConfig

# A shared 2-core CI machine has slow moments; a property that takes 300 ms once is not wrong.
settings.register_profile("project", deadline=None)
settings.load_profile("project")

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
LOCAL_PHONE = "+14155550100"
API_KEY = "test-key-Zq9x-never-print-me"


@pytest.fixture
def seed() -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((SAMPLES / "seed.json").read_bytes())
    return data


@pytest.fixture
async def emulator(seed: dict[str, Any]) -> AsyncIterator[Emulator]:
    async with Emulator(EmulatorConfig(data=seed, seed=1)) as emu:
        yield emu


class ThreadedEmulator:
    """An emulator on a loop of its own thread, for tests that drive the synchronous CLI."""

    def __init__(self, config: EmulatorConfig):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.emulator = Emulator(config)

    def __enter__(self) -> Emulator:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.emulator.start(), self._loop).result(10)
        return self.emulator

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.emulator.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def close_server(seed: dict[str, Any]) -> Iterator[Emulator]:
    with ThreadedEmulator(EmulatorConfig(data=seed, seed=2)) as emu:
        yield emu


def cli_import(
    emu: Emulator, tmp_path: Path, *args: str | Path, checkpoint: str = "run.ckpt"
) -> tuple[int, dict[str, Any]]:
    """`wa-close-import run ARGS` into `emu`: its exit status and its JSON report ({} if none).

    The account's phone, the checkpoint and the report are set; a later `--mapping` or other
    flag in ARGS is the caller's.
    """
    from importer.cli import main

    report = tmp_path / "report.json"
    report.unlink(missing_ok=True)
    status = main(
        [
            "run",
            *(str(a) for a in args),
            "--base-url",
            emu.base_url,
            "--api-key",
            API_KEY,
            "--local-phone",
            LOCAL_PHONE,
            "--checkpoint",
            str(tmp_path / checkpoint),
            "--report",
            str(report),
            "--no-progress",
        ]
    )
    data: dict[str, Any] = orjson.loads(report.read_bytes()) if report.exists() else {}
    return status, data


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a file system that really runs out of space."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("a full disk needs a small tmpfs, and mounting one needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()})")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave_kib: int) -> None:
    """Fill `disk` until `leave_kib` KiB are free."""
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    (disk / "filler").write_bytes(b"\0" * max(free - leave_kib * 1024, 0))


def free_space(disk: Path) -> None:
    """What a user does about a full disk: delete something, and here grow the disk too."""
    (disk / "filler").unlink()
    subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
