"""The WhatsApp activity endpoints: what Close refuses, what it answers, and how it lists."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest
from yarl import URL

from importer.emulator import Emulator
from tests.emulator.conftest import AUTH, CONTACT_B, LEAD_A, LEAD_B, basic, config, create, message

ACT = "/activity/whatsapp_message/"
# Every property the OpenAPI schema WhatsAppMessageActivity marks as required.
SCHEMA_REQUIRED = {
    "_type", "activity_at", "contact_id", "created_by", "date_created", "date_updated",
    "direction", "external_whatsapp_message_id", "id", "integration_link", "integration_name",
    "lead_id", "local_phone", "local_phone_formatted", "message_html", "message_markdown",
    "organization_id", "remote_phone", "remote_phone_formatted", "response_to_id", "source",
    "text", "updated_by", "user_id", "users",
}  # fmt: skip
REQUIRED_FIELDS = [
    "activity_at", "contact_id", "direction", "external_whatsapp_message_id", "lead_id",
    "local_phone", "message_markdown", "remote_phone",
]  # fmt: skip

Case = tuple[str, str, dict[str, Any], int, str | None]
BAD: list[Case] = [
    *[("POST", ACT, {"json": message(**{f: ...})}, 400, f) for f in REQUIRED_FIELDS],
    ("POST", ACT, {"json": message(organization_id="orga_x")}, 400, "organization_id"),
    ("POST", ACT, {"json": message(direction="inbound")}, 400, "direction"),
    ("POST", ACT, {"json": message(activity_at="2024-05-01T10:00:00")}, 400, "activity_at"),
    ("POST", ACT, {"json": message(activity_at="2024-05-01")}, 400, "activity_at"),
    ("POST", ACT, {"json": message(activity_at=1714550400)}, 400, "activity_at"),
    ("POST", ACT, {"json": message(contact_id=CONTACT_B)}, 400, "contact_id"),
    ("POST", ACT, {"json": message(contact_id="cont_nope")}, 400, "contact_id"),
    ("POST", ACT, {"json": message(lead_id="lead_nope")}, 400, "lead_id"),
    ("POST", ACT, {"json": message(external_whatsapp_message_id="")}, 400, None),
    ("POST", ACT, {"json": message(message_markdown=None)}, 400, "message_markdown"),
    ("POST", ACT, {"json": message(remote_phone="not a phone")}, 400, "remote_phone"),
    ("POST", ACT, {"json": message(local_phone="12")}, 400, "local_phone"),
    ("POST", ACT, {"json": message(integration_link="not a url")}, 400, "integration_link"),
    ("POST", ACT, {"json": message(integration_link="https://x.io/" + "a" * 2100)}, 400, None),
    ("POST", ACT, {"json": message(response_to_id="acti_nope")}, 400, "response_to_id"),
    ("POST", ACT, {"json": message(user_id=5)}, 400, "user_id"),
    ("POST", ACT, {"json": message(attachments=None)}, 400, "attachments"),
    (
        "POST",
        ACT,
        {
            "json": message(
                attachments=[
                    {
                        "url": "https://app.close.com/go/file/nope",
                        "filename": "a.jpg",
                        "content_type": "image/jpeg",
                    }
                ]
            )
        },
        400,
        "attachments",
    ),
    (
        "POST",
        ACT,
        {
            "json": message(
                attachments=[
                    {
                        "url": "https://example.com/a.jpg",
                        "filename": "a.jpg",
                        "content_type": "image/jpeg",
                    }
                ]
            )
        },
        400,
        "attachments",
    ),
    ("POST", ACT + "?send_to_inbox=yes", {"json": message()}, 400, None),
    ("POST", ACT + "?dry_run=true", {"json": message()}, 400, None),
    (
        "POST",
        ACT,
        {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
        400,
        None,
    ),
    ("POST", ACT, {"json": [message()]}, 400, None),
    ("POST", ACT, {"data": orjson.dumps(message())}, 415, None),
    ("POST", ACT.rstrip("/"), {"json": message()}, 404, None),
    ("GET", ACT.rstrip("/"), {}, 404, None),
    ("PATCH", ACT, {"json": message()}, 405, None),
    ("GET", ACT + "?_limit=101", {}, 400, None),
    ("GET", ACT + "?_limit=0", {}, 400, None),
    ("GET", ACT + "?_skip=10001", {}, 400, None),
    ("GET", ACT + "?lead=lead_x", {}, 400, None),
    ("GET", ACT + "?activity_at__gte=2024-05-01T10:00:00", {}, 400, None),
    ("GET", ACT + "?activity_at__after=2024-05-01T10:00:00Z", {}, 400, None),
    ("GET", ACT + "?lead_id=a&lead_id=b", {}, 400, None),
    ("GET", ACT + "acti_nope/", {}, 404, None),
    ("GET", "/lead/lead_nope/", {}, 404, None),
]


@pytest.mark.parametrize("case", BAD, ids=[f"{c[0]} {c[1]} {c[3]} {c[4]}" for c in BAD])
async def test_bad_requests_are_refused_as_close_would(
    emu: Emulator, client: aiohttp.ClientSession, case: Case
) -> None:
    method, path, kwargs, status, field = case
    async with client.request(method, URL(emu.base_url + path, encoded=True), **kwargs) as r:
        assert r.status == status, await r.text()
        body = await r.json()
    if field is not None:
        assert body["errors"] == []
        assert field in body["field-errors"]
    assert emu.state.activities == {}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Bearer "},
        {"Authorization": "Token x"},
    ],
)
async def test_requests_without_a_valid_key_get_401(emu: Emulator, headers: dict[str, str]) -> None:
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.post(f"{emu.base_url}{ACT}", json=message(), headers=headers) as r,
    ):
        assert r.status == 401
    assert emu.state.activities == {}


async def test_a_configured_key_is_the_only_one_accepted() -> None:
    async with Emulator(config(api_key="right")) as emu, aiohttp.ClientSession() as session:
        url = f"{emu.base_url}{ACT}"
        async with session.get(url, headers=basic("wrong")) as r:
            assert r.status == 401
        async with session.get(url, headers={"Authorization": "Basic cmlnaHQ6cHc="}) as r:
            assert r.status == 401  # "right:pw": Close's keys come with an empty password
        async with session.get(url, headers=basic("right")) as r:
            assert r.status == 200
        async with session.get(url, headers={"Authorization": "Bearer right"}) as r:
            assert r.status == 200


async def test_create_answers_200_with_the_full_activity(
    emu: Emulator, client: aiohttp.ClientSession
) -> None:
    activity = await create(
        client,
        emu,
        message_markdown="*Hi* _there_ ~old~ ```co*de``` <b>\nbye",
        integration_link="https://example.com/m/1",
    )
    assert set(activity) >= SCHEMA_REQUIRED
    assert activity["_type"] == "WhatsAppMessage"
    assert activity["id"].startswith("acti_")
    assert activity["source"] == "api"
    assert activity["activity_at"] == "2024-05-01T08:00:00+00:00"
    assert activity["remote_phone"] == "+16503334444"
    assert activity["remote_phone_formatted"] == "+1 650-333-4444"
    assert activity["local_phone"] == "+4915112345678"
    assert activity["message_html"] == (
        "<strong>Hi</strong> <em>there</em> <s>old</s> <code>co*de</code> &lt;b&gt;<br>bye"
    )
    assert activity["text"] == "Hi there old co*de <b>\nbye"
    assert activity["attachments"] == []
    assert activity["created_by"].startswith("user_")
    assert activity["user_id"] == activity["created_by"]
    assert activity["users"] == [activity["created_by"]]
    assert activity["organization_id"] == emu.state.organization_id
    assert emu.state.activities[activity["id"]] == activity
    assert emu.state.counters["creates"] == 1
    assert emu.state.requests("POST", "whatsapp_messages") == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"remote_phone": "+1 (650) 333-4444", "local_phone": "49.151.12345678"},
        {"activity_at": "2024-05-01T08:00:00Z"},
        {"activity_at": "2024-05-01T08:00:00.123456-05:00"},
        {"message_markdown": "", "direction": "outgoing"},
        {"integration_link": None, "response_to_id": None, "user_id": None},
        {"user_id": "user_someone", "attachments": []},
    ],
)
async def test_good_variants_are_accepted(
    emu: Emulator, client: aiohttp.ClientSession, overrides: dict[str, Any]
) -> None:
    activity = await create(client, emu, **overrides)
    assert set(activity) >= SCHEMA_REQUIRED
    assert activity["remote_phone"] == "+16503334444"


async def test_send_to_inbox_and_replies(emu: Emulator, client: aiohttp.ClientSession) -> None:
    parent = await create(client, emu)
    url = f"{emu.base_url}{ACT}?send_to_inbox=true"
    body = message(external_whatsapp_message_id="wamid.2", response_to_id=parent["id"])
    async with client.post(url, json=body) as r:
        assert r.status == 200
        assert (await r.json())["response_to_id"] == parent["id"]
    assert emu.state.counters["inbox_notifications"] == 1


async def test_the_same_external_id_twice_makes_two_activities(
    emu: Emulator, client: aiohttp.ClientSession
) -> None:
    first = await create(client, emu)
    second = await create(client, emu)
    assert first["id"] != second["id"]
    async with client.get(
        f"{emu.base_url}{ACT}", params={"external_whatsapp_message_id": "wamid.1"}
    ) as r:
        assert len((await r.json())["data"]) == 2


async def test_get_put_delete(emu: Emulator, client: aiohttp.ClientSession) -> None:
    activity = await create(client, emu)
    url = f"{emu.base_url}{ACT}{activity['id']}/"
    async with client.get(url) as r:
        assert r.status == 200
        assert await r.json() == activity
    async with client.get(url + "?_fields=id,text") as r:
        assert await r.json() == {"id": activity["id"], "text": "hello world"}
    async with client.put(url, json={"message_markdown": "_edited_"}) as r:
        assert r.status == 200
        updated = await r.json()
    assert updated["message_html"] == "<em>edited</em>"
    assert updated["external_whatsapp_message_id"] == "wamid.1"
    for field, value in [
        ("external_whatsapp_message_id", "x"),
        ("lead_id", LEAD_A),
        ("response_to_id", activity["id"]),
        ("contact_id", CONTACT_B),
        ("colour", "red"),
    ]:
        async with client.put(url, json={field: value}) as r:
            assert r.status == 400, field
            assert field in (await r.json())["field-errors"]
    async with client.put(url, data=b"{}") as r:
        assert r.status == 415
    async with client.delete(url) as r:
        assert r.status == 200
        assert await r.json() == {}
    async with client.get(url) as r:
        assert r.status == 404
    assert emu.state.activities == {}


async def _list(client: aiohttp.ClientSession, url: str | URL) -> dict[str, Any]:
    async with client.get(url) as r:
        assert r.status == 200, await r.text()
        result: dict[str, Any] = await r.json()
        return result


async def test_listing_filters_orders_and_pages(
    emu: Emulator, client: aiohttp.ClientSession
) -> None:
    made = [
        await create(
            client, emu, external_whatsapp_message_id=f"w{i}", activity_at=f"2024-05-0{i}T12:00:00Z"
        )
        for i in range(1, 6)
    ]
    base = f"{emu.base_url}{ACT}"
    everything = await _list(client, base)
    assert [a["external_whatsapp_message_id"] for a in everything["data"]] == [
        "w5", "w4", "w3", "w2", "w1"
    ]  # fmt: skip
    assert everything["has_more"] is False
    page = await _list(client, URL(base).with_query(_limit=2, _skip=2))
    assert [a["external_whatsapp_message_id"] for a in page["data"]] == ["w3", "w2"]
    assert page["has_more"] is True
    since = await _list(
        client, URL(base).with_query(activity_at__gte="2024-05-04T12:00:00+00:00", lead_id=LEAD_A)
    )
    assert [a["external_whatsapp_message_id"] for a in since["data"]] == ["w5", "w4"]
    before = await _list(client, URL(base).with_query(activity_at__lt="2024-05-02T14:00:00+02:00"))
    assert [a["external_whatsapp_message_id"] for a in before["data"]] == ["w1"]
    ids = await _list(
        client, URL(base).with_query(id__in=f"{made[0]['id']},{made[2]['id']}", _fields="id")
    )
    assert ids["data"] == [{"id": made[2]["id"]}, {"id": made[0]["id"]}]
    assert (await _list(client, URL(base).with_query(lead_id=LEAD_B)))["data"] == []
    created = await _list(client, URL(base).with_query(date_created__gt="2000-01-01T00:00:00Z"))
    assert len(created["data"]) == 5


async def test_a_literal_plus_in_a_query_value_reads_as_a_space(
    emu: Emulator, client: aiohttp.ClientSession
) -> None:
    await create(client, emu, external_whatsapp_message_id="a+b")
    base = f"{emu.base_url}{ACT}"
    raw = await _list(client, URL(base + "?external_whatsapp_message_id=a+b", encoded=True))
    assert raw["data"] == []
    encoded = await _list(client, URL(base + "?external_whatsapp_message_id=a%2Bb", encoded=True))
    assert len(encoded["data"]) == 1
    # The ordinary way of passing params percent-encodes the `+` too.
    params = await _list(client, URL(base).with_query(external_whatsapp_message_id="a+b"))
    assert len(params["data"]) == 1


async def test_a_long_filter_list_may_be_sent_as_post_with_method_override(
    emu: Emulator, client: aiohttp.ClientSession
) -> None:
    activity = await create(client, emu)
    ids = ",".join([activity["id"]] + [f"acti_{i}" for i in range(300)])
    async with client.post(
        f"{emu.base_url}{ACT}",
        json={"_params": {"id__in": ids, "_limit": 10}},
        headers={"x-http-method-override": "GET"},
    ) as r:
        assert r.status == 200
        assert [a["id"] for a in (await r.json())["data"]] == [activity["id"]]
    assert emu.state.counters["creates"] == 1


async def test_lead_and_contact_reads(emu: Emulator) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as client:
        async with client.get(f"{emu.base_url}/lead/{LEAD_B}/") as r:
            lead = await r.json()
        assert lead["contacts"][0]["phones"] == [
            {"phone": "+49301234567", "phone_formatted": "+49 30 1234567", "type": "mobile"}
        ]
        async with client.get(f"{emu.base_url}/contact/{CONTACT_B}/") as r:
            contact = await r.json()
        assert contact["lead_id"] == LEAD_B
        async with client.get(f"{emu.base_url}/lead/{LEAD_B}/?_fields=id,name") as r:
            assert await r.json() == {"id": LEAD_B, "name": "Beta"}
        async with client.get(f"{emu.base_url}/contact/cont_nope/") as r:
            assert r.status == 404
