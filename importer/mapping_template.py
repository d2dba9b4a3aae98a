"""`inspect --mapping-template`: every remote party in the archives, ready to map to a lead.

A party is known by phone where the archive shows one, else by name (a text export's chat with
a saved contact shows only the name): such a row has the `name` filled in and the phone left for
the user, so that the filled-in template, passed as `--mapping`, says whose phone a name is.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from importer.close.api import CloseAPI
from importer.close.transport import Transport
from importer.contacts import LeadContact
from importer.model import Item, Message
from importer.phones import to_e164
from importer.plan import Planned, Planner, Window

COLUMNS = [
    "phone",
    "lead_id",
    "contact_id",
    "display_name",
    "messages",
    "first",
    "last",
    "close",
    "name",
    "files",
]


@dataclass(slots=True)
class PhoneRow:
    phone: str  # E.164; "" for a party known only by `name`
    display_name: str = ""
    messages: int = 0
    first: datetime | None = None
    last: datetime | None = None
    lead_id: str = ""
    contact_id: str = ""
    close: str = ""  # what a lookup in Close found, when one was made
    name: str = ""  # a text export's name for a party whose phone it does not show
    files: list[str] = field(default_factory=list)


class PhoneTable:
    """One row per remote party, filled as messages stream past."""

    def __init__(self, mapping: dict[str, LeadContact], default_region: str | None = None):
        self._mapping = mapping
        self._region = default_region
        self._rows: dict[str, PhoneRow] = {}

    def tap(self, items: Iterable[Item], planner: Planner, window: Window) -> Iterator[Planned]:
        """Plan `items` with `planner`, noting every message's remote party on the way.

        A planned message is noted by its phone. One the plan refuses (no local phone given yet,
        a party known only by name) is noted by what the archive says of it: the template is
        what tells the user those phones.
        """
        waiting: list[Message] = []

        def watched() -> Iterator[Item]:
            for item in items:
                self._note_refused(waiting)
                # An id seen before is a repeat, and a message outside the window is left out.
                fresh = isinstance(item, Message) and item.external_id not in planner.ids
                if fresh and isinstance(item, Message) and item.timestamp in window:
                    waiting.append(item)
                yield item
            self._note_refused(waiting)

        for p in planner.messages(watched()):
            waiting.clear()
            name = p.their_name or p.message.chat or ""
            self._add(p.remote_phone, "", name, p.message)
            yield p

    def rows(self, names: Mapping[str, str] = MappingProxyType({})) -> list[PhoneRow]:
        """By phone, then those known by name; `names` (phone to a name someone keeps, such as
        an address book) come before the messages' own."""
        for row in self._rows.values():
            row.display_name = names.get(row.phone) or row.display_name
        return sorted(self._rows.values(), key=lambda r: (not r.phone, r.phone, r.name.casefold()))

    def _note_refused(self, waiting: list[Message]) -> None:
        for m in waiting:
            phone = to_e164(m.remote_phone, self._region) if m.remote_phone else None
            incoming = m.direction == "incoming"
            name = m.chat or (m.sender_name if incoming else None) or ""
            if phone is not None:
                self._add(phone, "", name, m)
            elif name:
                self._add("", name, name, m)
        waiting.clear()

    def _add(self, phone: str, name: str, display_name: str, m: Message) -> None:
        key = phone or "name:" + name.casefold()
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = PhoneRow(phone, name=name)
            row.lead_id, row.contact_id = self._mapping.get(phone, ("", ""))
        row.messages += 1
        row.first = m.timestamp if row.first is None else min(row.first, m.timestamp)
        row.last = m.timestamp if row.last is None else max(row.last, m.timestamp)
        row.display_name = row.display_name or display_name
        file = m.source.split(".zip:", 1)[0] + ".zip" if ".zip:" in m.source else m.source
        if file not in row.files:
            row.files.append(file)


async def look_up(rows: list[PhoneRow], base_url: str, api_key: str) -> None:
    """Fill in what Close knows of each party not mapped yet (one search each): by phone, or
    for a party known only by name, the contacts of that name. Of several, none is chosen."""
    async with Transport(base_url, api_key, concurrency=4) as transport:
        api = CloseAPI(transport)
        for row in rows:
            if row.lead_id:
                continue
            if row.phone:
                contacts = await api.search_contacts_by_phone(row.phone)
            else:
                contacts = await api.search_contacts_by_name(row.name)
            if len(contacts) == 1:
                row.lead_id, row.contact_id = contacts[0]["lead_id"], contacts[0]["id"]
                row.phone = row.phone or _only_phone(contacts[0])
                row.close = "found" if row.phone else "found by name; the contact has no phone"
            elif contacts:
                ids = " ".join(f"{c['id']}@{c['lead_id']}" for c in contacts)
                row.close = f"{len(contacts)} contacts: {ids}"
            else:
                row.close = "not in Close"


def _only_phone(contact: dict[str, Any]) -> str:
    """The contact's phone in E.164 when it has exactly one, else "" (for the user to choose)."""
    raw = (str(p.get("phone", "")) for p in contact.get("phones") or [] if isinstance(p, dict))
    found = {phone for phone in map(to_e164, raw) if phone}
    return next(iter(found)) if len(found) == 1 else ""


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
                    row.name,
                    " ".join(row.files),
                ]
            )
