"""Rate-limit headers in every spelling Close has used, and the shared pause after a 429."""

from __future__ import annotations

import time

import pytest

from importer.close.ratelimit import GroupLimiter, Limit, parse_limit, retry_after


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"RateLimit": "limit=100, remaining=0, reset=1"}, Limit(100, 0, 1)),
        ({"ratelimit": "limit=160; remaining=159; reset=8"}, Limit(160, 159, 8)),
        ({"RateLimit": "limit=40, remaining=3, reset=0.25"}, Limit(40, 3, 0.25)),
        (
            {"RateLimit-Limit": "10", "RateLimit-Remaining": "2", "RateLimit-Reset": "4"},
            Limit(10, 2, 4),
        ),
        (
            {
                "X-Rate-Limit-Limit": "10",
                "X-Rate-Limit-Remaining": "9",
                "X-Rate-Limit-Reset": "1.5",
            },
            Limit(10, 9, 1.5),
        ),
        ({}, Limit(None, None, None)),
        ({"RateLimit": "garbage"}, Limit(None, None, None)),
    ],
    ids=["comma", "semicolon", "decimal-reset", "split-headers", "old-x-headers", "none", "junk"],
)
def test_parse_limit(headers: dict[str, str], expected: Limit) -> None:
    assert parse_limit(headers) == expected


def test_retry_after_prefers_the_precise_body_then_the_header_reset_then_retry_after() -> None:
    body = {"error": {"rate_reset": 0.37, "message": "API call count exceeded"}}
    assert retry_after({"Retry-After": "1"}, body) == 0.37
    assert (
        retry_after({"RateLimit": "limit=1, remaining=0, reset=2.5", "Retry-After": "3"}, None)
        == 2.5
    )
    assert retry_after({"Retry-After": "3"}, None) == 3
    assert retry_after({}, None) is None


async def test_a_pause_holds_every_caller_of_the_group() -> None:
    limiter = GroupLimiter()
    limiter.pause(0.2)
    started = time.monotonic()
    await limiter.wait()
    assert time.monotonic() - started >= 0.2


async def test_nearly_spent_windows_are_spread_out() -> None:
    limiter = GroupLimiter()
    limiter.observe(Limit(limit=100, remaining=5, reset=0.5))
    started = time.monotonic()
    for _ in range(3):
        await limiter.wait()
    # Three starts at 0.1 s spacing: the last one no sooner than 0.2 s after the first.
    assert time.monotonic() - started >= 0.19
