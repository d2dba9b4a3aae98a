"""What readers produce and the pipeline consumes: plain frozen records, no behaviour."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar, dataclass_transform

Direction = Literal["incoming", "outgoing"]
Part = Literal["placeholder", "media"]
_Record = TypeVar("_Record")


@dataclass_transform(frozen_default=True)
def record(cls: type[_Record]) -> type[_Record]:
    """A frozen dataclass to the type checker, a plain one (slots, the same hash) when running,
    for the records made once per message: a frozen dataclass's `__init__` sets each field
    through `object.__setattr__`, 2.4 us for a `Message` against 0.4 us, a fifth of reading a
    JSONL line. Nothing assigns to one: `mypy --strict` refuses it as for any frozen one."""
    return dataclass(slots=True, unsafe_hash=True)(cls)


@dataclass(frozen=True, slots=True)
class Blob:
    """Bytes stored in a source: a file below a folder, or a member of a zip archive.

    `container` is the folder or the `.zip`; `member` is a POSIX path relative to it that has
    already been checked not to escape it. `size` is what the file system or the zip's central
    directory declares; readers of the bytes must not trust it (zip bombs lie).
    """

    container: Path
    member: str
    size: int


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    blob: Blob


@record
class Message:
    """One WhatsApp message as read from an archive, before lead/contact resolution.

    Optional fields are what the archive did not say; the pipeline fills them from the mapping,
    the command-line flags or Close. `source` and `line` say where the message was read, for
    problems and for ordering ties (file order).
    """

    external_id: str
    timestamp: datetime  # always timezone-aware
    source: str
    line: int
    text: str = ""
    direction: Direction | None = None
    from_phone: str | None = None
    to_phone: str | None = None
    local_phone: str | None = None
    remote_phone: str | None = None
    reply_to: str | None = None
    attachments: tuple[Attachment, ...] = ()
    lead_id: str | None = None
    contact_id: str | None = None
    user_id: str | None = None
    integration_link: str | None = None
    sender_name: str | None = None
    chat: str | None = None  # a reader's name for the conversation, when it knows one
    # The id is WhatsApp's own (Cloud API): whatever else is read under it is a copy of this
    # message (a redelivery, the history and the live copy), never a different message.
    wamid: bool = False
    # Half of a history media message: the `placeholder` in the chat, or the `media` webhook that
    # brings its contents later; the planner joins the two halves by id.
    part: Part | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in the input that could not be imported, and why; reported, never fatal."""

    source: str
    line: int | None
    reason: str
    external_id: str | None = None
    # True: the message is imported all the same (e.g. without a file the export left out).
    note: bool = False


@dataclass(frozen=True, slots=True)
class Skipped:
    """An entry deliberately not imported (system line, status update, ...), counted by kind."""

    source: str
    line: int | None
    kind: str


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a reader decided about a whole file, e.g. a text export's day/month order and why."""

    source: str
    date_order: str | None = None
    evidence: str = ""
    parties: str = ""  # who is who, when the reader inferred it, and why


@dataclass(frozen=True, slots=True)
class AddressEntry:
    """An address-book entry of a coexistence log (`smb_app_state_sync` `add`): a phone's name."""

    source: str
    line: int
    phone: str  # `+` and digits, as the webhook wrote them
    name: str
    at: int  # the webhook's `metadata.timestamp`, Unix seconds: the latest entry wins


@dataclass(frozen=True, slots=True)
class HistoryChunk:
    """One chunk of a coexistence history sync: how far it got, or why it was declined."""

    source: str
    line: int
    business: str  # `+` and the digits of the business's own number
    phase: str | None
    progress: int | None  # 0..100 of the whole sync
    threads: int
    error: tuple[int | None, str] | None = None  # (code, title) of a declined sync


@dataclass(slots=True)
class Tally:
    """What reading one file gave the plan: enough to count it again without reading it."""

    phones: Counter[str] = field(default_factory=Counter)  # remote phone -> messages planned
    skipped: Counter[str] = field(default_factory=Counter)  # kind -> messages left out
    names: dict[str, str] = field(default_factory=dict)  # remote phone -> the name it gave
    reaches_beyond: bool = False  # read every time (`sources.settled`): a media half, say


@dataclass(frozen=True, slots=True)
class SettledFile:
    """Stands for a file not read again (`sources.settled`): its tally when it was imported."""

    source: str
    tally: Tally


@dataclass(frozen=True, slots=True)
class FileRead:
    """A file was read to its end; `key` names what was read (`sources.settled`)."""

    source: str
    key: str


# Cloud API logs also say who is who (`AddressEntry`) and how a history sync went; a rerun
# counts a file it need not read again (`SettledFile`).
Item = (
    Message | Problem | Skipped | SourceInfo | AddressEntry | HistoryChunk | SettledFile | FileRead
)
