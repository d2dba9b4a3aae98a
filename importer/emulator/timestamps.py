"""RFC 3339 date-times: the one form Close's `date-time` fields and filters surely take."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Strict on purpose: a time without an offset is ambiguous, and Close may read it as UTC or refuse.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})",
)


def parse(value: object) -> datetime | None:
    """The instant a `2024-05-01T10:00:00+02:00` string names, or None for anything else."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def render(moment: datetime) -> str:
    """The form Close answers with: UTC, `+00:00`."""
    return moment.astimezone(UTC).isoformat()


def now() -> datetime:
    return datetime.now(UTC)
