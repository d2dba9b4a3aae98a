"""Rate-limit headers in every spelling Close has used, and the shared pause after a 429."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from importer.close.ratelimit import GroupLimiter, Limit, RateLimits, parse_limit, retry_after


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
    await limiter.acquire()
    assert time.monotonic() - started >= 0.2


async def test_a_spent_window_waits_for_its_reset_counting_requests_in_flight() -> None:
    limiter = GroupLimiter()
    for _ in range(3):
        await limiter.acquire()
    # One answer says 3 more are allowed in the next 0.3 s; two requests are still in flight.
    limiter.release(Limit(limit=10, remaining=3, reset=0.3))
    started = time.monotonic()
    await limiter.acquire()  # the one request the window still allows
    assert time.monotonic() - started < 0.1
    await limiter.acquire()  # over budget: waits for the window to end
    assert time.monotonic() - started >= 0.29


async def test_a_group_without_limit_headers_is_not_slowed() -> None:
    limiter = GroupLimiter()
    started = time.monotonic()
    for _ in range(100):
        await limiter.acquire()
        limiter.release(None)
    assert time.monotonic() - started < 0.05


DAY_AHEAD = format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (429, {"RateLimit": "limit=10, remaining=0, reset=86400"}),
        (429, {"Retry-After": DAY_AHEAD}),
        (429, {"Retry-After": "86400"}),
        (200, {"RateLimit": "limit=10, remaining=0, reset=86400"}),
    ],
    ids=["429-reset", "429-retry-after-date", "429-retry-after-seconds", "200-window-spent"],
)
async def test_a_far_wait_ends_the_call_unavailable_at_once(
    status: int, headers: dict[str, str]
) -> None:
    from aiohttp import web

    from importer.close.api import CloseAPI
    from importer.close.transport import Transport
    from importer.errors import Unavailable
    from tests.close.fake import fake_close

    async def far(request: web.Request) -> web.Response:
        return web.json_response({"data": [], "has_more": False}, status=status, headers=headers)

    started = time.monotonic()
    async with fake_close(far) as url, Transport(url, "k") as transport:
        api = CloseAPI(transport)
        with pytest.raises(Unavailable, match=r"wait 86\d\d\d s .* longer than 300 s"):
            for _ in range(2):  # a spent window is seen on the answer, and waited for after
                await api.find_whatsapp_messages("wamid.x")
    assert time.monotonic() - started < 5


async def test_a_long_wait_is_said_on_stderr(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from importer.close import ratelimit

    monkeypatch.setattr(ratelimit, "ANNOUNCE_WAIT_S", 0.2)
    limiter = GroupLimiter()
    limiter.pause(0.3)
    with caplog.at_level("WARNING", logger="importer.http"):
        await asyncio.gather(*(limiter.acquire("activity", 60) for _ in range(4)))
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1  # once for the group's pause, not once per worker
    assert said[0].startswith("Close's rate limit: waiting 0 s for activity requests")


async def test_the_groups_held_back_are_said_with_their_wait() -> None:
    limits = RateLimits()
    await limits.group("search").acquire()  # in use, not held back
    assert limits.waiting() == {}
    spent = limits.group("activity")
    await spent.acquire()
    spent.release(Limit(limit=40, remaining=0, reset=2.0))  # the window is spent
    limits.group("lead").pause(5.0)  # a 429

    waiting = limits.waiting()
    assert sorted(waiting) == ["activity", "lead"]
    assert 1.5 < waiting["activity"] <= 2.0
    assert 4.5 < waiting["lead"] <= 5.2
