"""Close endpoints as the importer calls them, against the emulator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from importer.close import api as close_api
from importer.close.api import CloseAPI
from importer.close.transport import Transport
from importer.emulator import Emulator


async def test_deep_lists_are_read_in_slices_each_row_once(
    emulator: Emulator, seed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(close_api, "MAX_SKIP", 200)  # the emulator refuses skips past 10,000
    lead = seed["leads"][0]
    async with Transport(emulator.base_url, "k", concurrency=16) as transport:
        api = CloseAPI(transport)

        async def create(n: int) -> None:
            await api.create_whatsapp_message(
                {
                    # Groups of three share an instant, so slices meet inside a group.
                    "activity_at": f"2024-01-01T{n // 3 // 60:02d}:{n // 3 % 60:02d}:00+00:00",
                    "contact_id": lead["contacts"][0]["id"],
                    "direction": "incoming",
                    "external_whatsapp_message_id": f"m{n}",
                    "lead_id": lead["id"],
                    "local_phone": "+14155550100",
                    "message_markdown": str(n),
                    "remote_phone": "+16505550123",
                }
            )

        await asyncio.gather(*(create(n) for n in range(450)))
        listed = [
            a["external_whatsapp_message_id"]
            async for a in api.list_whatsapp_messages(
                {"lead_id": lead["id"]}, fields="external_whatsapp_message_id"
            )
        ]
    assert sorted(listed) == sorted(f"m{n}" for n in range(450))


async def test_search_hits_are_kept_only_if_a_phone_shown_matches(
    emulator: Emulator, seed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    maria = seed["leads"][0]["contacts"][0]
    answers: list[dict[str, Any]] = [
        # A loose match Close might make (same digits elsewhere), then one without phones shown.
        {"data": [{"id": "cont_x", "lead_id": "lead_x", "phones": [{"phone": "+16505550124"}]}]},
        {"data": [{"id": maria["id"], "lead_id": seed["leads"][0]["id"]}]},
    ]
    async with Transport(emulator.base_url, "k") as transport:

        async def answer(*args: Any, **kwargs: Any) -> dict[str, Any]:
            return answers.pop(0)

        monkeypatch.setattr(transport, "request", answer)
        api = CloseAPI(transport)
        assert await api.search_contacts_by_phone("+16505550123") == []
        assert [c["id"] for c in await api.search_contacts_by_phone("+16505550123")] == [
            maria["id"]
        ]
