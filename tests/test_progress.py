"""What a person watching sees: bars and problems on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from importer.cli import main
from importer.close.ratelimit import RateLimits
from importer.emulator import EmulatorConfig
from importer.model import Problem
from importer.progress import RunProgress
from importer.report import Report
from importer.sources.meter import ReadMeter
from tests.conftest import API_KEY, LOCAL_PHONE, SAMPLES, ThreadedEmulator


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def problems(report: Report, count: int) -> None:
    for n in range(count):
        report.fail(Problem("chats.jsonl", n + 1, f"reason {n}", f"id-{n}"), "+16505550123")


def test_a_terminal_gets_bars_a_rate_limit_note_and_twenty_problems_then_a_count() -> None:
    report, limits, screen, meter = Report(), RateLimits(), Terminal(), ReadMeter([SAMPLES])
    shown = RunProgress(
        report, Counter(), limits, stream=screen, bars=True, every_s=0.0, meter=meter
    )
    meter.read = meter.total // 2
    report.count("created", "+16505550123")
    problems(report, 25)
    limits.group("activity").pause(30)
    report.attachment(3_000_000, uploaded=True)
    shown.close()
    during = screen.getvalue()

    assert "messages: 26msg" in during
    assert "Close's rate limit: waiting (activity 30 s)" in during
    assert "attachments" in during and "3.00MB" in during
    assert "sources read:  50%" in during  # with an ETA: the total is known
    # tqdm clears its bars (a \r, a cursor move) before each line it writes above them.
    lines = [
        re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line).rsplit("\r", 1)[-1]
        for line in during.splitlines()
    ]
    said = [line for line in lines if line.startswith("problem: ")]
    assert said == [f"problem: chats.jsonl:{n + 1} [id-{n}]: reason {n}" for n in range(20)]

    end = Terminal()
    report.print(end)
    assert "reason 0" not in end.getvalue()  # said already, above the bars
    assert "... and 5 more problems (see --report)" in end.getvalue()


def test_no_bars_off_a_terminal_a_line_of_where_it_stands_instead() -> None:
    report, log = Report(), Pipe()
    shown = RunProgress(report, Counter(requests=7), RateLimits(), stream=log, bars=True, every_s=0)
    report.count("created", "+16505550123")
    problems(report, 2)
    shown.refresh()

    (line,) = log.getvalue().splitlines()
    assert "so far: created 1, already imported 0, failed 2" in line
    assert "requests 7" in line
    assert "\r" not in log.getvalue() and "msg/s" not in log.getvalue()
    report.print(log)
    assert "reason 0" in log.getvalue()  # not shown while it ran: said at the end


def test_a_run_off_a_terminal_prints_plain_lines_while_it_goes(
    tmp_path: Path, seed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with ThreadedEmulator(EmulatorConfig(data=seed, seed=5, latency_ms=60)) as emu:
        status = main(
            [
                *("run", str(SAMPLES), "--mapping", str(SAMPLES / "mapping.csv")),
                *("--base-url", emu.base_url, "--api-key", API_KEY, "--local-phone", LOCAL_PHONE),
                *("--checkpoint", str(tmp_path / "c.ckpt"), "--concurrency", "1"),
                *("--status-every", "0.005"),  # 0.3 s
            ]
        )
    err = capsys.readouterr().err
    assert status == 0
    assert "so far: created " in err
    assert "\r" not in err and "msg/s" not in err  # no bar: stderr is not a terminal
    assert err.splitlines()[-3].startswith("created 10, already imported 0")  # then 2 chats
