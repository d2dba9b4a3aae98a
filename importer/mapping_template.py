"""`inspect --mapping-template`: every remote phone in the archives, ready to map to a lead."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from importer.close.api import CloseAPI
from importer.close.transport import Transport
from importer.contacts import LeadContact
from importer.plan import Planned

COLUMNS = ["phone", "lead_id", "contact_id", "display_name", "messages", "first", "last", "close"]


@dataclass(slots=True)
class PhoneRow:
    phone: str
    display_name: str = ""
    messages: int = 0
    first: datetime | None = None
    last: datetime | None = None
    lead_id: str = ""
    contact_id: str = ""
    close: str = ""  # what a lookup in Close found, when one was made


class PhoneTable:
    """One row per remote phone, filled as messages stream past."""

    def __init__(self, mapping: dict[str, LeadContact]):
        self._mapping = mapping
        self._rows: dict[str, PhoneRow] = {}

    def tap(self, messages: Iterable[Planned]) -> Iterator[Planned]:
        """Pass `messages` through, noting each on the way."""
        for p in messages:
            self._add(p)
            yield p

    def rows(self, names: Mapping[str, str] = MappingProxyType({})) -> list[PhoneRow]:
        """The rows by phone; `names` (an address book's) come before the messages' own."""
        for row in self._rows.values():
            row.display_name = names.get(row.phone) or row.display_name
        return sorted(self._rows.values(), key=lambda r: r.phone)

    def _add(self, p: Planned) -> None:
        row = self._rows.get(p.remote_phone)
        if row is None:
            row = self._rows[p.remote_phone] = PhoneRow(p.remote_phone)
            row.lead_id, row.contact_id = self._mapping.get(p.remote_phone, ("", ""))
        row.messages += 1
        moment = p.message.timestamp
        row.first = moment if row.first is None else min(row.first, moment)
        row.last = moment if row.last is None else max(row.last, moment)
        row.display_name = row.display_name or p.their_name or ""


async def look_up(rows: list[PhoneRow], base_url: str, api_key: str) -> None:
    """Fill in what Close knows of each phone not mapped yet (one search per phone)."""
    async with Transport(base_url, api_key, concurrency=4) as transport:
        api = CloseAPI(transport)
        for row in rows:
            if row.lead_id:
                continue
            contacts = await api.search_contacts_by_phone(row.phone)
            if len(contacts) == 1:
                row.lead_id, row.contact_id = contacts[0]["lead_id"], contacts[0]["id"]
                row.close = "found"
            elif contacts:
                ids = " ".join(f"{c['id']}@{c['lead_id']}" for c in contacts)
                row.close = f"{len(contacts)} contacts: {ids}"
            else:
                row.close = "not in Close"


def write(rows: list[PhoneRow], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(
                [
                    row.phone,
                    row.lead_id,
                    row.contact_id,
                    row.display_name,
                    row.messages,
                    row.first.isoformat() if row.first else "",
                    row.last.isoformat() if row.last else "",
                    row.close,
                ]
            )
