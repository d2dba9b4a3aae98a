"""Whose lead and contact a remote phone is.

In this order: ids on the message itself; the `--mapping` CSV; `--lead-id/--contact-id`; a
lookup in Close by phone, done at most once per phone per run and remembered in the checkpoint.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from importer.close.once import create_once
from importer.close.retry import Attempts, RetryPolicy
from importer.errors import Unresolved, UsageError
from importer.model import Problem
from importer.phones import to_e164
from importer.single_flight import SingleFlight

LeadContact = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Defaults:
    lead_id: str | None = None
    contact_id: str | None = None


@dataclass(frozen=True, slots=True)
class Mapping:
    """A `--mapping` CSV: whose lead and contact each phone is, and whose phone each name is."""

    contacts: dict[str, LeadContact] = field(default_factory=dict)  # E.164 -> (lead, contact)
    # Sender name as a text export writes it -> E.164, from an optional `name` (or the
    # template's `display_name`) column: lets a chat with a named sender, or a group of
    # them, find its phones.
    phones: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)  # rows that say nothing usable


def load_mapping(path: Path, default_region: str | None) -> Mapping:
    """Read `phone,lead_id,contact_id[,name]` rows; a bad row is a problem naming its line, the
    others still work. A file that cannot be read as such a table is a usage error."""
    mapping = Mapping()
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"phone", "lead_id", "contact_id"} - set(reader.fieldnames or ())
            if missing:
                raise UsageError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            for row in reader:
                reason = _add_row(mapping, row, default_region)
                if reason is not None:
                    mapping.problems.append(Problem(str(path), reader.line_num, reason))
    except OSError as exc:
        raise UsageError(f"cannot read mapping {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read mapping {path}: {exc}") from exc
    return mapping


def _add_row(mapping: Mapping, row: dict[str, str], region: str | None) -> str | None:
    """Add one row; why it cannot be used, if so (the rest of the file still counts)."""
    raw, lead, contact = ((row.get(k) or "").strip() for k in ("phone", "lead_id", "contact_id"))
    name = (row.get("name") or row.get("display_name") or "").strip()
    if not lead and not contact and (not name or not raw):
        return None  # a template row the user has not filled in (yet)
    phone = to_e164(raw, region)
    if phone is None:
        return f"mapping row not used: not a phone number: {raw!r}"
    if name:
        mapping.phones[name] = phone
    if lead or contact:
        if not lead.startswith("lead_") or not contact.startswith("cont_"):
            return f"mapping row not used for Close: need a lead_... and a cont_... id for {raw}"
        mapping.contacts[phone] = (lead, contact)
    return None


class Directory(Protocol):
    """Where phones are looked up and, with --create-missing, leads created (CloseAPI)."""

    async def search_contacts_by_phone(self, phone: str) -> list[dict[str, Any]]: ...

    async def create_lead(self, name: str, contact_name: str, phone: str) -> LeadContact: ...


class ContactJournal(Protocol):
    """Where resolutions are remembered across runs (the checkpoint)."""

    def remember_contact(self, phone: str, found: LeadContact) -> None: ...

    async def intend_lead(self, phone: str) -> None: ...

    def lead_intended(self, phone: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class LookupOptions:
    pick_first: bool = False
    create_missing: bool = False
    # Lead creations: their attempts, and the pause before a second look.
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class ContactResolver:
    """Resolves phones; concurrent callers for one phone share a single lookup."""

    def __init__(
        self,
        mapping: dict[str, LeadContact],
        defaults: Defaults,
        known: dict[str, LeadContact],
        directory: Directory | None = None,
        journal: ContactJournal | None = None,
        *,
        options: LookupOptions = LookupOptions(),
        name_of: Callable[[str], str | None] = lambda _: None,
    ):
        self._mapping = mapping
        self._defaults = defaults
        self._known = known
        self._directory = directory
        self._journal = journal
        self._options = options
        self._name_of = name_of  # the remote party's name, for a lead --create-missing makes
        self._lookups: SingleFlight[str, LeadContact] = SingleFlight()

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
        if self._directory is None:
            raise Unresolved(f"no lead for {phone}: add it to --mapping or pass --lead-id")
        return await self._lookups.run(phone, lambda: self._lookup(phone))

    def cancel(self) -> None:
        """End the lookups still running (the run is stopping)."""
        self._lookups.cancel()

    async def _lookup(self, phone: str) -> LeadContact:
        assert self._directory is not None
        contacts = await self._directory.search_contacts_by_phone(phone)
        if not contacts and self._options.create_missing:
            found = await self._create(phone)
        elif not contacts:
            raise Unresolved(
                f"no Close contact has phone {phone}: add it to --mapping, pass --lead-id, "
                "or let --create-missing create it"
            )
        elif len(contacts) > 1 and not self._options.pick_first:
            names = ", ".join(f"{c['id']} (lead {c['lead_id']})" for c in contacts)
            raise Unresolved(
                f"{phone} matches {len(contacts)} contacts: {names}; "
                "choose one in --mapping or pass --pick first"
            )
        else:
            found = (str(contacts[0]["lead_id"]), str(contacts[0]["id"]))
        if self._journal is not None:
            self._journal.remember_contact(phone, found)
        return found

    async def _create(self, phone: str) -> LeadContact:
        """Create the lead once: a lost answer is settled by searching, never by guessing."""
        directory = self._directory
        assert directory is not None
        second_look_s = self._options.retry.second_look_s

        async def look_up() -> LeadContact | None:
            contacts = await directory.search_contacts_by_phone(phone)
            return (str(contacts[0]["lead_id"]), str(contacts[0]["id"])) if contacts else None

        if self._journal is not None:
            if self._journal.lead_intended(phone):
                # An earlier run asked for this lead and died before hearing back; a search
                # index may lag behind the write, so look once more before creating.
                await asyncio.sleep(second_look_s)
                found = await look_up()
                if found is not None:
                    return found
            await self._journal.intend_lead(phone)
        name = self._name_of(phone) or phone
        created, _ = await create_once(
            lambda: directory.create_lead(name, name, phone),
            look_up,
            Attempts(self._options.retry),
            second_look_s,
        )
        return created
