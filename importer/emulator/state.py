"""The emulator's memory: leads, contacts, activities, files and the counters tests read."""

from __future__ import annotations

import random
import string
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from importer.emulator import phones, timestamps
from importer.emulator.config import EmulatorConfig

DOWNLOAD_PREFIX = "https://app.close.com/go/file/"
_ID_ALPHABET = string.ascii_letters + string.digits
_PHONE_TYPES = {"office", "mobile", "home", "direct", "fax", "url", "other"}


class SeedError(ValueError):
    """The seed data (`--data`) does not have the documented shape."""


@dataclass
class Phone:
    phone: str  # E.164
    type: str = "mobile"

    def to_json(self) -> dict[str, str]:
        return {
            "phone": self.phone,
            "phone_formatted": phones.formatted(self.phone),
            "type": self.type,
        }


@dataclass
class Contact:
    id: str
    lead_id: str
    name: str
    phones: list[Phone]
    date_created: str


@dataclass
class Lead:
    id: str
    name: str
    contact_ids: list[str]
    date_created: str


@dataclass
class Upload:
    """One `/files/upload/` slot: its presigned fields, and the bytes once storage received them."""

    token: str
    filename: str
    content_type: str
    fields: dict[str, str]
    issued_at: float  # time.monotonic()
    data: bytes | None = None

    @property
    def download_url(self) -> str:
        return DOWNLOAD_PREFIX + self.token


