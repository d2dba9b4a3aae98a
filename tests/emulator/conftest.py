"""Fixtures: a seeded in-process emulator and a client session authenticated as Close wants."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from importer.emulator import Emulator, EmulatorConfig

LEAD_A, CONTACT_A = "lead_acme", "cont_ann"
LEAD_B, CONTACT_B = "lead_beta", "cont_bob"
SEED: dict[str, Any] = {
    "leads": [
        {
            "id": LEAD_A,
            "name": "Acme",
            "contacts": [{"id": CONTACT_A, "name": "Ann", "phones": ["+1 650-333-4444"]}],
        },
        {
            "id": LEAD_B,
            "name": "Beta",
            "contacts": [{"id": CONTACT_B, "name": "Bob", "phones": [{"phone": "4930 1234567"}]}],
        },
    ]
}


def basic(key: str) -> dict[str, str]:
    """Close's auth header: the key as the Basic user name, an empty password."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


AUTH = basic("test-key")


def message(**overrides: Any) -> dict[str, Any]:
    """A valid create body for lead A, with fields replaced (a value of ... removes the field)."""
    body: dict[str, Any] = {
        "activity_at": "2024-05-01T10:00:00+02:00",
        "contact_id": CONTACT_A,
        "direction": "incoming",
        "external_whatsapp_message_id": "wamid.1",
        "lead_id": LEAD_A,
        "local_phone": "+4915112345678",
        "message_markdown": "hello *world*",
        "remote_phone": "16503334444",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def config(**overrides: Any) -> EmulatorConfig:
    return EmulatorConfig(**{"data": SEED, "seed": 0, **overrides})


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(config()) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


async def create(client: aiohttp.ClientSession, emu: Emulator, **overrides: Any) -> dict[str, Any]:
    async with client.post(
        f"{emu.base_url}/activity/whatsapp_message/", json=message(**overrides)
    ) as r:
        assert r.status == 200, await r.text()
        result: dict[str, Any] = await r.json()
        return result
