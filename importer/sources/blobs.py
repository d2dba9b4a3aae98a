"""Reading an attachment's bytes from its folder or zip archive, never more than it may hold.

A zip member's declared size comes from the archive itself, which anyone can forge: a few
kilobytes may expand to gigabytes. Every read is therefore counted, and stops with `BlobTooLarge`
as soon as it passes the declared size or Close's per-message limit, whichever is smaller.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, BinaryIO

from importer.model import Attachment, Blob
from importer.sources.container import open_regular
from importer.sources.options import MAX_MESSAGE_ATTACHMENT_BYTES

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK_BYTES = 1024 * 1024


class BlobError(ValueError):
    """An attachment's bytes cannot be read as declared; a problem of its message."""


class BlobTooLarge(BlobError):
    """The bytes run past the declared size or past what Close accepts on one message."""


class BlobCorrupt(BlobError):
    """The file vanished, left its folder, or the zip member is damaged (bad CRC, bad data)."""


def oversize_reason(attachments: Iterable[Attachment]) -> str | None:
    """Why Close would refuse these attachments on one message, judged by declared sizes."""
    total = sum(max(a.blob.size, 0) for a in attachments)
    if total > MAX_MESSAGE_ATTACHMENT_BYTES:
        return (
            f"attachments hold {total} bytes, more than the {MAX_MESSAGE_ATTACHMENT_BYTES} "
            "bytes Close accepts on one message"
        )
    return None


def open_blob(blob: Blob) -> BinaryIO:
    """Open a blob for streaming reads capped at its declared size and at Close's limit."""
    limit = min(max(blob.size, 0), MAX_MESSAGE_ATTACHMENT_BYTES)
    if blob.container.is_dir():
        return io.BufferedReader(_Capped(_open_file(blob), None, blob, limit), CHUNK_BYTES)
    try:
        archive = zipfile.ZipFile(blob.container)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BlobCorrupt(f"{blob.container}: not a readable zip archive ({exc})") from exc
    try:
        member = archive.open(blob.member)
    except (KeyError, zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as exc:
        archive.close()
        raise BlobCorrupt(f"{blob.container}:{blob.member}: cannot open ({exc})") from exc
    return io.BufferedReader(_Capped(member, archive, blob, limit), CHUNK_BYTES)


def blob_digest(blob: Blob) -> tuple[str, int]:
    """Stream the blob once: its SHA-256 (hex) and its actual size."""
    digest = hashlib.sha256()
    size = 0
    with open_blob(blob) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _open_file(blob: Blob) -> IO[bytes]:
    root = blob.container.resolve()
    path = (root / blob.member).resolve()
    # Checked again at opening: a symlink may have been swapped in since the archive was read.
    if not path.is_relative_to(root):
        raise BlobCorrupt(f"{blob.container}/{blob.member}: leads outside {blob.container}")
    try:
        return open_regular(path)
    except OSError as exc:
        raise BlobCorrupt(f"{blob.container}/{blob.member}: cannot open ({exc})") from exc


class _Capped(io.RawIOBase):
    """Counts what passes and refuses the byte after `limit`."""

    def __init__(self, inner: IO[bytes], archive: zipfile.ZipFile | None, blob: Blob, limit: int):
        self._inner = inner
        self._archive = archive
        self._blob = blob
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        # One byte beyond the limit is enough to know it is exceeded; never ask for more.
        wanted = min(len(view), self._limit + 1 - self._read)
        try:
            data = self._inner.read(wanted)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise BlobCorrupt(f"{self._name()}: damaged or lying about its size ({exc})") from exc
        self._read += len(data)
        if self._read > self._limit:
            raise BlobTooLarge(
                f"{self._name()}: more than {self._limit} bytes (declared {self._blob.size}, "
                f"Close accepts {MAX_MESSAGE_ATTACHMENT_BYTES} per message)"
            )
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            if self._archive is not None:
                self._archive.close()
            super().close()

    def _name(self) -> str:
        separator = "/" if self._archive is None else ":"
        return f"{self._blob.container}{separator}{self._blob.member}"
