"""`python -m importer emulator` as a user starts it: one line to parse, clean exit on SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from importer.emulator.cli import main
from tests.emulator.conftest import SEED


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "importer", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serves_until_sigterm(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED))
    process = _start("--data", str(seed), "--seed", "3")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(
            r"Close emulator listening on http://127\.0\.0\.1:(\d+)/api/v1/\n", line
        )
        assert match, line
        state_url = f"http://127.0.0.1:{match[1]}/_emulator/state"
        with urllib.request.urlopen(state_url, timeout=5) as answer:
            state = json.load(answer)
        assert {lead["id"] for lead in state["leads"]} == {"lead_acme", "lead_beta"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_a_bad_data_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"leads": [{"name": "X", "contacts": [{"name": "Y", "phones": ["nope"]}]}]}')
    process = _start("--data", str(bad))
    _, err = process.communicate(timeout=20)
    assert process.returncode == 2
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [["--fail-rate", "1.5"], ["--rate-limit", "0"], ["--port", "x"], ["--nope"]],
)
def test_bad_options_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_missing_data_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_an_unknown_view_timezone_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--timezone", "Mars/Olympus"]) == 2
    assert capsys.readouterr().err == (
        "wa-close-import emulator: error: unknown time zone 'Mars/Olympus'\n"
    )
