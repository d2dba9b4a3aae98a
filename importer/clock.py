"""Times the user gives on the command line: the zone of text exports and the import window."""

from __future__ import annotations

import contextlib
import os
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from importer.errors import UsageError
from importer.plan import Window


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone `name`, or this machine's when None."""
    if name is None:
        return machine_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--timezone: unknown zone {name!r} (e.g. Europe/Berlin)") from None


def machine_zone() -> ZoneInfo:
    """`TZ`, else the zone /etc/localtime links to, else UTC (containers often have neither)."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError, IndexError):
        candidates.append(Path("/etc/localtime").resolve().as_posix().split("zoneinfo/", 1)[1])
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def window(since: str | None, until: str | None, in_zone: ZoneInfo) -> Window:
    """`--since` from its first instant; `--until` a date through its last, a time exclusive."""
    return Window(
        since=_moment(since, in_zone, "--since", end_of_day=False),
        until=_moment(until, in_zone, "--until", end_of_day=True),
    )


def _moment(raw: str | None, in_zone: ZoneInfo, flag: str, *, end_of_day: bool) -> datetime | None:
    if raw is None:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            if end_of_day:
                day += timedelta(days=1)
            return datetime.combine(day, time(), in_zone)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"{flag}: not an ISO 8601 date or time: {raw!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=in_zone)
