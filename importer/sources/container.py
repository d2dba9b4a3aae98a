"""Folders and zip archives: what they hold, in a stable order, and which files a reader may use.

Nothing is ever extracted or written: zip members are read as streams. A path written inside an
archive (an attachment, a member's own name) is untrusted; one that would leave its folder or
archive is refused with a `Problem`, never followed.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PureWindowsPath
from typing import IO, Literal, Protocol, TextIO

from importer.errors import UsageError
from importer.model import Blob, Problem, Skipped
from importer.sources.txt_headers import clean, looks_like_header
from importer.sources.txt_titles import chat_title

Kind = Literal["jsonl", "txt"]

SUFFIXES = (".jsonl", ".txt", ".zip")
# Enough of a file's start to find its first non-empty line.
_SNIFF_BYTES = 64 * 1024
# zipfile can read these; others (e.g. Deflate64 from Windows' own zipper) it cannot.
_COMPRESSIONS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError)


class Files(Protocol):
    """The files a reader may attach, as seen from the file it is reading."""

    def attachment(self, path: str) -> Blob | str:
        """The file at `path` as written in the archive, or why it cannot be attached."""

    def media(self, media_id: str) -> Blob | None:
        """The file named after a Cloud API media id (any extension), if the archive holds it."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One readable file of a source. Valid only until the walk is asked for the next item."""

    source: str  # the path as the user gave it; `archive.zip:member/path` inside a zip
    kind: Kind
    open_binary: Callable[[], IO[bytes]]
    files: Files
    title: str | None = None  # text exports: the chat's name in the file's (or zip's) name

    def open_text(self) -> TextIO:
        """The file as text from its start: UTF-8, a BOM dropped, CRLF read as LF."""
        # A stray invalid byte should cost one character, not the whole export.
        return io.TextIOWrapper(self.open_binary(), encoding="utf-8-sig", errors="replace")

    def named(self, name: str) -> Blob | str:
        """A file mentioned by name in a text export, beside it in the same container."""
        return self.files.attachment(name)


