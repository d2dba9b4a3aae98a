"""A stop stops: SIGINT, SIGTERM and SIGHUP end a run that Close never answers, within seconds."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from importer.checkpoint import load_state
from tests.close.fake import fake_close
from tests.conftest import API_KEY, LOCAL_PHONE, ROOT

LEAD, CONTACT = "lead_" + "a" * 40, "cont_" + "b" * 40


class Silent:
    """A Close that takes every request and never answers it."""

    def __init__(self, busy_at: int = 8) -> None:
        self.requests = 0
        self._busy_at = busy_at
        self.busy = asyncio.Event()  # set once `busy_at` requests wait for an answer

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.requests >= self._busy_at:
            self.busy.set()
        await asyncio.sleep(3600)
        return web.json_response({})


def write_chat(path: Path, count: int) -> None:
    line = (
        b'{"id":"wamid.S%d","timestamp":%d,"direction":"incoming",'
        b'"remote_phone":"+16505550123","text":"m%d"}\n'
    )
    path.write_bytes(b"".join(line % (n, 1_700_000_000 + n, n) for n in range(count)))


async def start(base_url: str, tmp_path: Path, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "importer", "run", str(tmp_path / "chat.jsonl"),
        "--base-url", base_url, "--api-key", API_KEY, "--local-phone", LOCAL_PHONE,
        "--lead-id", LEAD, "--contact-id", CONTACT, "--no-reconcile", "--no-progress",
        "--checkpoint", str(tmp_path / "run.ckpt"), "--report", str(tmp_path / "report.json"),
        *extra, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.parametrize(
    "stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: str(s.name)
)
async def test_a_stop_cancels_requests_in_flight_and_keeps_them_pending(
    tmp_path: Path, stop: signal.Signals
) -> None:
    write_chat(tmp_path / "chat.jsonl", 50)
    silent = Silent()
    async with fake_close(silent.handle) as url:
        run = await start(url, tmp_path)
        await asyncio.wait_for(silent.busy.wait(), 30)  # every worker waits on a create
        signalled = time.monotonic()
        run.send_signal(stop)
        assert await asyncio.wait_for(run.wait(), 10) == 130
        assert time.monotonic() - signalled < 5
    report = orjson.loads((tmp_path / "report.json").read_bytes())
    assert report["interrupted"] is True
    assert stop.name in report["stopped_because"]
    assert report["not_attempted"] == 50
    # Sent and never answered: each is looked up by the next run before anything is resent.
    assert len(load_state(tmp_path / "run.ckpt").pending) == 8


@pytest.mark.parametrize("extra", [(), ("--dry-run",)], ids=["run", "dry-run"])
async def test_a_stop_while_reading_a_big_archive_ends_the_read(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    write_chat(tmp_path / "chat.jsonl", 400_000)  # some 6 s to read and plan
    silent = Silent()
    async with fake_close(silent.handle) as url:
        run = await start(url, tmp_path, *extra)
        await asyncio.sleep(1.5)
        signalled = time.monotonic()
        run.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(run.wait(), 10) == 130
        assert time.monotonic() - signalled < 4
    # A run sends from the first lines read (8 creates wait here); a dry run sends nothing.
    assert silent.requests <= (8 if not extra else 0)
    report = orjson.loads((tmp_path / "report.json").read_bytes())
    assert report["interrupted"] is True
    assert report["created"] < 400_000  # a dry run counts what it would create: not all


async def test_a_second_signal_exits_at_once() -> None:
    script = textwrap.dedent(
        """
        import asyncio
        from importer.signals import StopOnSignals

        async def main():
            with StopOnSignals() as stop:
                stop.on_stop(lambda reason: print(reason, flush=True))
                print("ready", flush=True)
                await asyncio.sleep(60)  # a stop that does not finish by itself

        asyncio.run(main())
        """
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    assert await process.stdout.readline() == b"ready\n"
    process.send_signal(signal.SIGINT)
    assert b"interrupted by SIGINT" in await process.stdout.readline()
    assert process.returncode is None  # the first one only asks
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), 5) == 130
    assert b"SIGINT again: stopping at once" in await process.stderr.read()


async def test_a_stop_cancels_an_upload_in_flight(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"\0" * (8 * 1024 * 1024))
    row = {
        "id": "wamid.U1",
        "timestamp": 1_700_000_000,
        "direction": "incoming",
        "remote_phone": "+16505550123",
        "attachments": [{"path": "big.bin", "content_type": "application/octet-stream"}],
    }
    (tmp_path / "chat.jsonl").write_bytes(orjson.dumps(row) + b"\n")
    uploading = asyncio.Event()

    async def close(request: web.Request) -> web.Response:
        if request.path.endswith("/files/upload/"):
            slot = {"url": f"http://{request.host}/s3/upload/t", "fields": {"key": "t"}}
            download = {"url": "https://app.close.com/go/file/t"}
            return web.json_response({"upload": slot, "download": download})
        uploading.set()  # storage that takes the bytes slower than anyone would wait
        await asyncio.sleep(3600)
        return web.Response(status=201)

    async with fake_close(close) as url:
        run = await start(url, tmp_path)
        await asyncio.wait_for(uploading.wait(), 30)
        signalled = time.monotonic()
        run.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(run.wait(), 10) == 130
        assert time.monotonic() - signalled < 5
    report = orjson.loads((tmp_path / "report.json").read_bytes())
    assert (report["created"], report["attachments_uploaded"], report["not_attempted"]) == (0, 0, 1)
