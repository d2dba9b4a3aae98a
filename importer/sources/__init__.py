"""Reading archives: every SOURCE becomes a stream of messages, problems, skips and decisions.

A SOURCE is a `.jsonl` file, a WhatsApp `.txt` export, a `.zip` holding either with its media, or
a folder of those. Items carry a `source` string: the path as the user gave it, and for a zip's
member `archive.zip:member/path`.
"""

from __future__ import annotations

import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path

from importer.model import Item, Problem
from importer.sources.container import Entry, check_source, walk
from importer.sources.jsonl import read_jsonl
from importer.sources.meter import ReadMeter
from importer.sources.options import ReadOptions
from importer.sources.settled import SettledFiles

__all__ = ["read_sources"]

# A file with more problems than this is garbage, or not what it seems; the rest are counted.
MAX_PROBLEMS_PER_FILE = 1000
# What a damaged file or zip member raises while it is being read.
_READ_ERRORS = (OSError, zipfile.BadZipFile, zlib.error, EOFError)


def read_sources(
    paths: Sequence[Path],
    options: ReadOptions,
    meter: ReadMeter | None = None,
    settled: SettledFiles | None = None,
) -> Iterator[Item]:
    """Stream the items of all sources in the order given; files within a folder sorted.

    Raises `UsageError` at once, before anything is read, for a path that does not exist or is
    of no supported kind. Everything wrong inside the sources is a `Problem` item instead.
    `meter` counts the bytes read. With `settled`, a file the checkpoint holds as settled is a
    `SettledFile` item instead of its contents, and each file read to its end a `FileRead`.
    """
    for path in paths:
        check_source(path)
    read_all = _read_all(list(paths), options, meter, settled)
    return _capped(chain(options.mapping_problems, read_all))


def _capped(items: Iterable[Item]) -> Iterator[Item]:
    """`items` with at most `MAX_PROBLEMS_PER_FILE` problems of each file, then a count of the
    rest: garbage must not fill memory with reasons."""
    kept: Counter[str] = Counter()
    left_out: Counter[str] = Counter()
    for item in items:
        if isinstance(item, Problem):
            if kept[item.source] == MAX_PROBLEMS_PER_FILE:
                left_out[item.source] += 1
                continue
            kept[item.source] += 1
        yield item
    for source, count in left_out.items():
        reason = (
            f"{count} more problems in this file, not listed: only the first "
            f"{MAX_PROBLEMS_PER_FILE} of a file are kept"
        )
        yield Problem(source, None, reason)


def _read_all(
    paths: list[Path], options: ReadOptions, meter: ReadMeter | None, settled: SettledFiles | None
) -> Iterator[Item]:
    def read(entry: Entry) -> Iterator[Item]:
        return _read_entry(entry, options)

    for path in paths:
        for found in walk(path):
            if isinstance(found, Entry):
                counted = found if meter is None else meter.counted(found)
                yield from read(counted) if settled is None else settled.read(counted, read)
            else:
                yield found


def _read_entry(entry: Entry, options: ReadOptions) -> Iterator[Item]:
    try:
        if entry.kind == "jsonl":
            with entry.open_binary() as stream:
                yield from read_jsonl(
                    stream, entry.source, entry.files, user_phones=options.sender_phones
                )
        else:
            yield from _read_text_export(entry, options)
    except _READ_ERRORS as exc:
        yield Problem(entry.source, None, f"stopped reading: the file is damaged ({exc})")


def _read_text_export(entry: Entry, options: ReadOptions) -> Iterator[Item]:
    # Imported here: its patterns cost start-up time that a JSONL-only run need not pay.
    from importer.sources.txt_export import read_txt_export

    yield from read_txt_export(
        entry.open_text, entry.source, options, entry.named, title=entry.title
    )
