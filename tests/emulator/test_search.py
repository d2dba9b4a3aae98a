"""`POST /data/search/` finds contacts by phone; `POST /lead/` creates what a search can find."""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
import pytest

from importer.emulator import Emulator
from tests.emulator.conftest import CONTACT_A, LEAD_A


def phone_query(value: str, **extra: Any) -> dict[str, Any]:
    """The query close-api.md documents, for one phone."""
    return {
        "query": {
            "type": "and",
            "queries": [
                {"type": "object_type", "object_type": "contact"},
                {
                    "type": "has_related",
                    "this_object_type": "contact",
                    "related_object_type": "contact_phone",
                    "related_query": {
                        "type": "field_condition",
                        "field": {
                            "type": "regular_field",
                            "object_type": "contact_phone",
                            "field_name": "phone",
                        },
                        "condition": {"type": "text", "mode": "exact_value", "value": value},
                    },
                },
            ],
        },
        "_fields": {"contact": ["id", "lead_id", "name"]},
        "_limit": 10,
        **extra,
    }


async def search(client: aiohttp.ClientSession, emu: Emulator, body: Any) -> tuple[int, Any]:
    async with client.post(f"{emu.base_url}/data/search/", json=body) as r:
        return r.status, await r.json()


async def test_a_phone_finds_its_contact(emu: Emulator, client: aiohttp.ClientSession) -> None:
    status, body = await search(client, emu, phone_query("+16503334444"))
    assert status == 200
    assert body == {
        "data": [{"__object_type": "contact", "id": CONTACT_A, "lead_id": LEAD_A, "name": "Ann"}],
        "cursor": None,
    }
    _, nobody = await search(client, emu, phone_query("+16503334445"))
    assert nobody["data"] == []
    _, bare = await search(client, emu, {k: v for k, v in phone_query("+16503334444").items()
                                         if k != "_fields"})  # fmt: skip
    assert bare["data"] == [{"__object_type": "contact", "id": CONTACT_A}]


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(phone_query("+16503334444"))
    target: Any = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    "body",
    [
        _broken(["query", "type"], "or"),
        _broken(["query", "queries", 0, "object_type"], "lead"),
        _broken(["query", "queries", 1, "related_object_type"], "contact_email"),
        _broken(["query", "queries", 1, "related_query", "condition", "mode"], "contains"),
        _broken(["query", "queries", 1, "related_query", "field", "field_name"], "number"),
        _broken(["_fields"], ["id"]),
        _broken(["_limit"], 1000),
        _broken(["sort"], []),
        {"query": {"type": "and", "queries": []}},
        [],
    ],
)
async def test_other_query_shapes_are_refused(
    emu: Emulator, client: aiohttp.ClientSession, body: Any
) -> None:
    status, _ = await search(client, emu, body)
    assert status == 400


async def test_a_created_lead_is_found_by_its_phone(
    emu: Emulator, client: aiohttp.ClientSession
) -> None:
    new = {
        "name": "Gamma",
        "contacts": [{"name": "Gil", "phones": [{"phone": "+44 7700 900123", "type": "mobile"}]}],
    }
    async with client.post(f"{emu.base_url}/lead/", json=new) as r:
        assert r.status == 200
        lead = await r.json()
    contact = lead["contacts"][0]
    assert lead["id"].startswith("lead_")
    assert contact["id"].startswith("cont_")
    assert contact["lead_id"] == lead["id"]
    assert contact["phones"] == [
        {"phone": "+447700900123", "phone_formatted": "+44 7700 900123", "type": "mobile"}
    ]
    _, found = await search(client, emu, phone_query("+447700900123"))
    assert [c["id"] for c in found["data"]] == [contact["id"]]
    async with client.get(f"{emu.base_url}/contact/{contact['id']}/") as r:
        assert (await r.json())["lead_id"] == lead["id"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "X", "contacts": [{"name": "Y", "phones": [{"phone": "nope", "type": "mobile"}]}]},
        {
            "name": "X",
            "contacts": [{"name": "Y", "phones": [{"phone": "+16505550000", "type": "?"}]}],
        },
        {"name": "X", "contacts": "Y"},
        {"name": "X", "colour": "red"},
        {"name": 5},
    ],
)
async def test_bad_leads_are_refused(
    emu: Emulator, client: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    leads = len(emu.state.leads)
    async with client.post(f"{emu.base_url}/lead/", json=body) as r:
        assert r.status == 400
    assert len(emu.state.leads) == leads
