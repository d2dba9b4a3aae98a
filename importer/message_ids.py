"""Every message id a run has read, with a digest of its message: a repeat told from a clash.

Behind this small interface so the index can move to disk for archives of tens of millions of
messages. In memory it costs, per id, the id string (~50 bytes plus its length), a dict slot
(~40 bytes) and the digest (a 32-byte int; a one-byte digest was a cached small int, so the
wider digest adds ~32 bytes per id).
"""

from __future__ import annotations

import hashlib
from datetime import datetime


def digest(timestamp: datetime, text: str, reply_to: str | None) -> int:
    """8 bytes of blake2b: two different messages under one id are taken for a repeat with
    probability 2**-64, not the 1 in 256 a one-byte digest gave."""
    parts = f"{timestamp.isoformat()}\x1f{text}\x1f{reply_to or ''}".encode()
    return int.from_bytes(hashlib.blake2b(parts, digest_size=8).digest(), "big")


class IdIndex:
    """id -> digest of the first message read under it; digests are never negative, so callers
    may store negative marks of their own (`copies` does, for WhatsApp's own ids)."""

    def __init__(self) -> None:
        self._digests: dict[str, int] = {}

    def __contains__(self, wa_id: object) -> bool:
        return wa_id in self._digests

    def __len__(self) -> int:
        return len(self._digests)

    def get(self, wa_id: str) -> int | None:
        return self._digests.get(wa_id)

    def add(self, wa_id: str, value: int) -> None:
        self._digests[wa_id] = value
