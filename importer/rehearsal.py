"""`rehearse`: a whole import into a local emulator, to look at before touching Close."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import replace
from pathlib import Path

from importer.emulator import Emulator, EmulatorConfig, SeedError
from importer.emulator.cli import load_seed
from importer.errors import UsageError
from importer.report import Report
from importer.runner import RunConfig, run_import


async def rehearse(config: RunConfig, data_path: Path | None, port: int, *, serve: bool) -> Report:
    try:
        data = load_seed(data_path) if data_path is not None else None
    except SeedError as exc:
        raise UsageError(f"--data: {exc}") from None
    async with Emulator(EmulatorConfig(data=data, port=port)) as emulator:
        report = await run_import(replace(config, base_url=emulator.base_url))
        report.print()
        if serve:
            print(f"Conversation view at {emulator.root_url}/ (Ctrl-C to stop)", flush=True)
            await _until_stopped()
    return report


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await stop.wait()
