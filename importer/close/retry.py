"""How often and how long to try again: the retry policy and one request's attempts budget."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from dataclasses import dataclass

from importer.errors import Unavailable

log = logging.getLogger("importer.http")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6  # per request, for transient failures
    base_s: float = 0.5
    cap_s: float = 20.0
    rate_limited_attempts: int = 30  # 429s are expected under load; they get a budget of their own
    # After a lost answer Close may still be writing: a lookup that finds nothing looks once
    # more after this pause before the create is sent again (design.md, exactly once, 8).
    second_look_s: float = 1.0
    # The longest single wait Close may ask for (429 reset, Retry-After, an empty window):
    # past it the run ends unavailable instead of sitting silent for a day.
    max_wait_s: float = 300.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: anywhere between 0 and the capped exponential bound."""
        return random.uniform(0, min(self.cap_s, self.base_s * 2**attempt))


class Attempts:
    """One call's budget of transient failures: each `failed` backs off, the last one gives up."""

    def __init__(self, policy: RetryPolicy, counts: Counter[str] | None = None):
        self._policy = policy
        self._counts = counts if counts is not None else Counter()
        self.failures = 0

    async def failed(self, reason: str) -> None:
        """Back off before the next try, or raise `Unavailable` when the budget is spent."""
        self.failures += 1
        if self.failures >= self._policy.attempts:
            raise Unavailable(f"{reason} ({self.failures} tries); rerun later to finish")
        log.debug("transient failure, retrying: %s", reason)
        self._counts["retries"] += 1
        await asyncio.sleep(self._policy.backoff(self.failures - 1))
