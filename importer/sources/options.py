"""What readers need to know that the archives do not say: the user's reading options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from importer.model import Problem

DateOrder = Literal["dmy", "mdy", "ymd"]

# Close refuses more than this many attachment bytes on one WhatsApp message.
MAX_MESSAGE_ATTACHMENT_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Reading options; every field has the default a user gets without flags."""

    me: tuple[str, ...] = ()  # text exports: sender names that are the account itself
    local_phone: str | None = None
    remote_phone: str | None = None
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    date_order: DateOrder | None = None  # None: decide per file
    default_region: str | None = None
    # Text exports: sender names as written -> E.164 (the mapping's `name` column).
    sender_phones: Mapping[str, str] = field(default_factory=dict)
    # Rows of --mapping that could not be used: reported with the sources' own problems.
    mapping_problems: tuple[Problem, ...] = ()
