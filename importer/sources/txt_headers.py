"""Recognise the header line that starts a message in a WhatsApp "Export chat" text.

Android writes `date, time - Sender: text`, iOS `[date, time] Sender: text`; everything else
(locale, 12/24h, separators, seconds, invisible marks) varies. This module only says whether a
line *looks* like a header and splits it; whether its date is valid is `txt_dates`' business,
because that depends on the day/month order decided for the whole file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Formatting marks WhatsApp and the OS put around names, times and numbers: left-to-right
# marks, byte-order marks, directional embeddings and isolates (mentions are `@` + isolate).
_MARKS = "\u200e\u200f\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Spaces the locale puts inside times ("7:02\u202fPM", "p.\u00a0m.") read as plain spaces.
_SPACES = "\u202f\u00a0\u2007\u2009"
_CLEAN = str.maketrans({**dict.fromkeys(_MARKS, None), **dict.fromkeys(_SPACES, " ")})
_BODY_CLEAN = str.maketrans(dict.fromkeys("\u200e\ufeff", None))

_DATE = r"(?P<a>\d{1,4})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<c>\d{1,4})\.?"
# Day periods: English in any spelling ("PM", "pm", "p.m.", "p. m."), German, and the CJK
# words that go *before* the time. Listing them keeps a sender from swallowing one.
_PERIOD = (
    r"[aApP]\.? ?[mM]\.?|vorm\.?|nachm\.?|abends|morgens|mittags|nachts|früh"
    r"|上午|下午|午前|午後|오전|오후|中午|凌晨|早上|晚上"
)
_TIME = (
    rf"(?:(?P<pre>{_PERIOD}) ?)?"
    r"(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:[:.](?P<s>\d{2}))?"
    rf"(?: ?(?P<post>{_PERIOD}))?"
)
# Between date and time: a comma, a space, or a word (Finnish `klo`, French `à`).
_BETWEEN = r"(?:, ?| )(?:klo |à )?"
# Android; some phones put a dot after the time (`2022/12/14, 13:34. - `).
_ANDROID = re.compile(rf"{_DATE}{_BETWEEN}{_TIME}\.? - (?P<rest>.*)")
_IOS = re.compile(rf"\[{_DATE}{_BETWEEN}{_TIME}\] ?(?P<rest>.*)")
# iOS before 2015: no brackets, no dash, seconds always (`27/02/14 05:16:12: Steve: text`).
_IOS_2014 = re.compile(rf"{_DATE} {_TIME}: (?P<rest>.*)")
# Date, time, a word that is no known day period, then a sender: a locale not supported yet.
_UNKNOWN_PERIOD = re.compile(
    rf"\[?{_DATE}{_BETWEEN}\d{{1,2}}[:.]\d{{2}}(?:[:.]\d{{2}})? ?"
    r"(?P<word>[^\W\d_][^\]\d]{0,12}?)(?:\] ?| - )[^:]{1,60}: "
)
# `Sender: text`; `John Doe:.` and `Luke: ` are how disappearing messages come out (empty).
_SENDER = re.compile(r"(?P<sender>[^:]{1,120}?):(?P<empty>\.?$| )")


def clean(text: str) -> str:
    """`text` without formatting marks and with locale spaces as plain spaces (headers only)."""
    return text.translate(_CLEAN)


def clean_body(text: str) -> str:
    """A message body as the customer wrote it: only the marks WhatsApp adds (U+200E, U+FEFF)
    go; directional marks a customer's keyboard may have typed stay."""
    return text.translate(_BODY_CLEAN)


@dataclass(frozen=True, slots=True)
class Header:
    """The parts of a header line, as strings; the date's meaning is decided later."""

    a: str  # first date number: day, month or (four digits) year
    sep: str
    b: str
    c: str
    hour: str
    minute: str
    second: str | None
    period: str | None  # the day period as written, spaces normalised
    sender: str | None  # cleaned; None for a system line without a sender
    body: str  # the rest of the line, U+200E removed, otherwise as written
    system_text: str  # the whole cleaned rest, for recognising sender-less system lines
    marked: bool  # the body starts with U+200E, as iOS writes its own notices

    @property
    def year_first(self) -> bool:
        return len(self.a) == 4


def _original_index(original: str, cleaned_end: int) -> int:
    """The index in `original` just after its `cleaned_end`-th kept character."""
    if cleaned_end == 0:
        return 0
    kept = 0
    for index, char in enumerate(original):
        if char not in _MARKS:
            kept += 1
            if kept == cleaned_end:
                return index + 1
    return len(original)


def parse_header(line: str) -> Header | None:
    """Split `line` if it is shaped like a header (its date not yet checked), else None."""
    cleaned = clean(line)
    if cleaned.startswith("["):
        match = _IOS.match(cleaned)
    else:
        match = _ANDROID.match(cleaned)
        if match is None and (match := _IOS_2014.match(cleaned)) and match["s"] is None:
            return None
    if match is None:
        return None
    year_first = len(match["a"]) == 4
    if len(match["a"]) == 3 or len(match["c"]) not in ((1, 2) if year_first else (2, 4)):
        return None
    if match["pre"] and match["post"]:
        return None
    rest_start = match.start("rest")
    rest = match["rest"]
    sender_match = _SENDER.match(rest)
    sender: str | None = None
    body_start = rest_start
    if sender_match is not None:
        sender = sender_match["sender"].strip().lstrip("~").strip()
        body_start = rest_start + sender_match.end()
    raw_body = line[_original_index(line, body_start) :] if sender else rest
    period = match["pre"] or match["post"]
    return Header(
        a=match["a"],
        sep=match["sep"],
        b=match["b"],
        c=match["c"],
        hour=match["h"],
        minute=match["m"],
        second=match["s"],
        period=period,
        sender=sender or None,
        body=clean_body(raw_body),
        system_text=rest.strip(),
        marked=raw_body.startswith("\u200e"),
    )


def looks_like_header(line: str) -> bool:
    """Whether `line` starts a message, or would if its day period were a known one."""
    return parse_header(line) is not None or unknown_period(line) is not None


def unknown_period(line: str) -> str | None:
    """The day-period word of a line that would be a header if that word were known."""
    match = _UNKNOWN_PERIOD.match(clean(line))
    return match["word"].strip() if match else None
