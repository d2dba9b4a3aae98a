"""The conversation view: messages per lead in time order, escaped, with replies and files."""

from __future__ import annotations

import aiohttp

from importer.emulator import Emulator
from tests.emulator.conftest import create
from tests.emulator.test_storage import attachment, uploaded


async def test_the_view_shows_each_conversation(
    emu: Emulator, client: aiohttp.ClientSession
) -> None:
    url = await uploaded(client, emu, b"jpeg bytes")
    later = await create(
        client, emu, activity_at="2024-05-02T10:00:00Z", message_markdown="*second* <script>"
    )
    await create(
        client,
        emu,
        external_whatsapp_message_id="wamid.0",
        activity_at="2024-05-03T10:00:00Z",
        direction="outgoing",
        message_markdown="third",
        response_to_id=later["id"],
        attachments=[attachment(url, "photo.jpg")],
    )
    await create(client, emu, activity_at="2024-05-01T10:00:00Z", message_markdown="first")
    async with aiohttp.ClientSession() as browser, browser.get(emu.root_url + "/") as r:
        assert r.status == 200
        assert r.content_type == "text/html"
        page = await r.text()
    assert page.index("first") < page.index("second") < page.index("third")
    assert "<strong>second</strong> &lt;script&gt;" in page
    assert "<script>" not in page
    assert f'href="#{later["id"]}"' in page
    assert 'href="/go/file/' in page
    assert "photo.jpg" in page
    assert "Acme" in page and "Beta" in page


async def test_admin_state_and_reset(emu: Emulator, client: aiohttp.ClientSession) -> None:
    activity = await create(client, emu)
    async with client.get(emu.root_url + "/_emulator/state") as r:
        state = await r.json()
    assert state["activities"] == {activity["id"]: activity}
    assert state["counters"]["creates"] == 1
    assert state["counters"]["POST whatsapp_messages"] == 1
    assert {lead["id"] for lead in state["leads"]} == set(emu.state.leads)
    async with client.post(emu.root_url + "/_emulator/reset") as r:
        assert r.status == 200
    assert emu.state.activities == {}
    assert emu.state.counters["creates"] == 0
    assert len(emu.state.leads) == 2
