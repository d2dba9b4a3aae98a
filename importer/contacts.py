"""Whose lead and contact a remote phone is.

In this order: ids on the message itself; the `--mapping` CSV; `--lead-id/--contact-id`; a
lookup in Close by phone, done at most once per phone per run and remembered in the checkpoint.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from importer.errors import UsageError
from importer.phones import to_e164

LeadContact = tuple[str, str]


class Unresolved(Exception):
    """The phone has no single lead and contact; the reason says what the user can do."""


@dataclass(frozen=True, slots=True)
class Defaults:
    lead_id: str | None = None
    contact_id: str | None = None


def load_mapping(path: Path, default_region: str | None) -> dict[str, LeadContact]:
    """Read `phone,lead_id,contact_id` rows; a bad row is a usage error naming its line."""
    mapping: dict[str, LeadContact] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"phone", "lead_id", "contact_id"} - set(reader.fieldnames or ())
            if missing:
                raise UsageError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            for row in reader:
                line = reader.line_num
                raw, lead, contact = (
                    (row.get(k) or "").strip() for k in ("phone", "lead_id", "contact_id")
                )
                if not raw and not lead and not contact:
                    continue
                phone = to_e164(raw, default_region)
                if phone is None:
                    raise UsageError(f"{path} line {line}: not a phone number: {raw!r}")
                if not lead.startswith("lead_") or not contact.startswith("cont_"):
                    raise UsageError(
                        f"{path} line {line}: need a lead_... and a cont_... id for {raw}"
                    )
                mapping[phone] = (lead, contact)
    except OSError as exc:
        raise UsageError(f"cannot read mapping {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read mapping {path}: {exc}") from exc
    return mapping


Search = Callable[[str], Awaitable[list[dict[str, Any]]]]
Remember = Callable[[str, LeadContact], Awaitable[None]]


class ContactResolver:
    """Resolves phones; concurrent callers for one phone share a single lookup."""

    def __init__(
        self,
        mapping: dict[str, LeadContact],
        defaults: Defaults,
        known: dict[str, LeadContact],
        search: Search | None,
        remember: Remember | None,
        *,
        pick_first: bool = False,
    ):
        self._mapping = mapping
        self._defaults = defaults
        self._known = known
        self._search = search
        self._remember = remember
        self._pick_first = pick_first
        self._lookups: dict[str, asyncio.Task[LeadContact]] = {}
        self.lookups_made = 0

    def resolve_offline(
        self, phone: str, lead: str | None, contact: str | None
    ) -> LeadContact | None:
        """What can be known without asking Close."""
        if lead and contact:
            return lead, contact
        if phone in self._mapping:
            return self._mapping[phone]
        if self._defaults.lead_id and self._defaults.contact_id:
            return self._defaults.lead_id, self._defaults.contact_id
        return self._known.get(phone)

    async def resolve(self, phone: str, lead: str | None, contact: str | None) -> LeadContact:
        found = self.resolve_offline(phone, lead, contact)
        if found is not None:
            return found
        if self._search is None:
            raise Unresolved(f"no lead for {phone}: add it to --mapping or pass --lead-id")
        task = self._lookups.get(phone)
        if task is None:
            task = self._lookups[phone] = asyncio.create_task(self._lookup(phone))
        return await asyncio.shield(task)

    async def _lookup(self, phone: str) -> LeadContact:
        assert self._search is not None
        self.lookups_made += 1
        contacts = await self._search(phone)
        if not contacts:
            raise Unresolved(
                f"no Close contact has phone {phone}: add it to --mapping or pass --lead-id"
            )
        if len(contacts) > 1 and not self._pick_first:
            names = ", ".join(f"{c['id']} (lead {c['lead_id']})" for c in contacts)
            raise Unresolved(
                f"{phone} matches {len(contacts)} contacts: {names}; "
                "choose one in --mapping or pass --pick first"
            )
        found = (str(contacts[0]["lead_id"]), str(contacts[0]["id"]))
        if self._remember is not None:
            await self._remember(phone, found)
        return found
