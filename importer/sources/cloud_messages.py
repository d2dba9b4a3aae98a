"""One Cloud API message object as a `Message`: the part live and history webhooks share.

Each webhook says in its own way who sent a message to whom (see `cloud_api` and
`cloud_history`); what the message holds (its type, time, text and media) is read here.
"""

from __future__ import annotations

import mimetypes
import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from importer.model import Attachment, Blob, Direction, Message, Part, Problem, Skipped
from importer.sources.blobs import oversize_reason
from importer.sources.container import Files
from importer.sources.content_types import guess_content_type

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
PLACEHOLDER = "media_placeholder"
# What a history placeholder says until (unless) its media webhook brings the contents.
MEDIA_OMITTED = "<media omitted>"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a webhook `value` was read, and what its messages share."""

    source: str
    line: int
    files: Files
    business: str | None  # `metadata.display_phone_number` as written

    def problem(self, reason: str, external_id: str | None = None) -> Problem:
        return Problem(self.source, self.line, reason, external_id)

    def skipped(self, kind: str) -> Skipped:
        return Skipped(self.source, self.line, kind)


def build(
    origin: Origin,
    raw: dict[str, Any],
    *,
    direction: Direction,
    phones: tuple[str | None, str | None],
    sender_name: str | None = None,
    part: Part | None = None,
) -> Message | Problem | Skipped:
    """The message `raw` (its id already checked) between `phones` (local, remote, `+` added)."""
    external_id: str = raw["id"]
    kind = text(raw, "type") or "unknown"
    if kind == PLACEHOLDER:
        part = "placeholder"
    elif kind != "text" and kind not in MEDIA_TYPES:
        return origin.skipped(kind)
    timestamp = unix_time(raw.get("timestamp"))
    if timestamp is None:
        reason = f"timestamp {raw.get('timestamp')!r} is not Unix seconds"
        return origin.problem(reason, external_id)
    body, attachments = (MEDIA_OMITTED, ()) if kind == PLACEHOLDER else _content(origin, raw, kind)
    if oversize := oversize_reason(attachments):
        return origin.problem(oversize, external_id)
    local, remote = phones
    incoming = direction == "incoming"
    return Message(
        external_id=external_id,
        timestamp=timestamp,
        source=origin.source,
        line=origin.line,
        text=body,
        direction=direction,
        from_phone=remote if incoming else local,
        to_phone=local if incoming else remote,
        local_phone=local,
        remote_phone=remote,
        # Forwarded messages carry a `context` too, but only one with an id is a reply.
        reply_to=text(raw.get("context"), "id"),
        attachments=attachments,
        sender_name=sender_name,
        chat=remote,
        wamid=True,
        part=part,
    )


def withheld(who: str, user_id: str) -> str:
    """Why a message whose phone is replaced by a business-scoped user id cannot be placed."""
    return (
        f"{who} phone withheld (user_id {user_id}); map it to a phone with a "
        "`name` column in --mapping"
    )


def items(value: object, key: str) -> list[Any]:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, list) else []


def text(value: object, key: str) -> str | None:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, str) and found else None


def plus(phone: str) -> str:
    phone = phone.strip()
    return phone if phone.startswith("+") else f"+{phone}"


def digits(phone: str | None) -> str:
    """A phone's digits only: the business number may come formatted (`+1 555-078-3881`)."""
    return "".join(c for c in phone or "" if c.isdigit())


def unix_time(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _content(origin: Origin, raw: dict[str, Any], kind: str) -> tuple[str, tuple[Attachment, ...]]:
    if kind == "text":
        return text(raw.get("text"), "body") or "", ()
    media = raw.get(kind)
    caption = text(media, "caption") or ""
    media_id = text(media, "id")
    blob = origin.files.media(media_id) if media_id else None
    if blob is None:
        return caption or f"<{kind} omitted>", ()
    mime_type = text(media, "mime_type")
    filename = (text(media, "filename") if kind == "document" else None) or _filename(
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