def check_source(path: Path) -> None:
    """Refuse, in one line, a SOURCE that does not exist or is of no kind the importer reads."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    if not path.is_dir() and path.suffix.lower() not in SUFFIXES:
        expected = "expected a .jsonl, .txt or .zip file, or a folder"
        raise UsageError(f"{path}: not a source ({expected})")


def walk(path: Path) -> Iterator[Entry | Problem | Skipped]:
    """The readable files of one SOURCE in a stable order, and problems of its containers."""
    if path.is_dir():
        yield from _walk_folder(path)
        return
    if (irregular := _irregular(path)) is not None:
        yield irregular
        return
    suffix = path.suffix.lower()
    if suffix == ".zip":
        yield from _walk_zip(path, str(path))
        return
    files = _FolderFiles(path.parent.absolute(), "")
    kind: Kind = "jsonl" if suffix == ".jsonl" else "txt"
    yield Entry(str(path), kind, _file_opener(path), files, chat_title(path.name))


def first_text_export(paths: Iterable[Path]) -> str | None:
    """The first WhatsApp text export among `paths`, found by listing (and sniffing) only."""
    for path in paths:
        for found in walk(path):
            if isinstance(found, Entry) and found.kind == "txt":
                return found.source
    return None


def looks_like_export(head: str) -> bool:
    """Whether a text starts like a WhatsApp chat export (its first non-empty line)."""
    for line in head.splitlines():
        if clean(line).strip():
            return looks_like_header(line)
    return False


def _is_export_name(name: str) -> bool:
    # `_chat.txt` (iOS) and `WhatsApp Chat with X.txt` in every language keep the brand's name.
    return name == "_chat.txt" or "whatsapp" in name.casefold()


def _is_hidden(parts: list[str]) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def _escapes(path: str) -> bool:
    """Whether a normalised relative POSIX path leaves its root."""
    return path == ".." or path.startswith("../")


def _is_absolute(path: str) -> bool:
    windows = PureWindowsPath(path)
    return path.startswith(("/", "\\")) or bool(windows.drive or windows.root)


def _walk_folder(folder: Path) -> Iterator[Entry | Problem | Skipped]:
    root = folder.absolute()
    found: list[tuple[str, ...]] = []
    for here, dirs, names in os.walk(root):
        # Symlinked folders are not followed: they could loop or lead anywhere.
        dirs[:] = [d for d in dirs if not _is_hidden([d])]
        base = Path(here).relative_to(root).parts
        found += [(*base, n) for n in names if not _is_hidden([n]) and _suffix(n) in SUFFIXES]
    if not found:
        yield Problem(str(folder), None, "no .jsonl, .txt or .zip files in this folder")
    for parts in sorted(found):
        path = folder.joinpath(*parts)
        if (irregular := _irregular(path)) is not None:
            yield irregular
            continue
        member = "/".join(parts)
        suffix = _suffix(member)
        if suffix == ".zip":
            yield from _walk_zip(path, str(path))
            continue
        files = _FolderFiles(root, posixpath.dirname(member))
        opener = _file_opener(path)
        if suffix == ".jsonl":
            yield Entry(str(path), "jsonl", opener, files)
        else:
            yield _text_entry(str(path), member, opener, files, chat_title(member))


def _walk_zip(path: Path, display: str) -> Iterator[Entry | Problem | Skipped]:
    try:
        archive = zipfile.ZipFile(path)  # checked to be a regular file by the caller
    except _ZIP_ERRORS as exc:
        yield Problem(display, None, f"not a readable zip archive ({exc})")
        return
    with archive:
        sizes: dict[str, int] = {}
        for info in archive.infolist():
            name = info.filename
            parts = name.replace("\\", "/").split("/")
            if _is_absolute(name) or ".." in parts:
                reason = "member name is absolute or has '..'; not read"
                yield Problem(f"{display}:{name}", None, reason)
            elif info.is_dir() or _is_hidden(parts):
                continue
            elif info.flag_bits & 0x1:
                yield Problem(f"{display}:{name}", None, "member is encrypted; not read")
            elif info.compress_type not in _COMPRESSIONS:
                reason = f"compression method {info.compress_type} is not supported; not read"
                yield Problem(f"{display}:{name}", None, reason)
            else:
                sizes[name] = info.file_size
        index = _ZipIndex(path.absolute(), sizes)
        readable = [name for name in sorted(sizes) if _suffix(name) in (".jsonl", ".txt")]
        if not readable:
            yield Problem(display, None, "no .jsonl or WhatsApp .txt export in this archive")
        for name in readable:
            files = _ZipFiles(index, posixpath.dirname(name))
            opener = partial(archive.open, name)
            if _suffix(name) == ".jsonl":
                yield Entry(f"{display}:{name}", "jsonl", opener, files)
            else:
                title = chat_title(name) or chat_title(path.name)
                yield _text_entry(f"{display}:{name}", name, opener, files, title)
        for name in sorted(sizes):
            if _suffix(name) == ".zip":
                reason = "zip archives inside zip archives are not read; unzip it first"
                yield Problem(f"{display}:{name}", None, reason)


def _text_entry(
    source: str, member: str, opener: Callable[[], IO[bytes]], files: Files, title: str | None
) -> Entry | Problem | Skipped:
    entry = Entry(source, "txt", opener, files, title)
    if _is_export_name(posixpath.basename(member)):
        return entry
    # Exports get renamed; what gives them away is their first line.
    try:
        with opener() as stream:
            head = stream.read(_SNIFF_BYTES).decode("utf-8", errors="replace")
    except _ZIP_ERRORS as exc:
        return Problem(source, None, f"cannot read ({exc})")
    return entry if looks_like_export(head) else Skipped(source, None, "not a WhatsApp export")


def _irregular(path: Path) -> Problem | None:
    """A problem for a path that is no regular file (a FIFO, a device, a socket): reading one
    would wait forever for a writer, or never end (`/dev/zero`)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return Problem(str(path), None, f"cannot read ({exc.strerror})")
    if stat.S_ISREG(mode):
        return None
    return Problem(str(path), None, "not a regular file (a FIFO, device or socket); not read")


