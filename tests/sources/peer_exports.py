"""Score the text-export reader on other parsers' real exports: how many messages it reads exactly.

`../shared/peer-exports/<project>/` (beside the repository; `PEER_EXPORTS` overrides the path)
holds export files other public parsers test with, and `expected/<file>.json` what those projects
assert about each message. A message counts when the reader yields one with the same sender, the
same minute (unless the file's dates are ambiguous and the peer asserts none) and the same text
(WhatsApp's own text where the peer's departs from it). System lines, optional messages and the
ones marked `questionable` (impossible times, made-up phone numbers) are not scored.

Run it as `python -m tests.sources.peer_exports` for the score and every message missed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from importer.model import Message, Problem
from importer.sources import read_sources
from importer.sources.options import ReadOptions

ROOT = Path(__file__).resolve().parents[2]


def peer_exports() -> Path:
    """Where the shared peer exports are (they may be absent: CI has them, a clone may not)."""
    return Path(os.environ.get("PEER_EXPORTS") or ROOT.parent / "shared" / "peer-exports")


@dataclass
class Score:
    scored: int = 0
    exact: int = 0
    missed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # system lines read as messages


def _options(expected: dict[str, Any]) -> ReadOptions:
    harness = expected["harness"]
    phones = dict(harness.get("phone_senders") or {})
    for index, name in enumerate(harness["mapping_senders"]):
        phones.setdefault(name, f"+1650555{index + 100:04d}")
    me = harness.get("me")
    order = expected.get("flags", {}).get("date_order")
    return ReadOptions(
        me=(me,) if me else (), timezone=ZoneInfo("UTC"), date_order=order, sender_phones=phones
    )


def _texts(want: dict[str, Any]) -> list[str]:
    if want.get("empty_body"):
        return [""]
    texts = [want.get("truth_text", want.get("text")), want.get("also_accept_text")]
    if want.get("media_file"):
        texts.append("")  # a marker without its file: the message, its text as written or empty
    return [t.rstrip() for t in texts if t is not None]


def _fits(want: dict[str, Any], got: Message, compare_times: bool) -> bool:
    if "author" in want and got.sender_name != want["author"]:
        return False
    minute = got.timestamp.strftime("%Y-%m-%dT%H:%M")
    if compare_times and "time" in want and minute != want["time"][:16]:
        return False
    text = got.text.rstrip()
    if "text_prefix" in want:
        return text.startswith(want["text_prefix"])
    texts = _texts(want)
    return not texts or text in texts


def score_file(fixture: Path, expected: dict[str, Any]) -> Score:
    items = list(read_sources([fixture], _options(expected)))
    read = [i for i in items if isinstance(i, Message)]
    compare_times = not any("times are not compared" in n for n in expected.get("notes", []))
    score = Score()
    unused = list(read)
    for want in expected["messages"]:
        found = next((m for m in unused if _fits(want, m, compare_times)), None)
        if want.get("system"):
            if found is not None and "author" in want:
                score.extra.append(f"{fixture.name}: system line read: {found.text!r}")
            continue
        if want.get("optional") or want.get("questionable"):
            if found is not None:
                unused.remove(found)
            continue
        score.scored += 1
        if found is not None:
            unused.remove(found)
            score.exact += 1
        else:
            problems = [f"{p.line}: {p.reason}" for p in items if isinstance(p, Problem)]
            score.missed.append(
                f"{fixture.name}: {want.get('author')} {want.get('time')} "
                f"{want.get('text', want.get('text_prefix'))!r} (problems: {problems[:3]})"
            )
    return score


def cases(folder: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(folder.glob("*/expected/*.json")):
        expected: dict[str, Any] = orjson.loads(path.read_bytes())
        yield path.parent.parent / expected["fixture"], expected


def score_all(folder: Path) -> Score:
    total = Score()
    for fixture, expected in cases(folder):
        one = score_file(fixture, expected)
        total.scored += one.scored
        total.exact += one.exact
        total.missed += one.missed
        total.extra += one.extra
    return total


def main() -> int:
    folder = peer_exports()
    if not folder.is_dir():
        print(f"no peer exports at {folder} (set PEER_EXPORTS)", file=sys.stderr)
        return 2
    total = score_all(folder)
    for line in total.missed + total.extra:
        print(line)
    print(f"{total.exact}/{total.scored} messages read exactly; {len(total.extra)} extra")
    return 0 if total.exact == total.scored and not total.extra else 1


if __name__ == "__main__":
    sys.exit(main())
