"""WhatsApp Cloud API webhook envelopes, one per JSONL line, read as the messages they carry.

Webhooks are delivered at least once, so the same message id may come on several lines or in
several files: every message read here is marked `wamid` (the id is WhatsApp's own) and the
planner makes its copies one message. Statuses and the message types that are not WhatsApp
Markdown (reactions, locations, ...) are counted as `Skipped` by kind. Coexistence `history`
and address-book webhooks are read by `cloud_history`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from importer.model import Direction, Item, Message, Problem, Skipped
from importer.sources.cloud_history import read_address_book, read_history
from importer.sources.cloud_messages import Origin, build, items, plus, text, withheld
from importer.sources.container import Files

ENVELOPE_OBJECT = "whatsapp_business_account"


def read_envelope(
    envelope: dict[str, Any],
    source: str,
    line: int,
    files: Files,
    *,
    user_phones: Mapping[str, str] = MappingProxyType({}),
) -> Iterator[Item]:
    """The messages, skips and problems of one webhook envelope read from `source:line`.

    `user_phones` maps business-scoped user ids (sent instead of a withheld phone) to phones.
    """
    entries = envelope.get("entry")
    if not isinstance(entries, list):
        yield Problem(source, line, "webhook envelope has no 'entry' list")
        return
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            yield Problem(source, line, "webhook entry has no 'changes' list")
            continue
        for change in changes:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                yield Problem(source, line, "webhook change has no 'value' object")
                continue
            business = text(value.get("metadata"), "display_phone_number")
            origin = Origin(source, line, files, business)
            field = change.get("field")
            if field == "messages":
                for _ in items(value, "statuses"):
                    yield Skipped(source, line, "status")
                reader = _Reader(value, origin, "incoming", user_phones)
                yield from map(reader.read, items(value, "messages"))
            elif field == "smb_message_echoes":
                reader = _Reader(value, origin, "outgoing", user_phones)
                yield from map(reader.read, items(value, "message_echoes"))
            elif field == "history":
                yield from read_history(value, origin, user_phones)
            elif field == "smb_app_state_sync":
                yield from read_address_book(value, origin)
            else:
                yield Skipped(source, line, f"webhook field {field}")


class _Reader:
    """Reads the live messages of one webhook `value`, which share its metadata and contacts."""

    def __init__(
        self,
        value: dict[str, Any],
        origin: Origin,
        direction: Direction,
        user_phones: Mapping[str, str],
    ) -> None:
        self._origin = origin
        self._direction: Direction = direction
        self._user_phones = user_phones
        self._contacts = [c for c in items(value, "contacts") if isinstance(c, dict)]

    def read(self, raw: object) -> Message | Problem | Skipped:
        if not isinstance(raw, dict) or not text(raw, "id"):
            return self._origin.problem("webhook message has no 'id'")
        phones = self._phones(raw)
        if isinstance(phones, str):
            return self._origin.problem(phones, raw["id"])
        incoming = self._direction == "incoming"
        return build(
            self._origin,
            raw,
            direction=self._direction,
            phones=phones,
            sender_name=self._sender_name(raw) if incoming else None,
        )

    def _phones(self, raw: dict[str, Any]) -> tuple[str | None, str] | str:
        """(local, remote) with `+` added, or why the remote phone is unknown."""
        business = self._origin.business
        user_keys: tuple[str, ...]
        if self._direction == "incoming":
            local, remote_key, user_keys = business, "from", ("from_user_id", "user_id")
        else:
            local, remote_key = text(raw, "from") or business, "to"
            user_keys = ("to_user_id", "recipient_user_id", "user_id")
        remote = text(raw, remote_key)
        if remote is None:
            user_id = next(filter(None, (text(raw, key) for key in user_keys)), None)
            user_id = user_id or self._contact_user_id()
            if user_id and user_id in self._user_phones:
                return (plus(local) if local else None), self._user_phones[user_id]
            if user_id:
                who = "sender" if self._direction == "incoming" else "recipient"
                return withheld(who, user_id)
            return f"webhook message has no {remote_key!r} phone"
        return (plus(local) if local else None), plus(remote)

    def _contact_user_id(self) -> str | None:
        ids = [text(contact, "user_id") for contact in self._contacts]
        return ids[0] if len(ids) == 1 else None

    def _sender_name(self, raw: dict[str, Any]) -> str | None:
        sender = text(raw, "from")
        for contact in self._contacts:
            if text(contact, "wa_id") == sender or len(self._contacts) == 1:
                return text(contact.get("profile"), "name")
        return None
