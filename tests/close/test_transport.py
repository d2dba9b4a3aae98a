"""The transport against the emulator: encoding, errors as Close words them, the key's reach."""

from __future__ import annotations

import time
from typing import Any

import pytest

from importer.close.api import CloseAPI
from importer.close.transport import RetryPolicy, Transport
from importer.emulator import Emulator, EmulatorConfig
from importer.errors import AnswerLost, AuthRefused, Rejected, Unavailable

FAST = RetryPolicy(attempts=3, base_s=0.001, cap_s=0.002)


def test_query_values_are_percent_encoded() -> None:
    transport = Transport("https://api.close.com/api/v1/", "k")
    url = transport.url(
        "activity/whatsapp_message/", {"external_whatsapp_message_id": "wamid.a+b/c="}
    )
    assert str(url).endswith("?external_whatsapp_message_id=wamid.a%2Bb%2Fc%3D")


async def test_a_refused_key_is_its_own_error(seed: dict[str, Any]) -> None:
    config = EmulatorConfig(data=seed, api_key="the-right-key")
    async with Emulator(config) as emu, Transport(emu.base_url, "a-wrong-key") as transport:
        with pytest.raises(AuthRefused, match="401"):
            await CloseAPI(transport).find_whatsapp_messages("x")


async def test_a_refused_create_carries_closes_field_errors(emulator: Emulator) -> None:
    async with Transport(emulator.base_url, "k") as transport:
        with pytest.raises(Rejected) as refused:
            await CloseAPI(transport).create_whatsapp_message({"direction": "sideways"})
    assert refused.value.status == 400
    assert "direction" in refused.value.field_errors
    assert "lead_id" in refused.value.field_errors


async def test_uploads_reach_storage_without_credentials(emulator: Emulator) -> None:
    import io

    data = b"\x89PNG fake but bytes"
    async with Transport(emulator.base_url, "k") as transport:
        url = await CloseAPI(transport).upload_file(
            "a b.png", "image/png", len(data), lambda: io.BytesIO(data)
        )
    assert url.startswith("https://app.close.com/go/file/")
    assert emulator.state.file_bytes(url) == data
    assert emulator.state.counters["storage_authorization_headers"] == 0


async def test_an_upload_slot_whose_window_closed_is_taken_again(seed: dict[str, Any]) -> None:
    import io
    import time

    data = b"%PDF-1.4 slow disk"
    opened: list[float] = []

    def slow_first_time() -> io.BytesIO:
        if not opened:
            time.sleep(0.3)  # a slow disk or a long queue: the 0.2 s window passes
        opened.append(time.monotonic())
        return io.BytesIO(data)

    config = EmulatorConfig(data=seed, upload_window_s=0.2)
    async with Emulator(config) as emu, Transport(emu.base_url, "k") as transport:
        url = await CloseAPI(transport).upload_file(
            "q.pdf", "application/pdf", len(data), slow_first_time
        )
        assert emu.state.file_bytes(url) == data
        assert (emu.state.counters["upload_slots"], emu.state.counters["uploads"]) == (2, 1)


async def test_a_list_without_data_is_retried_then_unavailable_never_empty() -> None:
    from aiohttp import web

    from tests.close.fake import fake_close

    asked = 0

    async def no_data(request: web.Request) -> web.Response:
        nonlocal asked
        asked += 1
        return web.json_response({"has_more": False})

    async with fake_close(no_data) as url, Transport(url, "k", retry=FAST) as transport:
        with pytest.raises(Unavailable, match="documented shape"):
            await CloseAPI(transport).find_whatsapp_messages("wamid.x")
    assert asked == FAST.attempts


async def test_a_create_without_id_is_a_lost_answer() -> None:
    from aiohttp import web

    from tests.close.fake import fake_close

    async def no_id(request: web.Request) -> web.Response:
        return web.json_response({"lead_id": "lead_x"})

    async with fake_close(no_id) as url, Transport(url, "k", retry=FAST) as transport:
        with pytest.raises(AnswerLost, match="documented shape"):
            await CloseAPI(transport).create_whatsapp_message({"x": 1})


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_answer_too_large_is_not_read_into_memory(declared: bool) -> None:
    from aiohttp import web

    from tests.close.fake import fake_close

    chunk = b" " * (1024 * 1024)

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if declared:
            response.content_length = 2 * 1024**3
        await response.prepare(request)
        try:
            for _ in range(2048):  # 2 GB, if anyone read it all
                await response.write(chunk)
        except (ConnectionResetError, RuntimeError):
            pass  # the client hung up, as it should
        return response

    started = time.monotonic()
    async with fake_close(huge) as url, Transport(url, "k", retry=FAST) as transport:
        with pytest.raises(Unavailable, match="answer too large"):
            await CloseAPI(transport).find_whatsapp_messages("wamid.x")
    assert time.monotonic() - started < 10
