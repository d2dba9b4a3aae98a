"""Synthetic archives: canonical JSONL, its media, and the emulator seed and mapping that fit it."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from importer.checkpoint.access import build
from importer.checkpoint.schema import DONE
from importer.checkpoint.store import Change, Entry

LOCAL_PHONE = "+14155550100"
_EPOCH = 1_700_000_000
_CHUNK = 10_000  # lines per write: big enough to amortise the call, small enough to stay flat


@dataclass(frozen=True, slots=True)
class Shape:
    """What an archive looks like; the defaults are scenario 1's."""

    messages: int = 2_000
    chats: int = 4
    reply_share: float = 0.25
    # 0: a reply answers a random earlier message of its chat. K > 0: each chat has K reply
    # chains and a reply extends one of them, so its parent is the previous link of that chain.
    chains_per_chat: int = 0
    attachment_share: float = 0.0
    seed: int = 7


@dataclass(frozen=True, slots=True)
class Archive:
    jsonl: Path
    seed_data: Path
    mapping: Path
    shape: Shape


def phone(chat: int) -> str:
    return f"+1650555{chat + 101:04d}"


def lead_id(chat: int) -> str:
    return f"lead_bench{chat:032d}"


def contact_id(chat: int) -> str:
    return f"cont_bench{chat:032d}"


def message_id(chat: int, index: int) -> str:
    return f"wamid.bench.{chat}.{index}"


def write_archive(folder: Path, shape: Shape) -> Archive:
    """Write the JSONL (messages interleaved across chats in time order) and its companions."""
    folder.mkdir(parents=True, exist_ok=True)
    jsonl = folder / "chats.jsonl"
    rng = random.Random(shape.seed)
    media = folder / "media"
    if shape.attachment_share:
        media.mkdir(exist_ok=True)
    counts = [0] * shape.chats
    chains: list[list[int | None]] = [[None] * shape.chains_per_chat for _ in range(shape.chats)]
    lines: list[bytes] = []
    with jsonl.open("wb") as out:
        for k in range(shape.messages):
            chat = k % shape.chats
            index = counts[chat]
            counts[chat] += 1
            record: dict[str, object] = {
                "id": message_id(chat, index),
                "timestamp": _EPOCH + k,
                "direction": "incoming" if rng.random() < 0.5 else "outgoing",
                "remote_phone": phone(chat),
                "text": f"benchmark message {k} in chat {chat}",
            }
            parent = _parent(rng, shape, chains[chat], index)
            if parent is not None:
                record["reply_to"] = message_id(chat, parent)
            if shape.attachment_share and rng.random() < shape.attachment_share:
                # Unique bytes per file: identical content would be uploaded only once.
                name = f"media/{chat}-{index}.txt"
                (folder / name).write_bytes(f"attachment of message {k}\n".encode())
                record["attachments"] = [{"path": name}]
            lines.append(orjson.dumps(record))
            if len(lines) >= _CHUNK:
                out.write(b"\n".join(lines) + b"\n")
                lines.clear()
        if lines:
            out.write(b"\n".join(lines) + b"\n")
    return Archive(
        jsonl, _write_seed(folder, shape.chats), _write_mapping(folder, shape.chats), shape
    )


def _parent(rng: random.Random, shape: Shape, chains: list[int | None], index: int) -> int | None:
    if index == 0 or rng.random() >= shape.reply_share:
        return None
    if not chains:
        return rng.randrange(index)
    link = rng.randrange(len(chains))
    # A chain not yet started begins at the chat's previous message.
    parent = chains[link]
    chains[link] = index
    return index - 1 if parent is None else parent


def _write_seed(folder: Path, chats: int) -> Path:
    leads = [
        {
            "id": lead_id(chat),
            "name": f"Bench lead {chat}",
            "contacts": [
                {"id": contact_id(chat), "name": f"Bench {chat}", "phones": [phone(chat)]}
            ],
        }
        for chat in range(chats)
    ]
    path = folder / "seed.json"
    path.write_bytes(orjson.dumps({"leads": leads}))
    return path


def _write_mapping(folder: Path, chats: int) -> Path:
    path = folder / "mapping.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone", "lead_id", "contact_id"])
        writer.writerows([phone(c), lead_id(c), contact_id(c)] for c in range(chats))
    return path


def write_done_checkpoint(path: Path, shape: Shape) -> int:
    """A checkpoint that already holds every message of `shape` as done; returns its entries.

    Built through the store's own bulk path (the one that migrates old journals), which takes
    a minute for ten million where importing them through the emulator would take days.
    """
    return build_checkpoint(path, _done_entries(shape))


def _done_entries(shape: Shape) -> Iterator[Change]:
    counts = [0] * shape.chats
    for k in range(shape.messages):
        chat = k % shape.chats
        wa_id = message_id(chat, counts[chat])
        counts[chat] += 1
        yield "messages", wa_id, Entry(DONE, phone(chat), f"acti_bench{k:024d}")


def build_checkpoint(path: Path, entries: Iterator[Change]) -> int:
    path.unlink(missing_ok=True)
    counted = 0

    def counting() -> Iterator[Change]:
        nonlocal counted
        for entry in entries:
            counted += 1
            yield entry

    build(path, counting())
    return counted