@dataclass
class EmulatorState:
    """All data of one emulator; handlers mutate it only between awaits, so it needs no lock."""

    config: EmulatorConfig
    leads: dict[str, Lead] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    activities: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # user id -> name
    counters: Counter[str] = field(default_factory=Counter)
    organization_id: str = ""
    _key_users: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything and seed again, as a fresh emulator with the same config would."""
        for table in (self.leads, self.contacts, self.activities, self.uploads, self.users):
            table.clear()
        self._key_users.clear()
        self.counters.clear()
        seed = self.config.seed
        # Separate streams, so that turning faults on does not change the ids a test expects.
        self.id_rng = random.Random(None if seed is None else f"ids-{seed}")
        self.fault_rng = random.Random(None if seed is None else f"faults-{seed}")
        self.organization_id = self.new_id("orga_")
        self.load(self.config.data)

    def new_id(self, prefix: str) -> str:
        return prefix + "".join(self.id_rng.choices(_ID_ALPHABET, k=43))

    def user_for_key(self, key: str) -> str:
        """The Close user an API key belongs to; each distinct key is a user of its own."""
        if key not in self._key_users:
            user_id = self.new_id("user_")
            self._key_users[key] = user_id
            self.users[user_id] = f"Emulator User {len(self._key_users)}"
        return self._key_users[key]

    def count_request(self, method: str, route: str) -> None:
        self.counters[f"{method} {route}"] += 1

    def requests(self, method: str, route: str) -> int:
        """How many `method` requests the route named `route` received (see server.py for names)."""
        return self.counters[f"{method} {route}"]

    def file_bytes(self, download_url: str) -> bytes:
        """The bytes stored for a download url; KeyError if the upload never completed."""
        upload = self.uploads.get(download_url.removeprefix(DOWNLOAD_PREFIX))
        if upload is None or upload.data is None or not download_url.startswith(DOWNLOAD_PREFIX):
            raise KeyError(download_url)
        return upload.data

    def upload_for(self, download_url: str) -> Upload | None:
        """The completed, still valid upload a download url names."""
        if not download_url.startswith(DOWNLOAD_PREFIX):
            return None
        upload = self.uploads.get(download_url.removeprefix(DOWNLOAD_PREFIX))
        if upload is None or upload.data is None:
            return None
        if time.monotonic() - upload.issued_at > self.config.download_valid_s:
            return None
        return upload

    def add_lead(
        self, name: str, contacts: list[tuple[str, list[Phone]]], lead_id: str = ""
    ) -> Lead:
        created = timestamps.render(timestamps.now())
        lead = Lead(lead_id or self.new_id("lead_"), name, [], created)
        if lead.id in self.leads:
            raise SeedError(f"lead id {lead.id} is used twice")
        self.leads[lead.id] = lead
        for contact_name, contact_phones in contacts:
            self.add_contact(lead, contact_name, contact_phones)
        return lead

    def add_contact(
        self, lead: Lead, name: str, contact_phones: list[Phone], contact_id: str = ""
    ) -> Contact:
        contact = Contact(
            contact_id or self.new_id("cont_"),
            lead.id,
            name,
            contact_phones,
            timestamps.render(timestamps.now()),
        )
        if contact.id in self.contacts:
            raise SeedError(f"contact id {contact.id} is used twice")
        self.contacts[contact.id] = contact
        lead.contact_ids.append(contact.id)
        return contact

    def load(self, data: Mapping[str, Any] | None) -> None:
        """Seed leads and contacts from `{"leads": [...]}`, or generate a few when data is None."""
        if data is None:
            self._generate()
            return
        if not isinstance(data, Mapping) or not isinstance(data.get("leads"), list):
            raise SeedError('seed data must be an object with a "leads" list')
        for number, raw_lead in enumerate(data["leads"], 1):
            where = f"leads[{number - 1}]"
            if not isinstance(raw_lead, Mapping) or not isinstance(raw_lead.get("name"), str):
                raise SeedError(f'{where} must be an object with a "name" string')
            lead = self.add_lead(raw_lead["name"], [], _optional_id(raw_lead, "lead_", where))
            raw_contacts = raw_lead.get("contacts", [])
            if not isinstance(raw_contacts, list):
                raise SeedError(f"{where}.contacts must be a list")
            for index, raw in enumerate(raw_contacts):
                at = f"{where}.contacts[{index}]"
                if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
                    raise SeedError(f'{at} must be an object with a "name" string')
                found = [_seed_phone(p, f"{at}.phones") for p in _list(raw.get("phones", []), at)]
                self.add_contact(lead, raw["name"], found, _optional_id(raw, "cont_", at))

    def _generate(self) -> None:
        names = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov"]
        for index, name in enumerate(names[:3]):
            phone = f"+1650555{self.id_rng.randrange(10000):04d}"
            second = f"+4930{self.id_rng.randrange(10**7):07d}"
            contacts = [(name, [Phone(phone)])]
            if index == 0:
                contacts.append((names[3 + index], [Phone(second)]))
            self.add_lead(f"{name.split()[1]} Ltd", contacts)

    def snapshot(self) -> dict[str, Any]:
        """Everything a test in another process may want to check, as JSON."""
        return {
            "counters": dict(self.counters),
            "organization_id": self.organization_id,
            "users": dict(self.users),
            "leads": [
                {
                    "id": lead.id,
                    "name": lead.name,
                    "contacts": [contact_json(self.contacts[c]) for c in lead.contact_ids],
                }
                for lead in self.leads.values()
            ],
            "activities": self.activities,
            "files": {
                u.download_url: {"filename": u.filename, "size": len(u.data)}
                for u in self.uploads.values()
                if u.data is not None
            },
        }


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "lead_id": contact.lead_id,
        "name": contact.name,
        "display_name": contact.name,
        "title": "",
        "phones": [p.to_json() for p in contact.phones],
        "emails": [],
        "urls": [],
        "date_created": contact.date_created,
        "date_updated": contact.date_created,
    }


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise SeedError(f"{where}.phones must be a list")
    return value


def _optional_id(raw: Mapping[str, Any], prefix: str, where: str) -> str:
    value = raw.get("id", "")
    if not isinstance(value, str) or (value and not value.startswith(prefix)):
        raise SeedError(f'{where}.id must be a string starting with "{prefix}"')
    return value


def _seed_phone(raw: object, where: str) -> Phone:
    """A seed phone: a string in any notation, or `{"phone": ..., "type"?: ...}`."""
    kind = "mobile"
    if isinstance(raw, Mapping):
        kind = raw.get("type", "mobile")
        raw = raw.get("phone")
        if kind not in _PHONE_TYPES:
            raise SeedError(f"{where}: unknown phone type {kind!r}")
    e164 = to_e164_or_none(raw)
    if e164 is None:
        raise SeedError(f"{where}: {raw!r} is not a phone number")
    return Phone(e164, kind)


def to_e164_or_none(raw: object) -> str | None:
    return phones.to_e164(raw) if isinstance(raw, str) else None


PHONE_TYPES = frozenset(_PHONE_TYPES)
