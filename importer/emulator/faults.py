"""What makes the emulator as unkind as a network: latency, rate limits, 5xx and cut answers."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from aiohttp import web

from importer.emulator.replies import json_response
from importer.emulator.state import EmulatorState

FAIL_STATUSES = (502, 503, 504)


class FixedWindowLimiter:
    """Per (key, group) fixed windows of one second, started by a window's first request.

    A fixed window is what a client sees as `reset` counting down to a full refill; it also lets
    a burst of 2R pass across a window edge, which a client must survive anyway.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def reset(self) -> None:
        self._windows.clear()

    def take(self, key: str, group: str, limit: int) -> tuple[bool, int, float]:
        """(allowed, remaining, seconds until the window resets) for one more request."""
        now = self._clock()
        start, used = self._windows.get((key, group), (now, 0))
        if now - start >= 1.0:
            start, used = now, 0
        reset = max(start + 1.0 - now, 0.001)
        if used >= limit:
            self._windows[(key, group)] = (start, used)
            return False, 0, reset
        self._windows[(key, group)] = (start, used + 1)
        return True, limit - used - 1, reset


def rate_limit_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {"RateLimit": f"limit={limit}, remaining={remaining}, reset={reset:.3f}"}


def too_many_requests(limit: int, reset: float) -> web.Response:
    """The 429 with every signal Close may send: RateLimit, Retry-After and the old body."""
    headers = rate_limit_headers(limit, 0, reset)
    headers["Retry-After"] = str(max(1, math.ceil(reset)))
    body = {
        "error": {
            "rate_reset": round(reset, 3),
            "message": "API call count exceeded for this period",
        }
    }
    return json_response(body, 429, headers)


def should_fail(state: EmulatorState) -> int | None:
    """A 5xx status to answer instead of handling the request, or None."""
    rate = state.config.fail_rate
    if rate > 0 and state.fault_rng.random() < rate:
        return state.fault_rng.choice(FAIL_STATUSES)
    return None


def should_drop(state: EmulatorState) -> bool:
    rate = state.config.drop_rate
    return rate > 0 and state.fault_rng.random() < rate


def should_malform(state: EmulatorState) -> bool:
    rate = state.config.malformed_rate
    return rate > 0 and state.fault_rng.random() < rate


def malformed(response: web.StreamResponse) -> web.Response:
    """The same status and headers with a body in no documented shape."""
    kept = {k: v for k, v in response.headers.items() if k.lower().startswith("ratelimit")}
    return json_response({"unexpected": "shape"}, response.status, kept)


def cut(request: web.Request, state: EmulatorState) -> None:
    """Close the connection so the client gets no answer; the change already happened."""
    state.counters["drops"] += 1
    if request.transport is not None:
        request.transport.abort()