def open_regular(path: Path) -> IO[bytes]:
    """Open `path` for reading only if it is a regular file, without waiting for a FIFO's writer.

    Checked on the open file itself: the path may have been swapped since it was listed.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path}: not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _file_opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: open_regular(path)


def _suffix(name: str) -> str:
    return posixpath.splitext(name)[1].lower()


def _normalise(base: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(base, path.replace("\\", "/")))


def _media_match(name: str, media_id: str) -> bool:
    return name == media_id or name.startswith(media_id + ".")


class _FolderFiles:
    """Files below `root`, looked up from the folder `base` (relative to `root`)."""

    def __init__(self, root: Path, base: str) -> None:
        self._root = root
        self._base = base
        self._listings: dict[str, list[str]] = {}

    def attachment(self, path: str) -> Blob | str:
        if not path:
            return "attachment path is empty"
        if _is_absolute(path):
            return f"attachment path {path!r} is absolute; it must be relative to the file"
        member = _normalise(self._base, path)
        if _escapes(member):
            return f"attachment path {path!r} leads outside {self._root}"
        found = self._blob(member)
        if isinstance(found, Blob):
            return found
        return f"attachment {path!r} {found} {self._root}"

    def media(self, media_id: str) -> Blob | None:
        if not media_id or "/" in media_id or "\\" in media_id or media_id.startswith("."):
            return None
        for folder in dict.fromkeys([self._base, _normalise(self._base, "media")]):
            for name in self._listing(folder):
                if _media_match(name, media_id):
                    blob = self._blob(_join(folder, name))
                    if isinstance(blob, Blob):
                        return blob
        return None

    def _blob(self, member: str) -> Blob | str:
        """The file, or where it failed: "not found in" or "leads outside" (then the root)."""
        path = self._root / member
        # A symlink inside the folder may point anywhere; only its target counts.
        if not path.resolve().is_relative_to(self._root.resolve()):
            return "is a link that leads outside"
        if not path.is_file():
            return "not found in"
        return Blob(self._root, member, path.stat().st_size)

    def _listing(self, folder: str) -> list[str]:
        if folder not in self._listings:
            try:
                names = sorted(p.name for p in (self._root / folder).iterdir())
            except OSError:
                names = []
            self._listings[folder] = names
        return self._listings[folder]

    def __repr__(self) -> str:
        return f"_FolderFiles({self._root}, {self._base!r})"


def _join(folder: str, name: str) -> str:
    return name if folder in ("", ".") else f"{folder}/{name}"


class _ZipIndex:
    """A zip's safe members and their declared sizes, grouped by folder for media lookups."""

    def __init__(self, path: Path, sizes: Mapping[str, int]) -> None:
        self.path = path
        self.sizes = sizes
        self.by_folder: dict[str, list[str]] = {}
        for name in sorted(sizes):
            folder, base = posixpath.split(name)
            self.by_folder.setdefault(folder, []).append(base)


class _ZipFiles:
    """Members of one zip, looked up from its root, then from the reading member's folder."""

    def __init__(self, index: _ZipIndex, base: str) -> None:
        self._index = index
        self._base = base

    def attachment(self, path: str) -> Blob | str:
        if not path:
            return "attachment path is empty"
        if _is_absolute(path):
            return f"attachment path {path!r} is absolute; it must be relative to the zip's root"
        candidates = dict.fromkeys([_normalise("", path), _normalise(self._base, path)])
        safe = [m for m in candidates if not _escapes(m)]
        if not safe:
            return f"attachment path {path!r} leads outside {self._index.path.name}"
        for member in safe:
            if member in self._index.sizes:
                return Blob(self._index.path, member, self._index.sizes[member])
        return f"attachment {path!r} not found in {self._index.path.name}"

    def media(self, media_id: str) -> Blob | None:
        if not media_id or "/" in media_id or "\\" in media_id or media_id.startswith("."):
            return None
        folders = ["", "media", self._base, _normalise(self._base, "media")]
        for folder in dict.fromkeys(f if f != "." else "" for f in folders):
            for name in self._index.by_folder.get(folder, []):
                if _media_match(name, media_id):
                    member = _join(folder, name)
                    return Blob(self._index.path, member, self._index.sizes[member])
        return None

    def __repr__(self) -> str:
        return f"_ZipFiles({self._index.path}, {self._base!r})"
