"""Reading an attachment's bytes from its folder or zip archive, never more than it may hold.

A zip member's declared size comes from the archive itself, which anyone can forge: a few
kilobytes may expand to gigabytes. Every read is therefore counted, and stops with `BlobTooLarge`
as soon as it passes the declared size or Close's per-message limit, whichever is smaller.
"""

from __future__ import annotations

import hashlib
import io
import stat
import threading
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from importer.errors import BlobError
from importer.model import Attachment, Blob
from importer.sources.container import open_regular
from importer.sources.options import MAX_MESSAGE_ATTACHMENT_BYTES

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK_BYTES = 1024 * 1024


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
        return io.BufferedReader(_Capped(_open_file(blob), False, blob, limit), CHUNK_BYTES)
    try:
        archive = _archives.get(blob.container)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BlobCorrupt(f"{blob.container}: not a readable zip archive ({exc})") from exc
    try:
        with _archives.lock:
            member = archive.open(blob.member)
    except (KeyError, zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as exc:
        raise BlobCorrupt(f"{blob.container}:{blob.member}: cannot open ({exc})") from exc
    return io.BufferedReader(_Capped(member, True, blob, limit), CHUNK_BYTES)


def blob_digest(blob: Blob) -> tuple[str, int]:
    """Stream the blob once: its SHA-256 (hex) and its actual size."""
    digest = hashlib.sha256()
    size = 0
    with open_blob(blob) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class _OpenArchives:
    """The zips attachments are read from, each opened (its central directory parsed) once.

    Parsing a central directory costs time in the number of members; doing it for every
    attachment's hash and again for its upload made a zip of N attachments cost N squared.
    A few archives stay open, keyed by what identifies their current content, so a zip
    rewritten since is opened anew. Closing an archive dropped from here leaves streams open
    on it readable: zipfile counts them and closes the file after the last.
    """

    def __init__(self, keep: int = 8) -> None:
        self._keep = keep
        self._open: OrderedDict[tuple[Path, int, int, int], zipfile.ZipFile] = OrderedDict()
        # zipfile counts a shared archive's open members without a lock of its own; opening and
        # closing members under this one keeps the count right when threads share an archive.
        self.lock = threading.RLock()

    def get(self, path: Path) -> zipfile.ZipFile:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path}: not a regular file")
        key = (path.resolve(), info.st_ino, info.st_mtime_ns, info.st_size)
        with self.lock:
            archive = self._open.get(key)
            if archive is not None:
                self._open.move_to_end(key)
                return archive
            archive = zipfile.ZipFile(path)
            self._open[key] = archive
            while len(self._open) > self._keep:
                _, dropped = self._open.popitem(last=False)
                dropped.close()
            return archive


_archives = _OpenArchives()


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

    def __init__(self, inner: IO[bytes], in_zip: bool, blob: Blob, limit: int):
        self._inner = inner
        self._in_zip = in_zip
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
            if self._in_zip:
                with _archives.lock:
                    self._inner.close()
            else:
                self._inner.close()
        finally:
            super().close()

    def _name(self) -> str:
        separator = ":" if self._in_zip else "/"
        return f"{self._blob.container}{separator}{self._blob.member}"
