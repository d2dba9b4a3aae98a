"""`rehearse`: the whole import into a local emulator, and its conversation view."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from importer.cli import main
from tests.conftest import LOCAL_PHONE, SAMPLES
from tests.emulator.dom import parse

MARIA_LEAD = "lead_acmeSampleLead000000000000000000000000001"


def test_rehearsal_imports_everything_without_close(tmp_path: Path) -> None:
    args = ["rehearse", str(SAMPLES), "--local-phone", LOCAL_PHONE, "--port", "0"]
    assert main([*args, "--no-serve", "--report", str(tmp_path / "r.json")]) == 0

    report = orjson.loads((tmp_path / "r.json").read_bytes())
    assert (report["created"], report["failed"], report["attachments_uploaded"]) == (10, 0, 3)


def test_rehearsal_holds_the_lead_that_lead_id_names(tmp_path: Path) -> None:
    args = ["rehearse", str(SAMPLES), "--local-phone", LOCAL_PHONE, "--port", "0", "--no-serve"]
    ids = ["--lead-id", "lead_mine", "--contact-id", "cont_mine"]
    assert main([*args, *ids, "--report", str(tmp_path / "r.json")]) == 0
    assert orjson.loads((tmp_path / "r.json").read_bytes())["created"] == 10


@contextmanager
def rehearsing(*args: str) -> Iterator[tuple[str, list[str]]]:
    """`rehearse SAMPLES ARGS` serving on a free port: its view URL and what it printed first."""
    process = subprocess.Popen(
        [sys.executable, "-m", "importer", "rehearse", str(SAMPLES), "--port", "0",
         "--local-phone", LOCAL_PHONE, "--no-progress", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    with process.stdout:
        printed: list[str] = []
        while not printed or not printed[-1].startswith("Conversation view at "):
            line = process.stdout.readline()
            assert line, f"rehearse ended early: {printed}"
            printed.append(line.rstrip("\n"))
        url = printed[-1].split(" at ", 1)[1].split()[0]
        try:
            yield url, printed
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(10) == 0


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        text: str = answer.read().decode()
    return text


def test_rehearsal_prints_the_summary_then_serves_the_view_until_interrupted() -> None:
    seeded = ("--data", str(SAMPLES / "seed.json"), "--mapping", str(SAMPLES / "mapping.csv"))
    with rehearsing(*seeded) as (url, printed):
        assert printed[0].startswith("created 10, already imported 0, failed 0")
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        index = parse(fetch(url))
        leads = {a.text: a.attrs["href"] for a in index.find("table", "leads").find_all("a")}
        assert set(leads) == {"Acme Corp", "Bäckerei Schmidt"}
        assert "Globex" in index.find("details").text  # seeded by --data, but no messages
        chat = fetch(url.rstrip("/") + leads["Acme Corp"])
        assert "Widget Pro" in chat


def test_rehearsal_holds_only_the_leads_the_import_needs_and_shows_its_zone() -> None:
    with rehearsing(
        "--mapping", str(SAMPLES / "mapping.csv"), "--timezone", "Australia/Sydney"
    ) as (url, _):
        state: dict[str, Any] = orjson.loads(fetch(url + "_emulator/state"))
        leads = {lead["id"]: lead for lead in state["leads"]}
        # The mapping's lead, and one created for the phone it does not name: no filler.
        assert len(leads) == 2
        assert leads[MARIA_LEAD]["contacts"][0]["phones"][0]["phone"] == "+16505550123"
        assert not any("Ltd" in lead["name"] for lead in leads.values())
        assert {a["lead_id"] for a in state["activities"].values()} == set(leads)
        chat = parse(fetch(f"{url}leads/{MARIA_LEAD}"))
        assert chat.find("input").attrs["value"] == "Australia/Sydney"
        # 2024-03-04T09:15:02-08:00 is 04:15 the next day in Sydney (AEDT, +11:00).
        assert chat.find("time").attrs["datetime"] == "2024-03-05T04:15:02+11:00"


def test_a_taken_port_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = main(["rehearse", str(SAMPLES), "--local-phone", LOCAL_PHONE,
                       "--port", str(port), "--no-serve"])  # fmt: skip
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"wa-close-import: error: --port {port}: cannot listen on 127.0.0.1:{port} "
        "(Address already in use); pass another --port, or --port 0 for any free one"
    ]
