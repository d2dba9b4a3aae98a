"""The conversation view as a person reads it: an index of leads, and a paged chat per lead."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from importer.emulator import Emulator, EmulatorState, activities, build_app, timestamps
from importer.emulator.appkeys import STATE
from importer.emulator.conversations import PAGE_SIZE
from tests.conftest import SAMPLES
from tests.emulator.conftest import AUTH, LEAD_A, LEAD_B, config, message
from tests.emulator.conftest import create as create_live
from tests.emulator.dom import Element, parse

Client = TestClient[web.Request, web.Application]
ACT = "/api/v1/activity/whatsapp_message/"


@pytest.fixture
async def view() -> AsyncIterator[Client]:
    state = EmulatorState(config(view_timezone="UTC"))
    async with TestClient(TestServer(build_app(state))) as client:
        yield client


def state_of(client: Client) -> EmulatorState:
    assert client.app is not None
    return client.app[STATE]


async def create(client: Client, **overrides: Any) -> dict[str, Any]:
    async with client.post(ACT, json=message(**overrides), headers=AUTH) as r:
        assert r.status == 200, await r.text()
        result: dict[str, Any] = await r.json()
        return result


async def upload(client: Client, data: bytes, filename: str, content_type: str) -> dict[str, str]:
    """The Files flow as the importer does it; the attachment to put on a message."""
    body = {"filename": filename, "content_type": content_type}
    async with client.post("/api/v1/files/upload/", json=body, headers=AUTH) as r:
        answer = await r.json()
    form = aiohttp.FormData()
    for name, value in answer["upload"]["fields"].items():
        form.add_field(name, value)
    form.add_field("file", io.BytesIO(data), filename=filename, content_type=content_type)
    storage_path = "/s3/" + answer["upload"]["url"].split("/s3/", 1)[1]
    async with client.post(storage_path, data=form) as r:
        assert r.status == 201
    return {"url": answer["download"]["url"], "filename": filename, "content_type": content_type}


def add_thread(
    state: EmulatorState, count: int, replies: dict[int, int] | None = None
) -> list[str]:
    """`count` messages on lead A, a minute apart ("message 0" first); replies: child -> parent."""
    user = state.user_for_key("test-key")
    start = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    ids: list[str] = []
    for number in range(count):
        clean = {
            **message(
                external_whatsapp_message_id=f"wamid.{number}",
                activity_at=timestamps.render(start + timedelta(minutes=number)),
                message_markdown=f"message {number}",
                direction="outgoing" if number % 2 else "incoming",
                remote_phone="+16503334444",
            ),
            "response_to_id": ids[replies[number]] if replies and number in replies else None,
        }
        ids.append(activities.create(state, clean, user)["id"])
    return ids


async def page(client: Client, path: str, status: int = 200) -> Element:
    async with client.get(path) as r:
        assert r.status == status, await r.text()
        assert r.content_type == "text/html"
        return parse(await r.text())


def bubbles(document: Element) -> list[Element]:
    return document.find_all("li", "msg")


async def test_the_index_links_each_lead_and_folds_those_without_messages(view: Client) -> None:
    file = await upload(view, b"%PDF-1.4", "quote.pdf", "application/pdf")
    await create(view, activity_at="2024-05-01T09:00:00Z", attachments=[file])
    parent = await create(view, external_whatsapp_message_id="wamid.2")
    await create(
        view,
        external_whatsapp_message_id="wamid.3",
        activity_at="2024-05-03T17:45:00Z",
        response_to_id=parent["id"],
    )
    async with view.delete(f"{ACT}{parent['id']}/", headers=AUTH) as r:
        assert r.status == 200

    document = await page(view, "/")
    rows = document.find("table", "leads").find("tbody").find_all("tr")
    assert len(rows) == 1
    cells = [" ".join(td.text.split()) for td in rows[0].find_all("td")]
    assert cells == [
        "Acme",
        "Ann +1 650-333-4444",
        "2",
        "01 May 2024 09:00",
        "03 May 2024 17:45",
        "1",
        "1",
    ]
    assert rows[0].find("a").attrs["href"] == f"/leads/{LEAD_A}"
    folded = document.find("details")
    assert "open" not in folded.attrs
    assert "1 lead without WhatsApp messages" in folded.find("summary").text
    assert "Beta" in folded.text and "Bob" in folded.text


async def test_a_conversation_reads_like_a_chat(view: Client) -> None:
    await create(
        view,
        external_whatsapp_message_id="wamid.late",
        activity_at="2024-05-02T08:00:00Z",
        direction="outgoing",
        message_markdown="Here you go: *12 units*, ~3,600~ _3,480_\n> valid 30 days\n- one\n- two",
    )
    await create(
        view,
        external_whatsapp_message_id="wamid.early",
        activity_at="2024-05-01T10:00:00Z",
        message_markdown="<script>alert('x')</script> `code`",
    )
    document = await page(view, f"/leads/{LEAD_A}")
    assert document.find("h1").text == "Acme"
    assert " ".join(document.find("p", "meta").text.split()) == (
        f"Ann +1 650-333-4444 · Close lead id {LEAD_A}"
    )
    shown = bubbles(document)
    assert [b.classes for b in shown] == [{"msg", "incoming"}, {"msg", "outgoing"}]
    assert [d.text for d in document.find_all("li", "day")] == [
        "Wednesday, 1 May 2024",
        "Thursday, 2 May 2024",
    ]
    # A <script> in a message is text on the page, never an element.
    assert document.find_all("script") == []
    assert "<script>alert('x')</script>" in shown[0].find("div", "text").text
    assert shown[0].find("code").text == "code"
    text = shown[1].find("div", "text")
    assert text.find("strong").text == "12 units"
    assert text.find("s").text == "3,600"
    assert text.find("em").text == "3,480"
    assert text.find("blockquote").text == "valid 30 days"
    assert [li.text for li in text.find("ul").find_all("li")] == ["one", "two"]
    # The WhatsApp id is on hover, not in the bubble's text.
    assert "wamid.late" not in shown[1].text
    assert "wamid.late" in shown[1].find("div", "when").find("a").attrs["title"]


async def test_times_show_in_the_requested_zone(
    view: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create(view, activity_at="2024-05-01T22:30:00Z")
    document = await page(view, f"/leads/{LEAD_A}")
    assert document.find("time").text == "22:30"
    assert document.find("li", "day").text == "Wednesday, 1 May 2024"
    assert document.find("input").attrs["value"] == "UTC"

    document = await page(view, f"/leads/{LEAD_A}?tz=Australia/Sydney")
    assert document.find("time").text == "08:30"
    assert document.find("time").attrs["datetime"] == "2024-05-02T08:30:00+10:00"
    assert document.find("li", "day").text == "Thursday, 2 May 2024"
    assert document.find("input").attrs["value"] == "Australia/Sydney"
    assert document.find("div", "top").find("a").attrs["href"] == "/?tz=Australia/Sydney"
    index = await page(view, "/?tz=Australia/Sydney")
    assert "02 May 2024 08:30" in index.find("table", "leads").text
    assert index.find("table", "leads").find("a").attrs["href"].endswith("?tz=Australia/Sydney")

    problem = await page(view, f"/leads/{LEAD_A}?tz=Mars/Olympus", status=400)
    assert "Unknown time zone 'Mars/Olympus'" in problem.find("h1").text
    await page(view, "/?tz=../../../etc/passwd", status=400)

    # Without a zone of its own, the emulator shows this machine's.
    monkeypatch.setenv("TZ", "America/New_York")
    state = EmulatorState(config())
    state.activities.update(state_of(view).activities)
    async with TestClient(TestServer(build_app(state))) as other:
        assert (await page(other, f"/leads/{LEAD_A}")).find("time").text == "18:30"


async def test_images_are_shown_and_other_files_offered_from_the_stored_bytes(
    view: Client,
) -> None:
    image = (SAMPLES / "media" / "storefront.png").read_bytes()
    files = [
        await upload(view, image, "dock.png", "image/png"),
        await upload(view, b"%PDF-1.4 quote", "Quote Q-1.pdf", "application/pdf"),
    ]
    await create(view, message_markdown="", attachments=files)
    document = await page(view, f"/leads/{LEAD_A}")
    img = document.find("img")
    assert img.attrs["alt"] == "dock.png"
    async with view.get(img.attrs["src"]) as r:
        assert r.status == 200
        assert r.content_type == "image/png"
        assert await r.read() == image
    offered = document.find("div", "file")
    link = offered.find("a")
    assert (link.text, link.attrs["download"]) == ("Quote Q-1.pdf", "Quote Q-1.pdf")
    assert offered.find("span", "caption").text == "application/pdf, 14 bytes"
    async with view.get(link.attrs["href"]) as r:
        assert await r.read() == b"%PDF-1.4 quote"


async def test_a_reply_quotes_its_parent_and_links_to_it_across_pages(view: Client) -> None:
    count = 2 * PAGE_SIZE + 50
    ids = add_thread(state_of(view), count, replies={count - 1: 0, 5: 2})
    last = await page(view, f"/leads/{LEAD_A}?page=3")
    quote = last.by_id(ids[-1]).find("a", "quote")
    assert quote.find("b").text == "Ann"
    assert quote.text == "Annmessage 0"
    assert quote.attrs["href"] == f"/leads/{LEAD_A}#{ids[0]}"
    assert (await page(view, quote.attrs["href"])).by_id(ids[0]).find("div", "text").text == (
        "message 0"
    )
    first = await page(view, f"/leads/{LEAD_A}")
    same_page = first.by_id(ids[5]).find("a", "quote")
    assert (same_page.attrs["href"], same_page.find("b").text) == (f"#{ids[2]}", "Ann")


async def test_a_reply_whose_parent_is_gone_says_so(view: Client) -> None:
    parent = await create(view)
    await create(view, external_whatsapp_message_id="wamid.2", response_to_id=parent["id"])
    async with view.delete(f"{ACT}{parent['id']}/", headers=AUTH) as r:
        assert r.status == 200
    document = await page(view, f"/leads/{LEAD_A}")
    assert document.find("span", "missing").text == "A reply to a message that is not in Close"


async def test_pages_hold_200_messages_oldest_first_with_older_and_newer_links(
    view: Client,
) -> None:
    add_thread(state_of(view), 2 * PAGE_SIZE + 50)
    first = await page(view, f"/leads/{LEAD_A}")
    assert len(bubbles(first)) == PAGE_SIZE
    assert bubbles(first)[0].find("div", "text").text == "message 0"
    links = {a.attrs.get("rel"): a.attrs["href"] for a in first.find("nav", "pager").find_all("a")}
    assert links["next"] == f"/leads/{LEAD_A}?page=2"
    assert "prev" not in links
    second = await page(view, links["next"])
    assert bubbles(second)[0].find("div", "text").text == f"message {PAGE_SIZE}"
    rels = {a.attrs.get("rel"): a.attrs["href"] for a in second.find("nav", "pager").find_all("a")}
    assert rels["prev"] == f"/leads/{LEAD_A}" and rels["next"] == f"/leads/{LEAD_A}?page=3"
    assert len(bubbles(await page(view, f"/leads/{LEAD_A}?page=3"))) == 50
    assert "pages 1 to 3" in (await page(view, f"/leads/{LEAD_A}?page=4", 404)).find("h1").text
    await page(view, f"/leads/{LEAD_A}?page=x", 404)
    await page(view, "/leads/lead_nobody", 404)
    empty = await page(view, f"/leads/{LEAD_B}")
    assert bubbles(empty) == [] and "No WhatsApp messages on this lead." in empty.text


async def test_a_message_has_a_link_to_the_page_that_holds_it(view: Client) -> None:
    ids = add_thread(state_of(view), PAGE_SIZE + 10)
    for wanted in (ids[PAGE_SIZE + 3], f"wamid.{PAGE_SIZE + 3}"):
        async with view.get(f"/messages/{wanted}?tz=Asia/Tokyo", allow_redirects=False) as r:
            assert r.status == 302
            assert r.headers["Location"] == (
                f"/leads/{LEAD_A}?page=2&tz=Asia/Tokyo#{ids[PAGE_SIZE + 3]}"
            )
    document = await page(view, f"/leads/{LEAD_A}?page=2")
    permalink = document.by_id(ids[PAGE_SIZE + 3]).find("div", "when").find("a")
    assert permalink.attrs["href"] == f"/messages/{ids[PAGE_SIZE + 3]}"
    await page(view, "/messages/acti_unknown", 404)


async def test_a_lead_with_several_contacts_names_each_sender(view: Client) -> None:
    state = state_of(view)
    lead = state.leads[LEAD_B]
    second = state.add_contact(lead, "Bea", [])
    for contact, external in ((lead.contact_ids[0], "wamid.b1"), (second.id, "wamid.b2")):
        await create(
            view,
            lead_id=LEAD_B,
            contact_id=contact,
            external_whatsapp_message_id=external,
            remote_phone="+49301234567",
        )
    senders = [b.find("div", "sender").text for b in bubbles(await page(view, f"/leads/{LEAD_B}"))]
    assert sorted(senders) == ["Bea", "Bob"]


async def test_admin_state_and_reset(emu: Emulator, client: aiohttp.ClientSession) -> None:
    activity = await create_live(client, emu)
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
