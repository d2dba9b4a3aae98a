"""The demo lead's conversation in a real browser: headless Chromium's DOM, and a screenshot.

Chromium is Debian's `chromium` package. Where it is missing, the test installs it (with an
emoji font, so that the screenshot shows what a person sees) when it runs as root with apt-get,
as on CI and the project's machines: about a minute, once per machine. Elsewhere it is skipped,
saying how to install it. The screenshot is left in tests/artifacts/ to look at.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES
from tests.emulator.dom import parse

ARTIFACTS = ROOT / "tests" / "artifacts"
PACKAGES = ["chromium", "fonts-noto-color-emoji"]
_INSTALL_TIMEOUT_S = 600
_WINDOW = (1100, 1500)

pytestmark = pytest.mark.browser


def _installed() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _apt_get(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=300", *args],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        text=True,
        timeout=_INSTALL_TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def chromium() -> str:
    found = _installed()
    if found:
        return found
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(
            "Chromium is not installed and only root can install it: apt-get install chromium"
        )
    answer = _apt_get("install", *PACKAGES)
    if answer.returncode != 0:  # a fresh machine has no package lists yet
        _apt_get("update")
        answer = _apt_get("install", *PACKAGES)
    found = _installed()
    if found is None:
        last = (answer.stderr or answer.stdout).strip().splitlines()[-1:]
        pytest.skip(f"Chromium could not be installed with apt-get: {' '.join(last)}")
    return found


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    """`scripts/demo.py --keep` (what `make demo-serve` runs): its conversation view's URL."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--keep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    with process.stdout:
        line = ""
        while not line.startswith("Conversation view at "):
            line = process.stdout.readline()
            assert line, "the demo ended before serving its view"
        try:
            yield line.split(" at ", 1)[1].split()[0]
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(20) == 0


def _browse(chromium: str, profile: Path, *args: str) -> str:
    answer = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr[-2000:]
    return answer.stdout


def test_the_demo_lead_reads_as_a_chat_in_a_browser(
    chromium: str, demo: str, tmp_path: Path
) -> None:
    with urllib.request.urlopen(demo, timeout=10) as answer:
        index = parse(answer.read().decode())
    leads = {a.text: a.attrs["href"] for a in index.find("table", "leads").find_all("a")}
    # Maria writes from California: her times read right in her zone.
    page = demo.rstrip("/") + leads["Acme Corp"] + "?tz=America/Los_Angeles"

    dom = parse(_browse(chromium, tmp_path / "profile", "--dump-dom", page))
    assert dom.find("h1").text == "Acme Corp"
    days = [d.text for d in dom.find_all("li", "day")]
    assert days == ["Monday, 4 March 2024", "Tuesday, 5 March 2024"]
    chat = dom.find_all("li", "msg")
    assert [m.classes - {"msg"} for m in chat] == [
        {"incoming"}, {"outgoing"}, {"incoming"}, {"outgoing"}, {"incoming"}, {"outgoing"},
    ]  # fmt: skip
    assert [m.find("time").text for m in chat] == [
        "09:15", "09:21", "09:48", "10:02", "11:00", "00:30",
    ]  # fmt: skip
    assert chat[0].find("strong").text == "Acme Corp"
    items = [li.text for li in chat[1].find("ul").find_all("li")]
    assert items == ["delivery address", "preferred payment terms", "any deadline?"]
    # Each reply quotes its parent and links to it.
    quote = chat[2].find("a", "quote")
    assert quote.find("b").text == "You"
    assert quote.attrs["href"] == "#" + chat[1].attrs["id"]
    assert chat[3].find("blockquote").text == "valid for 30 days"
    assert chat[3].find("s").text == "3,600"
    pdf = chat[3].find("div", "file")
    assert pdf.find("a").text == "Quote Q-2024-117.pdf"
    assert pdf.find("span", "caption").text == "application/pdf, 648 bytes"
    image = chat[4].find("img")
    assert image.attrs["alt"] == "storefront.png"
    with urllib.request.urlopen(demo.rstrip("/") + image.attrs["src"], timeout=10) as answer:
        assert answer.read() == (SAMPLES / "media" / "storefront.png").read_bytes()
    assert chat[5].find("code").text == "Friday"
    assert "wamid." not in " ".join(m.text for m in chat)
    assert dom.find_all("script") == []

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "demo-lead.png"
    shot.unlink(missing_ok=True)
    width, height = _WINDOW
    _browse(chromium, tmp_path / "profile", f"--window-size={width},{height}",
            f"--screenshot={shot}", page)  # fmt: skip
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(png[16:20]), int.from_bytes(png[20:24])) == _WINDOW
