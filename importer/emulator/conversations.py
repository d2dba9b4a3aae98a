"""What the conversation view shows: each lead's WhatsApp messages in order, paged, in a zone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from markupsafe import Markup

from importer.emulator import phones
from importer.emulator.state import DOWNLOAD_PREFIX, Contact, EmulatorState, Lead

PAGE_SIZE = 200
_QUOTE_CHARS = 140


@dataclass(frozen=True)
class LeadSummary:
    """One row of the index."""

    lead: Lead
    contacts: list[tuple[str, str]]  # (name, phones formatted)
    messages: int = 0
    first: datetime | None = None
    last: datetime | None = None
    attachments: int = 0
    orphans: int = 0  # replies whose parent is no longer in Close


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    href: str
    kind: str  # "image", "audio", "video" or "file": how the page shows it

    @property
    def size_text(self) -> str:
        if self.size < 1000:
            return f"{self.size} bytes"
        if self.size < 1000_000:
            return f"{self.size / 1000:.1f} KB"
        return f"{self.size / 1000_000:.1f} MB"


@dataclass(frozen=True)
class Quote:
    """The parent a reply shows above its text; `page` is None when it is on another lead."""

    id: str
    lead_id: str
    page: int | None
    sender: str
    text: str


@dataclass(frozen=True)
class Bubble:
    id: str
    direction: str
    sender: str
    at: datetime  # in the page's zone
    day: str | None  # the day's heading, where this message is the first of its day on the page
    html: Markup
    attachments: list[Attachment]
    quote: Quote | None
    orphan: bool  # a reply whose parent is no longer in Close
    external_id: str


@dataclass(frozen=True)
class Page:
    lead: Lead
    contacts: list[tuple[str, str]]
    number: int  # 1 holds the oldest messages
    pages: int
    total: int
    bubbles: list[Bubble]


def summaries(state: EmulatorState, zone: tzinfo) -> list[LeadSummary]:
    """Every lead, those with messages first (by name), each with its counts and time span."""
    tallies: dict[str, _Tally] = {}
    for activity in state.activities.values():
        tallies.setdefault(activity["lead_id"], _Tally()).add(state, activity)
    result = []
    for lead in state.leads.values():
        tally = tallies.get(lead.id)
        contacts = _contacts(state, lead)
        if tally is None:
            result.append(LeadSummary(lead, contacts))
            continue
        first, last = (_local(at, zone) for at in (tally.first, tally.last))
        result.append(
            LeadSummary(
                lead, contacts, tally.messages, first, last, tally.attachments, tally.orphans
            )
        )
    result.sort(key=lambda s: (s.messages == 0, s.lead.name.casefold(), s.lead.id))
    return result


@dataclass
class _Tally:
    messages: int = 0
    first: str = ""
    last: str = ""
    attachments: int = 0
    orphans: int = 0

    def add(self, state: EmulatorState, activity: dict[str, Any]) -> None:
        at = activity["activity_at"]
        self.first = min(self.first, at) if self.messages else at
        self.last = max(self.last, at)
        self.messages += 1
        self.attachments += len(activity["attachments"])
        parent = activity["response_to_id"]
        self.orphans += parent is not None and parent not in state.activities


def thread(state: EmulatorState, lead_id: str) -> list[dict[str, Any]]:
    """The lead's activities, oldest first."""
    # activity_at is always timestamps.render()'s UTC isoformat, so its text sorts in time order.
    return sorted(
        (a for a in state.activities.values() if a["lead_id"] == lead_id),
        key=lambda a: (a["activity_at"], a["id"]),
    )


def page_of(position: int) -> int:
    """The page that holds the message at `position` (0-based) in its thread."""
    return position // PAGE_SIZE + 1


def page_count(messages: int) -> int:
    """How many pages a thread of `messages` fills; an empty one still has its page."""
    return page_of(messages - 1) if messages else 1


def page(
    state: EmulatorState, lead: Lead, messages: list[dict[str, Any]], number: int, zone: tzinfo
) -> Page:
    """Page `number` of a thread (from `thread`); the caller checks that it exists."""
    pages = page_count(len(messages))
    shown = messages[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    # Where each message of the thread is, to link a quote to its parent's page.
    replies = any(a["response_to_id"] for a in shown)
    positions = {a["id"]: i for i, a in enumerate(messages)} if replies else {}
    bubbles: list[Bubble] = []
    day = ""
    for activity in shown:
        parent = state.activities.get(activity["response_to_id"] or "")
        at_local = _local(activity["activity_at"], zone)
        heading = f"{at_local:%A}, {at_local.day} {at_local:%B %Y}"
        bubbles.append(
            Bubble(
                id=activity["id"],
                direction=activity["direction"],
                sender=_sender(state, activity),
                at=at_local,
                day=heading if heading != day else None,
                # message_html escapes the message before it adds its own tags: safe as is.
                html=Markup(activity["message_html"]),
                attachments=[_attachment(a) for a in activity["attachments"]],
                quote=None if parent is None else _quote(state, parent, positions),
                orphan=parent is None and activity["response_to_id"] is not None,
                external_id=activity["external_whatsapp_message_id"],
            )
        )
        day = heading
    return Page(lead, _contacts(state, lead), number, pages, len(messages), bubbles)


def _quote(state: EmulatorState, parent: dict[str, Any], positions: dict[str, int]) -> Quote:
    at = positions.get(parent["id"])
    return Quote(
        parent["id"],
        parent["lead_id"],
        None if at is None else page_of(at),
        _sender(state, parent),
        _shorten(parent["text"]) or _attachment_names(parent),
    )


def _contacts(state: EmulatorState, lead: Lead) -> list[tuple[str, str]]:
    found: Iterable[Contact] = (state.contacts[c] for c in lead.contact_ids)
    return [(c.name, ", ".join(phones.formatted(p.phone) for p in c.phones)) for c in found]


def _local(activity_at: str, zone: tzinfo) -> datetime:
    return datetime.fromisoformat(activity_at).astimezone(zone)


def _sender(state: EmulatorState, activity: dict[str, Any]) -> str:
    if activity["direction"] == "outgoing":
        return "You"
    contact = state.contacts.get(activity["contact_id"])
    return contact.name if contact is not None and contact.name else activity["remote_phone"]


def _shorten(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _QUOTE_CHARS else flat[: _QUOTE_CHARS - 1] + "…"


def _attachment_names(activity: dict[str, Any]) -> str:
    return ", ".join("📎 " + a["filename"] for a in activity["attachments"])


def _attachment(raw: dict[str, Any]) -> Attachment:
    kind = raw["content_type"].partition("/")[0]
    return Attachment(
        raw["filename"],
        raw["content_type"],
        raw["size"],
        "/go/file/" + raw["url"].removeprefix(DOWNLOAD_PREFIX),
        kind if kind in ("image", "audio", "video") else "file",
    )
