"""The import window and the zone of text exports, as the user writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from importer import clock
from importer.cli import main
from importer.errors import UsageError
from tests.conftest import LOCAL_PHONE, SAMPLES


def test_a_date_until_runs_through_that_day_in_the_zone_given() -> None:
    window = clock.window("2024-03-04", "2024-03-04", ZoneInfo("America/Los_Angeles"))
    assert datetime(2024, 3, 4, 8, 0, tzinfo=UTC) in window  # 00:00 in Los Angeles
    assert datetime(2024, 3, 5, 7, 59, tzinfo=UTC) in window  # 23:59 there
    assert datetime(2024, 3, 5, 8, 0, tzinfo=UTC) not in window
    assert datetime(2024, 3, 4, 7, 59, tzinfo=UTC) not in window


def test_times_with_and_without_offsets() -> None:
    window = clock.window("2024-03-04T10:00:00+01:00", "2024-03-04T12:00", ZoneInfo("UTC"))
    assert datetime(2024, 3, 4, 9, 0, tzinfo=UTC) in window
    assert datetime(2024, 3, 4, 12, 0, tzinfo=UTC) not in window


@pytest.mark.parametrize("raw", ["yesterday", "2024-13-01", "04/03/2024"])
def test_a_window_that_is_not_iso_8601_is_a_usage_error(raw: str) -> None:
    with pytest.raises(UsageError, match="ISO 8601"):
        clock.window(raw, None, ZoneInfo("UTC"))


def test_the_machine_zone_follows_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    assert clock.zone(None) == ZoneInfo("Asia/Tokyo")


def test_since_and_until_select_what_is_imported(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    args = ["run", str(SAMPLES), "--dry-run", "--local-phone", LOCAL_PHONE, "--timezone", "UTC"]
    args += ["--checkpoint", str(tmp_path / "c.ckpt"), "--report", str(report)]

    assert main([*args, "--since", "2024-03-04", "--until", "2024-03-04"]) == 0

    summary = orjson.loads(report.read_bytes())
    assert summary["created"] == 5  # Maria's first day; her 6th message and Jonas's are outside
    assert summary["skipped_by_kind"] == {"outside window": 5}
