"""The emulator's settings: seed data, faults and the Close limits it enforces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes one emulator instance; the defaults behave like a healthy Close."""

    # Seed leads and contacts, parsed `--data` (`{"leads": [...]}`); None generates a few.
    data: Mapping[str, Any] | None = None
    latency_ms: float = 0.0
    # Requests per second per endpoint group per key (fixed 1 s windows); None is unlimited.
    rate_limit: int | None = None
    # Per-group overrides of rate_limit, e.g. {"search": 2}: Close's search limit is far lower.
    group_rate_limits: Mapping[str, int] = field(default_factory=dict)
    fail_rate: float = 0.0
    drop_rate: float = 0.0
    # A 2xx answer whose body is not the documented shape (no `data`, no `id`), after the
    # request was handled: a proxy or a Close bug a client must not read as "nothing".
    malformed_rate: float = 0.0
    # None draws ids and faults from the OS; an int makes both reproducible.
    seed: int | None = None
    # None accepts any non-empty key, as a stand-in for an account whose key is unknown here.
    api_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    # S3 presigned POST policies expire; Close gives 60 s between /files/upload/ and the upload.
    upload_window_s: float = 60.0
    # A download url is accepted in attachments for this long after /files/upload/.
    download_valid_s: float = 24 * 3600.0
    # A guard for a test server that keeps files in memory, not a Close limit.
    max_file_bytes: int = 200 * 1024 * 1024
    # The IANA zone the conversation view shows times in (a page's `?tz=` overrides it); None
    # is this machine's zone.
    view_timezone: str | None = None

    def __post_init__(self) -> None:
        for name in ("fail_rate", "drop_rate", "malformed_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must not be negative, not {self.latency_ms}")
        limits = [self.rate_limit, *self.group_rate_limits.values()]
        if any(limit is not None and limit < 1 for limit in limits):
            raise ValueError("rate limits must be at least 1 request per second")
        if self.api_key == "":
            raise ValueError("api_key must not be empty (use None to accept any key)")
        if self.view_timezone is not None:
            try:
                ZoneInfo(self.view_timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {self.view_timezone!r}") from None

    def limit_for(self, group: str) -> int | None:
        """The requests per window allowed for one endpoint group, or None for no limit."""
        return self.group_rate_limits.get(group, self.rate_limit)
