"""Where a run stands while it goes: bars on a terminal, a line every few minutes elsewhere.

On a terminal (tqdm): messages settled with their rate, a second bar for attachment bytes once
there are attachments, a note while Close's rate limit holds a group back, and the first
problems printed above the bars. Elsewhere (cron, systemd) no bars: one line of the summary so
far every `every_s` seconds. Both read the report as it fills; nothing in the pipeline calls in.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from typing import Any, TextIO

from tqdm import tqdm

from importer.close.ratelimit import RateLimits
from importer.report import Report, problem_lines
from importer.sources.meter import ReadMeter

MAX_LIVE_PROBLEMS = 20
TICK_S = 0.25


class RunProgress:
    """Shows `report` filling up; `counts` and `limits` are the transport's, read as they go."""

    def __init__(
        self,
        report: Report,
        counts: Counter[str],
        limits: RateLimits,
        *,
        stream: TextIO,
        bars: bool,
        every_s: float,
        meter: ReadMeter | None = None,
    ):
        self._report = report
        self._counts = counts
        self._limits = limits
        self._stream = stream
        self._every_s = every_s
        self._started = time.monotonic()
        self._said_at = self._started
        self._bars = bars and stream.isatty()
        self._messages: tqdm[Any] | None = None
        self._bytes: tqdm[Any] | None = None
        self._meter = meter
        self._read: tqdm[Any] | None = None  # the sources' bytes read: the ETA
        if self._bars:
            self._messages = self._bar("messages", "msg", scale=False)
            if meter is not None and meter.total:
                self._read = self._bar("sources read", "B", scale=True, total=meter.total)

    async def watch(self) -> None:
        """Refresh until cancelled, or until stderr is gone (a closed pipe: nobody is reading)."""
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self.refresh()
            except OSError:
                return

    def refresh(self, *, say: bool = True) -> None:
        """The transport's counts into the report; the bars, or a line if one is due."""
        report = self._report
        report.requests = self._counts["requests"]
        report.rate_limited = self._counts["rate_limited"]
        report.retries = self._counts["retries"]
        now = time.monotonic()
        report.elapsed_s = now - self._started
        if self._messages is None:
            if say and now - self._said_at >= self._every_s:
                self._said_at = now
                print(f"{time.strftime('%H:%M:%S')} so far: {report.summary()}", file=self._stream)
                self._stream.flush()
            return
        self._show_problems()
        self._messages.update(report.messages - self._messages.n)
        note = self._rate_limit_note()
        if note != self._messages.postfix:  # said at once: a pause is news, not a statistic
            self._messages.set_postfix_str(note)
        if self._bytes is None and report.attachments_uploaded:
            self._bytes = self._bar("attachments", "B", scale=True)
        if self._bytes is not None:
            self._bytes.update(report.attachment_bytes_uploaded - self._bytes.n)
        if self._read is not None and self._meter is not None:
            self._read.update(min(self._meter.read, self._meter.total) - self._read.n)

    def close(self) -> None:
        """The last figures, then the bars off the screen: the summary follows.

        A stderr gone (a closed pipe) is no failure of the run: the report still gets written.
        """
        with contextlib.suppress(OSError):
            self.refresh(say=False)
            if self._messages is not None:
                self._messages.set_postfix_str("", refresh=False)  # nothing is waiting any more
            for bar in (self._messages, self._read, self._bytes):
                if bar is not None:
                    bar.close()

    def _bar(
        self, description: str, unit: str, *, scale: bool, total: int | None = None
    ) -> tqdm[Any]:
        return tqdm(
            total=total,
            desc=description,
            unit=unit,
            unit_scale=scale,
            file=self._stream,
            dynamic_ncols=True,
            mininterval=TICK_S,
        )

    def _show_problems(self) -> None:
        report = self._report
        room = MAX_LIVE_PROBLEMS - report.shown_problems
        new = report.problems[report.shown_problems :][: max(room, 0)]
        for problem in new:  # each on its own line, not grouped: they come one by one
            (line,) = problem_lines([problem])
            tqdm.write(line, file=self._stream)
        report.shown_problems += len(new)

    def _rate_limit_note(self) -> str:
        waiting = self._limits.waiting()
        if not waiting:
            return ""
        groups = ", ".join(
            f"{name} {max(1, round(wait))} s" for name, wait in sorted(waiting.items())
        )
        return f"Close's rate limit: waiting ({groups})"
