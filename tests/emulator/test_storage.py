"""The Files flow: `/files/upload/`, the S3-style storage POST, and attachments that use it."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
import pytest

from importer.emulator import Emulator
from tests.emulator.conftest import AUTH, config, message

ACT = "/activity/whatsapp_message/"


async def slot(client: aiohttp.ClientSession, emu: Emulator, filename: str = "a.jpg") -> Any:
    body = {"filename": filename, "content_type": "image/jpeg"}
    async with client.post(f"{emu.base_url}/files/upload/", json=body) as r:
        assert r.status == 200, await r.text()
        return await r.json()


def form(fields: dict[str, str], data: bytes, file_first: bool = False) -> aiohttp.FormData:
    result = aiohttp.FormData()
    # A stream, not bytes: aiohttp warns about large in-memory bodies, and warnings are errors here.
    file = io.BytesIO(data)
    if file_first:
        result.add_field("file", file, filename="a.jpg", content_type="image/jpeg")
    for name, value in fields.items():
        result.add_field(name, value)
    if not file_first:
        result.add_field("file", file, filename="a.jpg", content_type="image/jpeg")
    return result


async def store(url: str, body: aiohttp.FormData, headers: dict[str, str] | None = None) -> int:
    """POST to storage from a session that, like S3's callers should, carries no API key."""
    async with aiohttp.ClientSession() as bare, bare.post(url, data=body, headers=headers) as r:
        return r.status


async def uploaded(client: aiohttp.ClientSession, emu: Emulator, data: bytes) -> str:
    answer = await slot(client, emu)
    assert await store(answer["upload"]["url"], form(answer["upload"]["fields"], data)) == 201
    url: str = answer["download"]["url"]
    return url


def attachment(url: str, filename: str = "a.jpg") -> dict[str, str]:
    return {"url": url, "filename": filename, "content_type": "image/jpeg"}


async def test_upload_then_attach(emu: Emulator, client: aiohttp.ClientSession) -> None:
    data = bytes(range(256)) * 1000
    answer = await slot(client, emu)
    fields = answer["upload"]["fields"]
    assert {"key", "policy", "x-amz-signature", "Content-Type", "Content-Disposition"} <= set(
        fields
    )
    assert fields["Content-Type"] == "image/jpeg"
    download = answer["download"]["url"]
    assert download.startswith("https://app.close.com/go/file/")
    # Before the bytes arrive the url names nothing Close could attach.
    async with client.post(
        f"{emu.base_url}{ACT}", json=message(attachments=[attachment(download)])
    ) as r:
        assert r.status == 400
    assert await store(answer["upload"]["url"], form(fields, data)) == 201
    async with client.post(
        f"{emu.base_url}{ACT}", json=message(attachments=[attachment(download, "photo.jpg")])
    ) as r:
        assert r.status == 200, await r.text()
        activity = await r.json()
    assert activity["attachments"] == [
        {
            "url": download,
            "filename": "photo.jpg",
            "content_type": "image/jpeg",
            "size": len(data),
            "thumbnail_url": None,
        }
    ]
    assert emu.state.file_bytes(download) == data
    assert emu.state.counters["uploads"] == 1
    token = download.rsplit("/", 1)[1]
    async with client.get(f"{emu.root_url}/go/file/{token}") as r:
        assert await r.read() == data


async def test_storage_refuses_an_authorization_header_and_counts_it(
    emu: Emulator, client: aiohttp.ClientSession
) -> None:
    answer = await slot(client, emu)
    status = await store(answer["upload"]["url"], form(answer["upload"]["fields"], b"x"), AUTH)
    assert status == 400
    assert emu.state.counters["storage_authorization_headers"] == 1
    assert emu.state.counters["uploads"] == 0
    with pytest.raises(KeyError):
        emu.state.file_bytes(answer["download"]["url"])


async def test_the_file_must_be_the_last_part(emu: Emulator, client: aiohttp.ClientSession) -> None:
    answer = await slot(client, emu)
    body = form(answer["upload"]["fields"], b"x", file_first=True)
    async with aiohttp.ClientSession() as bare, bare.post(answer["upload"]["url"], data=body) as r:
        assert r.status == 400
        assert "<Error>" in await r.text()


@pytest.mark.parametrize(
    "change",
    [
        {"Content-Type": "image/png"},
        {"x-amz-signature": "0" * 64},
        {"extra": "field"},
    ],
)
async def test_every_presigned_field_must_come_unchanged(
    emu: Emulator, client: aiohttp.ClientSession, change: dict[str, str]
) -> None:
    answer = await slot(client, emu)
    fields = {**answer["upload"]["fields"], **change}
    assert await store(answer["upload"]["url"], form(fields, b"x")) == 403
    missing = dict(answer["upload"]["fields"])
    del missing["policy"]
    assert await store(answer["upload"]["url"], form(missing, b"x")) == 403


async def test_the_upload_window_closes(client: aiohttp.ClientSession) -> None:
    async with Emulator(config(upload_window_s=0.05)) as emu:
        answer = await slot(client, emu)
        await asyncio.sleep(0.1)
        assert await store(answer["upload"]["url"], form(answer["upload"]["fields"], b"x")) == 403


async def test_a_download_url_expires(client: aiohttp.ClientSession) -> None:
    async with Emulator(config(download_valid_s=0.2)) as emu:
        url = await uploaded(client, emu, b"x")
        await asyncio.sleep(0.25)
        async with client.post(
            f"{emu.base_url}{ACT}", json=message(attachments=[attachment(url)])
        ) as r:
            assert r.status == 400
            assert "attachments" in (await r.json())["field-errors"]


async def test_attachments_of_one_message_total_at_most_25_mb(
    emu: Emulator, client: aiohttp.ClientSession
) -> None:
    url = await uploaded(client, emu, b"\0" * (13 * 1024 * 1024))
    body = message(attachments=[attachment(url), attachment(url, "b.jpg")])
    async with client.post(f"{emu.base_url}{ACT}", json=body) as r:
        assert r.status == 400
        assert "attachments" in (await r.json())["field-errors"]
    async with client.post(
        f"{emu.base_url}{ACT}", json=message(attachments=[attachment(url)])
    ) as r:
        assert r.status == 200


@pytest.mark.parametrize(
    "body",
    [
        {"filename": "a.jpg"},
        {"filename": "a.jpg", "content_type": "image/jpeg", "size": 3},
        {"filename": "", "content_type": "image/jpeg"},
        {"filename": 1, "content_type": "image/jpeg"},
    ],
)
async def test_files_upload_takes_exactly_filename_and_content_type(
    emu: Emulator, client: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    async with client.post(f"{emu.base_url}/files/upload/", json=body) as r:
        assert r.status == 400
