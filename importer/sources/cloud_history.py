"""Coexistence webhooks (cloud-api-history.md): the Business app's chat history and address book.

A `history` chunk carries past chats thread by thread; its line is parsed once and its messages
streamed on. Media come first as a placeholder in a thread and later, maybe, as a `value.messages`
entry under the same id; both are yielded as halves (`Message.part`) and the planner joins them,
since the halves can sit anywhere in the sources. Phases, progress and declines are
`HistoryChunk` items for `inspect` and the report; they never order or identify messages.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from importer.model import AddressEntry, Direction, HistoryChunk, Item, Message, Problem, Skipped
from importer.sources.cloud_messages import Origin, build, digits, items, plus, text, withheld


def read_history(
    value: dict[str, Any], origin: Origin, user_phones: Mapping[str, str]
) -> Iterator[Item]:
    """The chunks and messages of one `field: "history"` webhook value."""
    business = digits(origin.business)
    if not business:
        yield origin.problem("history webhook has no metadata.display_phone_number; not read")
        return
    for chunk in items(value, "history"):
        if not isinstance(chunk, dict):
            yield origin.problem("history chunk is not an object")
            continue
        threads = [t for t in items(chunk, "threads") if isinstance(t, dict)]
        meta = chunk.get("metadata")
        yield HistoryChunk(
            origin.source,
            origin.line,
            f"+{business}",
            _label(meta, "phase"),
            _number(meta, "progress"),
            len(threads),
            _declined(chunk),
        )
        for thread in threads:
            yield from _thread(thread, origin, business, user_phones)
    for raw in items(value, "messages"):
        yield _media(raw, origin, business)


def read_address_book(value: dict[str, Any], origin: Origin) -> Iterator[AddressEntry | Skipped]:
    """The names of one `smb_app_state_sync` webhook value."""
    for entry in items(value, "state_sync"):
        kind = text(entry, "type") or "unknown"
        if kind != "contact":
            yield origin.skipped(f"address book {kind}")
            continue
        # A `remove` keeps the name: the chats already held are still that person's.
        if text(entry, "action") != "add":
            continue
        contact = entry.get("contact")
        phone = digits(_label(contact, "phone_number"))
        name = text(contact, "full_name") or text(contact, "first_name")
        if phone and name and name.strip():
            at = _number(entry.get("metadata"), "timestamp") or 0
            yield AddressEntry(origin.source, origin.line, f"+{phone}", name.strip(), at)


def _thread(
    thread: dict[str, Any], origin: Origin, business: str, user_phones: Mapping[str, str]
) -> Iterator[Message | Problem | Skipped]:
    party = _party(_label(thread, "id"), user_phones)
    for raw in items(thread, "messages"):
        if not isinstance(raw, dict) or not text(raw, "id"):
            yield origin.problem("history message has no 'id'")
            continue
        outgoing = _from_business(raw, business)
        remote = party
        if remote is None:
            other = text(raw, "to") if outgoing else text(raw, "from")
            remote = plus(other) if other else "history thread has no id and the message no phone"
        if remote.startswith("+"):
            direction: Direction = "outgoing" if outgoing else "incoming"
            yield build(origin, raw, direction=direction, phones=(f"+{business}", remote))
        else:
            yield origin.problem(remote, raw["id"])


def _media(raw: object, origin: Origin, business: str) -> Message | Problem | Skipped:
    """A media webhook: the contents of a placeholder, sent under the placeholder's id."""
    if not isinstance(raw, dict) or not text(raw, "id"):
        return origin.problem("history media message has no 'id'")
    outgoing = _from_business(raw, business)
    other = text(raw, "to") if outgoing else text(raw, "from")
    # Its parties count only when no placeholder takes them from the thread.
    phones = (f"+{business}", plus(other) if other else None)
    return build(
        origin, raw, direction="outgoing" if outgoing else "incoming", phones=phones, part="media"
    )


def _party(thread_id: str | None, user_phones: Mapping[str, str]) -> str | None:
    """The thread's other party as `+` and digits, or why it cannot be placed."""
    if thread_id is None:
        return None
    if thread_id.lstrip("+").isdigit():
        return plus(thread_id)
    # Business-scoped user ids may replace phones here too (whatsapp-exports.md).
    return user_phones.get(thread_id) or withheld("chat", thread_id)


def _from_business(raw: dict[str, Any], business: str) -> bool:
    context = raw.get("history_context")
    from_me = context.get("from_me") if isinstance(context, dict) else None
    return digits(text(raw, "from")) == business or from_me in (True, "true")


def _declined(chunk: dict[str, Any]) -> tuple[int | None, str] | None:
    errors = [e for e in items(chunk, "errors") if isinstance(e, dict)]
    if not errors:
        return None
    error = errors[0]
    title = text(error, "title") or text(error, "message") or "no title given"
    return _number(error, "code"), title


def _label(value: object, key: str) -> str | None:
    """A field written as a string or a number (360dialog quotes phase and progress)."""
    found = value.get(key) if isinstance(value, dict) else None
    if isinstance(found, int) and not isinstance(found, bool):
        return str(found)
    return (found.strip() or None) if isinstance(found, str) else None


def _number(value: object, key: str) -> int | None:
    found = _label(value, key)
    return int(found) if found is not None and found.isdigit() else None
