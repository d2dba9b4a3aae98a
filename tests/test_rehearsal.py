"""`rehearse`: the whole import into a local emulator, and its conversation view."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import orjson

from importer.cli import main
from tests.conftest import LOCAL_PHONE, SAMPLES


def test_rehearsal_imports_everything_without_close(tmp_path: Path) -> None:
    args = ["rehearse", str(SAMPLES), "--local-phone", LOCAL_PHONE, "--port", "0"]
    assert main([*args, "--no-serve", "--report", str(tmp_path / "r.json")]) == 0

    report = orjson.loads((tmp_path / "r.json").read_bytes())
    assert (report["created"], report["failed"], report["attachments_uploaded"]) == (10, 0, 3)


def test_rehearsal_serves_the_conversation_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "importer", "rehearse", str(SAMPLES), "--port", "0",
         "--local-phone", LOCAL_PHONE, "--data", str(SAMPLES / "seed.json"),
         "--mapping", str(SAMPLES / "mapping.csv"), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    with process.stdout:
        line = process.stdout.readline()
        assert line.startswith("Conversation view at http://127.0.0.1:")
        url = line.split(" at ", 1)[1].split()[0]
        with urllib.request.urlopen(url, timeout=10) as answer:
            page = answer.read().decode()
        assert "Bäckerei Schmidt" in page
        assert "Widget Pro" in page
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
