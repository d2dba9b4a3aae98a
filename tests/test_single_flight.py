"""One shared call per key: callers share it, a cancelled caller leaves it to the others."""

from __future__ import annotations

import asyncio

import pytest

from importer.single_flight import SingleFlight


async def test_callers_of_one_key_share_one_call_and_a_cancelled_one_leaves_it_running() -> None:
    calls = 0
    release = asyncio.Event()

    async def slow() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return 42

    flights: SingleFlight[str, int] = SingleFlight()
    first = asyncio.create_task(flights.run("k", slow))
    second = asyncio.create_task(flights.run("k", slow))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == 42
    assert first.cancelled()
    assert calls == 1
    assert await flights.run("k", slow) == 42  # kept: the answer is remembered
    assert calls == 1


async def test_forget_runs_a_new_call_after_one_finished_and_cancel_ends_those_running() -> None:
    calls = 0

    async def fails() -> int:
        nonlocal calls
        calls += 1
        raise ValueError("no")

    flights: SingleFlight[str, int] = SingleFlight(forget=True)
    for _ in range(2):
        with pytest.raises(ValueError, match="no"):
            await flights.run("k", fails)
    assert calls == 2

    async def forever() -> int:
        await asyncio.Event().wait()
        return 0

    waiter = asyncio.create_task(flights.run("x", forever))
    await asyncio.sleep(0)
    flights.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
