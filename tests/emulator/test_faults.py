"""Injected trouble: rate limits, latency, 5xx before any change, answers cut after the change."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time

import aiohttp
import pytest

from importer.emulator import Emulator
from tests.emulator.conftest import AUTH, basic, config, create, message
from tests.emulator.test_storage import form, slot, store

ACT = "/activity/whatsapp_message/"
_RATE = re.compile(r"limit=(\d+), remaining=(\d+), reset=(\d+(?:\.\d+)?)")


async def test_rate_limit_headers_and_429(client: aiohttp.ClientSession) -> None:
    async with Emulator(config(rate_limit=3)) as emu:
        url = f"{emu.base_url}{ACT}"
        remaining = []
        for _ in range(3):
            async with client.get(url) as r:
                assert r.status == 200
                match = _RATE.fullmatch(r.headers["RateLimit"])
                assert match is not None
                assert match[1] == "3"
                assert 0 < float(match[3]) <= 1
                remaining.append(int(match[2]))
        assert remaining == [2, 1, 0]
        async with client.get(url) as r:
            assert r.status == 429
            assert int(r.headers["Retry-After"]) == 1
            body = await r.json()
            assert 0 < body["error"]["rate_reset"] <= 1
            assert body["error"]["message"] == "API call count exceeded for this period"
            assert _RATE.fullmatch(r.headers["RateLimit"]) is not None
        assert emu.state.counters["rate_limited"] == 1
        # Groups and keys have limits of their own.
        async with client.post(f"{emu.base_url}/lead/", json={"name": "X"}) as r:
            assert r.status == 200
        async with client.get(url, headers=basic("other-key")) as r:
            assert r.status == 200
        await asyncio.sleep(1.0)
        async with client.get(url) as r:
            assert r.status == 200


async def test_a_group_may_have_a_lower_limit(client: aiohttp.ClientSession) -> None:
    async with Emulator(config(rate_limit=100, group_rate_limits={"search": 1})) as emu:
        statuses = []
        for _ in range(2):
            async with client.post(f"{emu.base_url}/data/search/", json={}) as r:
                statuses.append(r.status)
        assert statuses == [400, 429]


async def test_without_a_rate_limit_there_is_no_header(
    emu: Emulator, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{emu.base_url}{ACT}") as r:
        assert "RateLimit" not in r.headers


async def test_a_dropped_create_happened_but_the_client_got_no_answer(
    client: aiohttp.ClientSession,
) -> None:
    async with Emulator(config(drop_rate=1.0)) as emu:
        with pytest.raises(aiohttp.ClientConnectionError):
            async with client.post(f"{emu.base_url}{ACT}", json=message()) as r:
                await r.read()
        assert len(emu.state.activities) == 1
        assert emu.state.counters["drops"] == 1
        # Reads are never cut, so the client can find out what happened.
        async with client.get(
            f"{emu.base_url}{ACT}", params={"external_whatsapp_message_id": "wamid.1"}
        ) as r:
            assert len((await r.json())["data"]) == 1
        # A refused change is not applied, so it is answered.
        async with client.post(f"{emu.base_url}{ACT}", json=message(direction="x")) as r:
            assert r.status == 400


async def test_a_malformed_answer_comes_after_the_change(client: aiohttp.ClientSession) -> None:
    async with Emulator(config(malformed_rate=1.0)) as emu:
        async with client.post(f"{emu.base_url}{ACT}", json=message()) as r:
            assert r.status == 200
            assert "id" not in await r.json()
        async with client.get(f"{emu.base_url}{ACT}") as r:
            assert r.status == 200
            assert "data" not in await r.json()
        assert len(emu.state.activities) == 1
        assert emu.state.counters["malformed"] == 2


async def test_a_failed_request_changes_nothing(client: aiohttp.ClientSession) -> None:
    async with Emulator(config(fail_rate=1.0)) as emu:
        for _ in range(5):
            async with client.post(f"{emu.base_url}{ACT}", json=message()) as r:
                assert r.status in (502, 503, 504)
        assert emu.state.activities == {}
        assert emu.state.counters["faults"] == 5


async def test_faults_are_reproducible_with_a_seed(client: aiohttp.ClientSession) -> None:
    outcomes = []
    for _ in range(2):
        async with Emulator(config(fail_rate=0.5, seed=7)) as emu:
            statuses = []
            for _ in range(12):
                async with client.get(f"{emu.base_url}{ACT}") as r:
                    statuses.append(r.status)
            outcomes.append(statuses)
    assert outcomes[0] == outcomes[1]
    assert {200, 502, 503, 504} & set(outcomes[0]) > {200}


async def test_latency_does_not_serialise_concurrent_requests() -> None:
    async with (
        Emulator(config(latency_ms=300)) as emu,
        aiohttp.ClientSession(headers=AUTH, connector=aiohttp.TCPConnector(limit=300)) as client,
    ):

        async def one(i: int) -> int:
            body = message(external_whatsapp_message_id=f"w{i}")
            async with client.post(f"{emu.base_url}{ACT}", json=body) as r:
                return r.status

        started = time.monotonic()
        statuses = await asyncio.gather(*(one(i) for i in range(250)))
        elapsed = time.monotonic() - started
    assert statuses == [200] * 250
    assert 0.3 <= elapsed < 3.0
    assert emu.state.counters["creates"] == 250


async def test_a_dropped_storage_post_stored_the_file(
    emu: Emulator, client: aiohttp.ClientSession
) -> None:
    answer = await slot(client, emu)
    emu.state.config = dataclasses.replace(emu.config, drop_rate=1.0)
    with pytest.raises(aiohttp.ClientConnectionError):
        await store(answer["upload"]["url"], form(answer["upload"]["fields"], b"abc"))
    assert emu.state.file_bytes(answer["download"]["url"]) == b"abc"
    assert emu.state.counters["drops"] == 1


async def test_a_dropped_update_and_delete_were_applied(
    emu: Emulator, client: aiohttp.ClientSession
) -> None:
    activity = await create(client, emu)
    emu.state.config = dataclasses.replace(emu.config, drop_rate=1.0)
    url = f"{emu.base_url}{ACT}{activity['id']}/"
    # aiohttp itself resends a PUT or DELETE once after a cut connection (RFC 9112 allows it
    # for idempotent methods): the PUT is then cut again, the DELETE finds nothing (404).
    with pytest.raises(aiohttp.ClientConnectionError):
        async with client.put(url, json={"message_markdown": "new"}) as r:
            await r.read()
    assert emu.state.activities[activity["id"]]["message_markdown"] == "new"
    async with client.delete(url) as r:
        assert r.status == 404
    assert emu.state.activities == {}
    assert emu.state.counters["deletes"] == 1
    assert emu.state.counters["drops"] == 3
