"""The emulator as a process of its own, for the demo, benchmarks and tests that kill importers.

`python -m importer emulator --port 0` picks a free port and says it on its first stdout line;
this waits for that line, and stops the process (SIGTERM, then SIGKILL) on leaving the `with`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson


class EmulatorProcess:
    """`python -m importer emulator ARGS` on a free loopback port, for the length of a `with`."""

    def __init__(self, *args: str, start_timeout_s: float = 30.0):
        self._command = [sys.executable, "-m", "importer", "emulator", "--port", "0", *args]
        self._start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.base_url = ""  # http://127.0.0.1:PORT/api/v1, as --base-url takes it

    def __enter__(self) -> EmulatorProcess:
        # Output goes to a file: a pipe nobody reads would stall the emulator once full.
        self._log = tempfile.NamedTemporaryFile(prefix="emulator-", suffix=".log")
        self._process = subprocess.Popen(self._command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self._start_timeout_s
        first = ""
        while " on " not in first and time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            time.sleep(0.02)
            first = Path(self._log.name).read_text(errors="replace").partition("\n")[0]
        if " on " not in first:
            output = Path(self._log.name).read_text(errors="replace")
            self.__exit__(None, None, None)
            raise RuntimeError(f"the emulator did not start: {output!r}")
        self.base_url = first.split(" on ", 1)[1].strip().rstrip("/")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def pid(self) -> int:
        assert self._process is not None, "use `with EmulatorProcess(...)`"
        return self._process.pid

    @property
    def root_url(self) -> str:
        """Where the view, storage and the emulator's own routes live."""
        return self.base_url.removesuffix("/api/v1")

    def state(self) -> dict[str, Any]:
        """`GET /_emulator/state`: counters, leads and every activity."""
        with urllib.request.urlopen(f"{self.root_url}/_emulator/state", timeout=60) as answer:
            state: dict[str, Any] = orjson.loads(answer.read())
        return state

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.root_url}/_emulator/reset", method="POST")
        with urllib.request.urlopen(request, timeout=60):
            pass
