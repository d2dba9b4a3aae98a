"""The canonical JSONL format (interface.md): one message per line, read one line at a time.

A line that cannot be read is a `Problem` with its line number; the lines after it still import.
A line holding a WhatsApp Cloud API webhook envelope is handed to `cloud_api`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, Any

import orjson

from importer.model import Attachment, Direction, Item, Message, Problem
from importer.sources.blobs import CHUNK_BYTES, oversize_reason
from importer.sources.cloud_api import ENVELOPE_OBJECT, read_envelope
from importer.sources.container import Files
from importer.sources.content_types import guess_content_type

# No message comes near this; a longer "line" is a broken or hostile file, not a message.
MAX_LINE_BYTES = 16 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_UNIX_SECONDS = re.compile(r"[+-]?\d+(?:\.\d+)?")
# Key on the line -> field of `Message`.
_OPTIONAL_TEXT = {
    "from": "from_phone",
    "to": "to_phone",
    "local_phone": "local_phone",
    "remote_phone": "remote_phone",
    "reply_to": "reply_to",
    "lead_id": "lead_id",
    "contact_id": "contact_id",
    "user_id": "user_id",
    "integration_link": "integration_link",
}


class _Invalid(ValueError):
    """A field's value that makes the whole line unreadable."""


def read_jsonl(
    stream: IO[bytes],
    source: str,
    files: Files,
    *,
    user_phones: Mapping[str, str] = MappingProxyType({}),
) -> Iterator[Item]:
    """Read a JSONL stream; `user_phones` holds the phones of Cloud API users whose number is
    withheld. A line is parsed once and its messages streamed on: one Cloud API history
    webhook can carry thousands."""
    for number, line in _lines(stream):
        if line is None:
            reason = f"line longer than {MAX_LINE_BYTES} bytes; not read: nothing on it is imported"
            yield Problem(source, number, reason)
            continue
        if not line or line.isspace():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield Problem(source, number, f"not valid JSON ({exc})")
            continue
        if not isinstance(record, dict):
            yield Problem(source, number, f"expected a JSON object, not {_json_type(record)}")
        elif record.get("object") == ENVELOPE_OBJECT:
            yield from read_envelope(record, source, number, files, user_phones=user_phones)
        else:
            yield _read_message(record, source, number, files)


def parse_timestamp(value: object) -> datetime:
    """ISO 8601 with an offset, or Unix seconds (number or numeric string), as UTC."""
    if isinstance(value, str) and _UNIX_SECONDS.fullmatch(value.strip()):
        text = value.strip()
        value = float(text) if "." in text else int(text)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise _Invalid(f"timestamp {value!r} is out of range") from exc
    if not isinstance(value, str):
        raise _Invalid(f"timestamp must be a string or a number, not {_json_type(value)}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise _Invalid(f"timestamp {value!r} is neither ISO 8601 nor Unix seconds") from exc
    if parsed.tzinfo is None:
        raise _Invalid(f"timestamp has no UTC offset: {value!r}")
    return parsed.astimezone(UTC)


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """Numbered lines from 1; None for a line too long to hold, which is skipped unread."""
    number = 0
    while line := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(CHUNK_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield number, None
        else:
            yield number, line


def _read_message(
    record: dict[str, Any], source: str, line: int, files: Files
) -> Message | Problem:
    external_id: str | None = None
    try:
        external_id = _id(record)
        timestamp = parse_timestamp(_required(record, "timestamp"))
        direction = _direction(record.get("direction"))
        text = _string(record, "text") or ""
        fields = _optional_text(record)
        attachments, missing = _attachments(record.get("attachments"), files)
    except _Invalid as exc:
        return Problem(source, line, str(exc), external_id)
    if attachments or missing:
        reason = "; ".join(missing) if missing else oversize_reason(attachments)
        if reason:
            return Problem(source, line, reason, external_id)
    return Message(
        external_id, timestamp, source, line, text, direction, attachments=attachments, **fields
    )


def _optional_text(record: dict[str, Any]) -> dict[str, Any]:  # Any: to pass as keywords
    """The `Message` fields of the optional text the line gives, looking only at its keys
    (most lines give one or two of the nine): passed as keywords, the rest keep defaults."""
    found: dict[str, Any] = {}
    for key, value in record.items():
        if key in _OPTIONAL_TEXT and value is not None:
            if type(value) is not str:
                # A number to take as text, or a line to refuse for the first bad field in order.
                checked = {k: _string(record, k, numbers=True) for k in _OPTIONAL_TEXT}
                return {_OPTIONAL_TEXT[k]: v for k, v in checked.items() if v is not None}
            found[_OPTIONAL_TEXT[key]] = value
    return found


def _required(record: dict[str, Any], key: str) -> object:
    if record.get(key) is None:
        raise _Invalid(f"missing required field {key!r}")
    return record[key]


def _id(record: dict[str, Any]) -> str:
    value = _required(record, "id")
    # JSON numbers are floats to some writers: `1e3` still means message 1000.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _Invalid(f"'id' must be a string, not {_json_type(value)}")
    if not value.strip():
        raise _Invalid("'id' is empty")
    return value


def _string(record: dict[str, Any], key: str, *, numbers: bool = False) -> str | None:
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    # Phones and ids written as JSON numbers are common and unambiguous.
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _Invalid(f"{key!r} must be a string, not {_json_type(value)}")


def _direction(value: object) -> Direction | None:
    if value is None:
        return None
    if value == "incoming":
        return "incoming"
    if value == "outgoing":
        return "outgoing"
    raise _Invalid(f"'direction' must be 'incoming' or 'outgoing', not {value!r}")


def _attachments(value: object, files: Files) -> tuple[tuple[Attachment, ...], list[str]]:
    """The attachments found, and why the others cannot be attached."""
    if value is None:
        return (), []
    if not isinstance(value, list):
        raise _Invalid(f"'attachments' must be a list, not {_json_type(value)}")
    found: list[Attachment] = []
    missing: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise _Invalid(f"attachments[{index}] must be an object with a 'path' string")
        path: str = item["path"]
        filename = _string(item, "filename") or posixpath.basename(path.replace("\\", "/"))
        content_type = _string(item, "content_type") or guess_content_type(filename)
        blob = files.attachment(path)
        if isinstance(blob, str):
            missing.append(blob)
        else:
            found.append(Attachment(filename, content_type, blob))
    return tuple(found), missing


def _json_type(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case dict():
            return "an object"
    return type(value).__name__
