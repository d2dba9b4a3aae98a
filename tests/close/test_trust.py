"""Where the key, file bytes and links may go: checked before anything is sent there."""

from __future__ import annotations

import io

import pytest
from aiohttp import web

from importer.close.api import CloseAPI
from importer.close.transport import Transport
from importer.close.trust import check_base_url
from importer.errors import Untrusted, UsageError
from tests.close.fake import fake_close


@pytest.mark.parametrize(
    "url",
    ["https://user:s3cret@api.close.com/api/v1", "https://s3cret@api.close.com/api/v1"],
    ids=["user-and-password", "user-only"],
)
def test_a_base_url_with_credentials_is_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(UsageError) as refused:
        check_base_url(url)
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(
    ("storage", "download", "names"),
    [
        ("http://203.0.113.9/s3/upload/t", "https://app.close.com/go/file/t", "not https"),
        (None, "https://files.example.com/go/file/t", "outside https://app.close.com/go/file/"),
        (None, "http://app.close.com/go/file/t", "outside https://app.close.com/go/file/"),
    ],
    ids=["plain-http-storage", "foreign-download-host", "plain-http-download"],
)
async def test_close_naming_an_untrusted_url_gets_no_file_bytes(
    storage: str | None, download: str, names: str
) -> None:
    stored: list[bytes] = []

    async def close(request: web.Request) -> web.Response:
        if request.path.endswith("/files/upload/"):
            here = f"http://{request.host}/s3/upload/t"
            upload = {"url": storage or here, "fields": {"key": "t"}}
            return web.json_response({"upload": upload, "download": {"url": download}})
        stored.append(await request.read())
        return web.Response(status=201)

    async with fake_close(close) as url, Transport(url, "k") as transport:
        with pytest.raises(Untrusted, match=names):
            await CloseAPI(transport).upload_file(
                "a.pdf", "application/pdf", 3, lambda: io.BytesIO(b"abc")
            )
    assert stored == []
