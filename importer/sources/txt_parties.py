"""Who a text export's messages are from and to: the account itself, the other party, a group."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from importer.sources.options import ReadOptions
from importer.sources.txt_headers import clean

# A sender written as a number: `+1 650-555-1234`, `+49 (151) 2345-6789` with U+2011 hyphens.
_PHONE = re.compile(r"\+?[\d ()\-\u2011./]{6,}")


def digits(phone: str) -> str:
    """Only the digits of a phone number, without an international `00` prefix."""
    only = "".join(ch for ch in phone if ch.isdigit() and ch.isascii())
    return only[2:] if only.startswith("00") else only


def phone_of(sender: str) -> str | None:
    """The sender as `+digits` (or bare digits without a `+`), if it is written as a number."""
    text = clean(sender).strip().lstrip("~").strip()
    if not _PHONE.fullmatch(text) or len(digits(text)) < 6:
        return None
    return ("+" if text.startswith("+") else "") + digits(text)


def phone_for(sender: str, options: ReadOptions) -> str | None:
    """The sender's phone: as the mapping names it (a row for a sender written as a number
    too: the number may be one no phone has), else as written."""
    return _by_key(options.sender_phones).get(sender_key(sender)) or phone_of(sender)


# The last mapping seen and its names by `sender_key`: one mapping serves a whole run.
_KEYED: list[tuple[Mapping[str, str], dict[str, str]]] = []


def _by_key(phones: Mapping[str, str]) -> dict[str, str]:
    """The mapping's names by `sender_key`, made once per mapping, not once per message."""
    if not _KEYED or _KEYED[0][0] is not phones:
        keyed: dict[str, str] = {}
        for name, phone in phones.items():
            keyed.setdefault(sender_key(name), phone)
        _KEYED[:] = [(phones, keyed)]
    return _KEYED[0][1]


def sender_key(sender: str) -> str:
    """What makes two spellings of a sender the same person: digits, or the folded name."""
    phone = phone_of(sender)
    if phone is not None:
        return "tel:" + digits(phone)
    return "".join(clean(sender).replace("~", "").split()).casefold()


def is_me(sender: str, options: ReadOptions) -> bool:
    """Whether `sender` is the account itself: named in `--me` or its `--local-phone`."""
    key = sender_key(sender)
    if any(sender_key(name) == key for name in options.me):
        return True
    phone = phone_of(sender)
    local = digits(options.local_phone or "")
    return bool(local) and phone is not None and digits(phone) == local


@dataclass(frozen=True, slots=True)
class Parties:
    """What the whole file says about the conversation, decided before reading messages."""

    refusal: str | None  # why the chat cannot be imported at all (a group of names)
    per_sender: bool  # a group of phone numbers: each message's remote party is its sender
    chat_key: str  # the chat's part of every stable id
    chat: str | None
    remote_phone: str | None


def infer_account(
    others: dict[str, str], options: ReadOptions, title: str | None
) -> tuple[dict[str, str], ReadOptions, str]:
    """Who the account is, when no flag says: in a chat of two senders whose file name names
    one of them, the other one. (`others` without it, the options naming it, and why; or all
    unchanged and "".) A sender the mapping gives a phone is a remote party, never the account.
    """
    if options.me or title is None or len(others) != 2 or sender_key(title) not in others:
        return others, options, ""
    remote_key = sender_key(title)
    ((_, me),) = [(k, n) for k, n in others.items() if k != remote_key]
    if phone_for(me, options) is not None:
        return others, options, ""
    remote = others[remote_key]
    why = (
        f"one-to-one chat with {remote} (the file name says so), so {me} is the account"
        " (--me says otherwise)"
    )
    return {remote_key: remote}, replace(options, me=(me,)), why


def decide_parties(
    others: dict[str, str], options: ReadOptions, title: str | None = None
) -> Parties:
    """Decide from `others` (sender key to sender as written, the account excluded); a phone
    number as the file's `title` is the other party's when nothing more explicit says."""
    title_phone = phone_of(title) if title else None
    if len(others) > 1:
        names = sorted(others.values(), key=str.casefold)
        if all(phone_for(name, options) is not None for name in names):
            return Parties(None, True, "group", None, None)
        listed = ", ".join(names)
        reason = (
            f"group chat with {len(names)} senders: {listed}; map every sender to a phone "
            "(a `name` column in --mapping)"
        )
        return Parties(reason, False, "", None, None)
    if others:
        ((key, name),) = others.items()
        remote = options.remote_phone or phone_for(name, options) or title_phone
        return Parties(None, False, key, name, remote)
    remote = options.remote_phone or title_phone
    return Parties(None, False, "tel:" + digits(remote) if remote else "", remote, remote)
