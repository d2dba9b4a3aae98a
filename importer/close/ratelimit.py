"""Close's rate limits: read from every answer, obeyed per endpoint group by every worker."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from importer.errors import Unavailable

log = logging.getLogger("importer.http")

_PAIR = re.compile(r"(limit|remaining|reset)\s*=\s*([0-9]+(?:\.[0-9]+)?)", re.IGNORECASE)

# A 429 that names no wait at all still needs one; Close's own client waits 2 s.
DEFAULT_PAUSE_S = 2.0
# Waits at least this long are said on stderr: a silent run looks hung.
ANNOUNCE_WAIT_S = 10.0


@dataclass(frozen=True, slots=True)
class Limit:
    limit: float | None
    remaining: float | None
    reset: float | None  # seconds until the window resets


def parse_limit(headers: Mapping[str, str]) -> Limit:
    """Read `RateLimit` (either separator), `RateLimit-*` or the old `X-Rate-Limit-*` headers."""
    lowered = {k.lower(): v for k, v in headers.items()}
    values: dict[str, float] = {}
    combined = lowered.get("ratelimit")
    if combined:
        values = {k.lower(): float(v) for k, v in _PAIR.findall(combined)}
    for prefix in ("ratelimit-", "x-rate-limit-", "x-ratelimit-"):
        for key in ("limit", "remaining", "reset"):
            raw = lowered.get(prefix + key)
            if key not in values and raw is not None:
                number = _number(raw)
                if number is not None:
                    values[key] = number
    return Limit(values.get("limit"), values.get("remaining"), values.get("reset"))


def retry_after(headers: Mapping[str, str], body: Any) -> float | None:
    """Seconds a 429 asks for: body `rate_reset`, else the `RateLimit` reset, else Retry-After."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("rate_reset"), int | float):
            return float(error["rate_reset"])
    reset = parse_limit(headers).reset
    if reset is not None:
        return reset
    raw = {k.lower(): v for k, v in headers.items()}.get("retry-after")
    if raw is None:
        return None
    number = _number(raw)
    if number is not None:
        return number
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _number(raw: str) -> float | None:
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


class GroupLimiter:
    """Keeps one endpoint group inside its window's budget, shared by every worker.

    Each answer says how many requests the window still allows (`remaining`) and when it ends
    (`reset`). Requests still in flight may not be counted in that figure yet, so they are
    taken off it: the workers together spend what is left, then wait for the window to end,
    instead of each finding the limit with a 429. A 429 pauses the whole group.
    """

    def __init__(self) -> None:
        self._resume_at = 0.0
        self._window_ends = 0.0
        self._budget: float | None = None  # None: no limit known for the current window
        self._in_flight = 0
        self._announced = 0.0  # the end of the last wait said on stderr

    async def acquire(self, group: str = "", max_wait_s: float = math.inf) -> None:
        """Wait for the group's turn; `Unavailable` if Close asks for more than `max_wait_s`."""
        while True:
            now = time.monotonic()
            if self._budget is not None and now >= self._window_ends:
                self._budget = None  # a new window; its budget comes with the next answer
            wait_until = max(self._resume_at, self._window_ends if self._budget is not None else 0)
            if now >= self._resume_at and (self._budget is None or self._budget >= 1):
                if self._budget is not None:
                    self._budget -= 1
                self._in_flight += 1
                return
            wait = wait_until - now
            if wait > max_wait_s:
                raise Unavailable(
                    f"Close asks to wait {wait:.0f} s before more {group} requests, longer "
                    f"than {max_wait_s:.0f} s; rerun later to finish"
                )
            if wait >= ANNOUNCE_WAIT_S and wait_until > self._announced:
                self._announced = wait_until
                log.warning("Close's rate limit: waiting %.0f s for %s requests", wait, group)
            await asyncio.sleep(max(wait, 0.001))

    def release(self, limit: Limit | None) -> None:
        """A request of the group finished; `limit` is what its answer said, if anything."""
        self._in_flight -= 1
        if limit is None or limit.remaining is None or limit.reset is None:
            return
        self._window_ends = time.monotonic() + limit.reset
        self._budget = limit.remaining - self._in_flight

    def waiting_s(self) -> float:
        """How long a request of the group would wait now: a 429's pause, or a spent window."""
        now = time.monotonic()
        spent = self._budget is not None and self._budget < 1 and now < self._window_ends
        return max(self._resume_at - now, self._window_ends - now if spent else 0.0, 0.0)

    def pause(self, seconds: float | None) -> None:
        """Stop the whole group after a 429; jitter keeps the workers from returning at once."""
        wait = DEFAULT_PAUSE_S if seconds is None else seconds
        self._resume_at = max(self._resume_at, time.monotonic() + wait + random.uniform(0, 0.1))


class RateLimits:
    """One limiter per endpoint group, made on first use."""

    def __init__(self) -> None:
        self._groups: dict[str, GroupLimiter] = {}

    def waiting(self) -> dict[str, float]:
        """The groups Close's limits hold back now, with the seconds each still waits."""
        waits = {name: limiter.waiting_s() for name, limiter in self._groups.items()}
        return {name: wait for name, wait in waits.items() if wait > 0}

    def group(self, name: str) -> GroupLimiter:
        limiter = self._groups.get(name)
        if limiter is None:
            limiter = self._groups[name] = GroupLimiter()
        return limiter
