"""Property: messages rendered in an export variant read back as the same messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from importer.sources.txt_headers import parse_header
from importer.sources.txt_markers import media_of, skip_kind, without_edited_marker
from tests.sources.test_txt_support import read

Render = Callable[[datetime], str]  # the header up to the sender


def _h12(when: datetime) -> int:
    return when.hour % 12 or 12


def _pm(when: datetime) -> bool:
    return when.hour >= 12


VARIANTS: dict[str, tuple[Render, bool, bool]] = {
    # name: (header before the sender, has seconds, is iOS)
    "android_24h": (lambda t: f"{t:%d/%m/%Y, %H:%M} - ", False, False),
    "android_en_us_u202f": (
        lambda t: f"{t.month}/{t.day}/{t:%y}, {_h12(t)}:{t:%M}\u202f{t:%p} - ",
        False,
        False,
    ),
    "android_de": (lambda t: f"{t:%d.%m.%y, %H:%M} - ", False, False),
    "android_es_nbsp": (
        lambda t: (
            f"{t.day}/{t.month}/{t.year} {_h12(t)}:{t:%M} {'p' if _pm(t) else 'a'}.\u00a0m. - "
        ),
        False,
        False,
    ),
    "german_periods": (
        lambda t: f"{t:%d.%m.%y}, {_h12(t)}:{t:%M} {'nachm.' if _pm(t) else 'vorm.'} - ",
        False,
        False,
    ),
    "finnish_klo": (
        lambda t: f"{t.day}.{t.month}.{t.year} klo {t.hour}.{t:%M.%S} - ",
        True,
        False,
    ),
    "year_first": (lambda t: f"{t:%Y-%m-%d, %H:%M} - ", False, False),
    "cjk_zh": (
        lambda t: f"{t.year}/{t.month}/{t.day} {'下午' if _pm(t) else '上午'}{_h12(t)}:{t:%M} - ",
        False,
        False,
    ),
    "ios_24h": (lambda t: f"\u200e[{t:%d.%m.%y, %H:%M:%S}] ", True, True),
    "ios_12h": (lambda t: f"[{t:%d/%m/%Y}, {_h12(t)}:{t:%M:%S} {t:%p}] ", True, True),
    "ios_es": (
        lambda t: (
            f"[{t.day}/{t.month}/{t:%y} {_h12(t)}:{t:%M:%S} {'p' if _pm(t) else 'a'}.\u00a0m.] "
        ),
        True,
        True,
    ),
}

# Text decoded from a file never holds lone surrogates (Cs): the reader gets U+FFFD instead.
_LINE_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\n\r\u200e")
_TEXT = st.lists(st.text(_LINE_CHARS, min_size=0, max_size=30), min_size=1, max_size=4).map(
    "\n".join
)
_NAMES = st.sampled_from(["Ann", "José Müller", "小明", "Ann-Marie O'Neil", "Bob 2"])
_TIMES = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 12, 31))


def _importable(text: str) -> bool:
    lines = text.split("\n")
    return (
        bool(text.strip())
        and text == text.rstrip()
        and all(parse_header(line) is None for line in lines[1:])
        and skip_kind(text, has_sender=True, marked=False) is None
        and media_of(text) is None
        and without_edited_marker(text) == text
    )


@settings(max_examples=100, deadline=None)
@given(
    variant=st.sampled_from(sorted(VARIANTS)),
    other=_NAMES,
    messages=st.lists(st.tuples(st.booleans(), _TEXT, _TIMES), min_size=1, max_size=8),
)
def test_roundtrip(variant: str, other: str, messages: list[tuple[bool, str, datetime]]) -> None:
    render, seconds, ios = VARIANTS[variant]
    for _, text, _ in messages:
        assume(_importable(text))
    # A first message on the 28th lets the file settle its own day/month order.
    anchor = (False, "anchor", datetime(2020, 1, 28, 10, 0))
    lines = []
    expected = []
    for mine, text, when in [anchor, *messages]:
        sender = "Me" if mine else other
        exact = when.replace(microsecond=0) if seconds else when.replace(second=0, microsecond=0)
        lines.append(f"{render(exact)}{sender}: {text}")
        expected.append((exact, sender, text, "outgoing" if mine else "incoming"))
    export = ("\r\n" if ios else "\n").join(lines) + "\n"

    result = read(export)

    assert result.problems == []
    orders = {"year_first": "ymd", "cjk_zh": "ymd", "android_en_us_u202f": "mdy"}
    assert result.info.date_order == orders.get(variant, "dmy")
    got = [
        (m.timestamp.replace(tzinfo=None), m.sender_name, m.text, m.direction)
        for m in result.messages
    ]
    assert got == expected
    assert len({m.external_id for m in result.messages}) == len(result.messages)
