"""WhatsApp Cloud API webhook envelopes, one per JSONL line, read as the messages they carry.

Webhooks are delivered at least once, so the same message id may come on several lines or in
several files; the caller's `seen` set makes it one message. Statuses and the message types that
are not WhatsApp Markdown (reactions, locations, ...) are counted as `Skipped` by kind.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from importer.model import Attachment, Blob, Direction, Message, Problem, Skipped
from importer.sources.blobs import oversize_reason
from importer.sources.container import Files
from importer.sources.content_types import guess_content_type

ENVELOPE_OBJECT = "whatsapp_business_account"
MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})


def read_envelope(
    envelope: dict[str, Any],
    source: str,
    line: int,
    files: Files,
    seen: set[str],
    *,
    user_phones: Mapping[str, str] = MappingProxyType({}),
) -> Iterator[Message | Problem | Skipped]:
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
            field = change.get("field")
            if field == "messages":
                for _ in _list(value, "statuses"):
                    yield Skipped(source, line, "status")
                reader = _Reader(
                    value, source, line, files, seen, direction="incoming", user_phones=user_phones
                )
                yield from map(reader.read, _list(value, "messages"))
            elif field == "smb_message_echoes":
                reader = _Reader(
                    value, source, line, files, seen, direction="outgoing", user_phones=user_phones
                )
                yield from map(reader.read, _list(value, "message_echoes"))
            else:
                yield Skipped(source, line, f"webhook field {field}")


def _list(value: dict[str, Any], key: str) -> list[Any]:
    items = value.get(key)
    return items if isinstance(items, list) else []


def _text(value: object, key: str) -> str | None:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, str) and found else None


def _plus(phone: str) -> str:
    phone = phone.strip()
    return phone if phone.startswith("+") else f"+{phone}"


def _timestamp(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


class _Reader:
    """Reads the messages of one webhook `value`, which share its metadata and contacts."""

    def __init__(
        self,
        value: dict[str, Any],
        source: str,
        line: int,
        files: Files,
        seen: set[str],
        *,
        direction: Direction,
        user_phones: Mapping[str, str],
    ) -> None:
        self._user_phones = user_phones
        self._source = source
        self._line = line
        self._files = files
        self._seen = seen
        self._direction: Direction = direction
        self._business = _text(value.get("metadata"), "display_phone_number")
        self._contacts = [c for c in _list(value, "contacts") if isinstance(c, dict)]

    def read(self, raw: object) -> Message | Problem | Skipped:
        if not isinstance(raw, dict) or not _text(raw, "id"):
            return Problem(self._source, self._line, "webhook message has no 'id'")
        external_id: str = raw["id"]
        if external_id in self._seen:
            return Skipped(self._source, self._line, "duplicate")
        self._seen.add(external_id)
        kind = _text(raw, "type") or "unknown"
        if kind != "text" and kind not in MEDIA_TYPES:
            return Skipped(self._source, self._line, kind)
        timestamp = _timestamp(raw.get("timestamp"))
        if timestamp is None:
            return self._problem(f"timestamp {raw.get('timestamp')!r} is not Unix seconds", raw)
        phones = self._phones(raw)
        if isinstance(phones, str):
            return self._problem(phones, raw)
        local, remote = phones
        text, attachments = self._content(raw, kind)
        if reason := oversize_reason(attachments):
            return self._problem(reason, raw)
        incoming = self._direction == "incoming"
        return Message(
            external_id=external_id,
            timestamp=timestamp,
            source=self._source,
            line=self._line,
            text=text,
            direction=self._direction,
            from_phone=remote if incoming else local,
            to_phone=local if incoming else remote,
            local_phone=local,
            remote_phone=remote,
            # Forwarded messages carry a `context` too, but only one with an id is a reply.
            reply_to=_text(raw.get("context"), "id"),
            attachments=attachments,
            sender_name=self._sender_name(raw) if incoming else None,
            chat=remote,
        )

    def _problem(self, reason: str, raw: dict[str, Any]) -> Problem:
        return Problem(self._source, self._line, reason, raw["id"])

    def _phones(self, raw: dict[str, Any]) -> tuple[str | None, str] | str:
        """(local, remote) with `+` added, or why the remote phone is unknown."""
        user_keys: tuple[str, ...]
        if self._direction == "incoming":
            local, remote_key, user_keys = self._business, "from", ("from_user_id", "user_id")
        else:
            local, remote_key = _text(raw, "from") or self._business, "to"
            user_keys = ("to_user_id", "recipient_user_id", "user_id")
        remote = _text(raw, remote_key)
        if remote is None:
            user_id = next(filter(None, (_text(raw, key) for key in user_keys)), None)
            user_id = user_id or self._contact_user_id()
            if user_id and user_id in self._user_phones:
                return (_plus(local) if local else None), self._user_phones[user_id]
            if user_id:
                who = "sender" if self._direction == "incoming" else "recipient"
                return (
                    f"{who} phone withheld (user_id {user_id}); map it to a phone with a "
                    "`name` column in --mapping"
                )
            return f"webhook message has no {remote_key!r} phone"
        return (_plus(local) if local else None), _plus(remote)

    def _contact_user_id(self) -> str | None:
        ids = [_text(contact, "user_id") for contact in self._contacts]
        return ids[0] if len(ids) == 1 else None

    def _sender_name(self, raw: dict[str, Any]) -> str | None:
        sender = _text(raw, "from")
        for contact in self._contacts:
            if _text(contact, "wa_id") == sender or len(self._contacts) == 1:
                return _text(contact.get("profile"), "name")
        return None

    def _content(self, raw: dict[str, Any], kind: str) -> tuple[str, tuple[Attachment, ...]]:
        if kind == "text":
            return _text(raw.get("text"), "body") or "", ()
        media = raw.get(kind)
        caption = _text(media, "caption") or ""
        media_id = _text(media, "id")
        blob = self._files.media(media_id) if media_id else None
        if blob is None:
            return caption or f"<{kind} omitted>", ()
        mime_type = _text(media, "mime_type")
        filename = (_text(media, "filename") if kind == "document" else None) or _filename(
            blob, mime_type
        )
        content_type = mime_type or guess_content_type(filename)
        return caption, (Attachment(filename, content_type, blob),)


def _filename(blob: Blob, mime_type: str | None) -> str:
    name = posixpath.basename(blob.member)
    # A file saved under the bare media id still deserves an extension in Close.
    if "." not in name and mime_type:
        name += mimetypes.guess_extension(mime_type.split(";")[0].strip(), strict=False) or ""
    return name
