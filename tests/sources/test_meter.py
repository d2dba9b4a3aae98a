"""The sources' bytes, counted as they are read: what the progress bar's ETA rests on."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from importer.sources import read_sources
from importer.sources.meter import ReadMeter
from importer.sources.options import ReadOptions
from tests.conftest import LOCAL_PHONE, SAMPLES

CHAT = "".join(f"12/07/2024, 10:{n:02d} - Jake: message {n}\n" for n in range(30)).encode()


def test_every_byte_the_readers_read_is_counted_against_the_total(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(SAMPLES, folder)
    with zipfile.ZipFile(folder / "jake.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("WhatsApp Chat with Jake.txt", CHAT)
        archive.writestr("photo.jpg", b"\xff\xd8" * 5000)  # an attachment: not the meter's
    jsonl = sum(p.stat().st_size for p in SAMPLES.glob("*.jsonl"))

    meter = ReadMeter([folder])
    assert meter.total == jsonl + len(CHAT)

    options = ReadOptions(local_phone=LOCAL_PHONE, remote_phone="+12025550142")
    items = read_sources([folder], options, meter)
    next(items)
    assert 0 < meter.read < meter.total  # it streams: counted as it goes
    list(items)
    assert meter.read == meter.total


def test_a_source_that_cannot_be_read_counts_for_nothing(tmp_path: Path) -> None:
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    assert ReadMeter([tmp_path / "broken.zip", tmp_path / "gone.jsonl"]).total == 0
