"""Dates and times of a text export: the per-file day/month decision and local times.

The order is decided once per file from all its header dates, never per line: a number above
12 settles it (that position is the day); else the position that ever decreases while the year
stays the same is the day (months only grow within a year); else the one that changes more
often; else day first. Year-first dates are always year-month-day; two-digit years are 20xx.

Times are wall-clock times of the exporting phone, made aware with the `--timezone` zone.
A time that does not exist (skipped by a DST change) or exists twice (repeated by one) is
read with `fold=0`: the offset in force *before* the change. So 02:30 on the night clocks go
forward is read as 02:30 standard time (= 03:30 summer time), and the repeated 02:30 on the night
they go back is the first one (summer time). Exports carry no offset, so nothing better exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from importer.sources.options import DateOrder
from importer.sources.txt_headers import Header

_AM = frozenset({"am", "vorm", "morgens", "früh", "上午", "午前", "오전", "凌晨", "早上"})
_PM = frozenset({"pm", "nachm", "abends", "下午", "午後", "오후", "晚上"})
_NOON = frozenset({"mittags", "中午"})


def _year(text: str) -> int:
    return 2000 + int(text) if len(text) == 2 else int(text)


def hour_of_day(hour: int, period: str | None) -> int | None:
    """The 0-23 hour for `hour` written with `period` (None: a 24h clock); None if impossible."""
    if period is None:
        return hour if hour < 24 else None
    if hour > 12:
        return None
    key = period.lower().replace(".", "").replace(" ", "")
    if key in _AM:
        return 0 if hour == 12 else hour
    if key in _PM:
        return hour if hour == 12 else hour + 12
    if key in _NOON:  # "11:30 mittags" is before noon, "1:30 mittags" after
        return hour if hour >= 11 else hour + 12
    # "nachts": late evening or small hours
    if hour == 12:
        return 0
    return hour + 12 if hour >= 6 else hour


def local_time(header: Header, day_first: bool, zone: ZoneInfo) -> datetime | None:
    """The aware time a header states, or None when its date or time is impossible."""
    if header.year_first:
        year, month, day = int(header.a), int(header.b), int(header.c)
    else:
        first, second = int(header.a), int(header.b)
        day, month = (first, second) if day_first else (second, first)
        year = _year(header.c)
    hour = hour_of_day(int(header.hour), header.period)
    minute = int(header.minute)
    second_ = int(header.second) if header.second is not None else 0
    if hour is None or minute > 59 or second_ > 59:
        return None
    try:
        return datetime(year, month, day, hour, minute, second_, tzinfo=zone, fold=0)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Decision:
    """The file's date order, why, and whether non-year-first dates start with the day."""

    order: DateOrder
    evidence: str
    day_first: bool
    conflict: str | None = None  # an override the file itself contradicts


@dataclass(slots=True)
class DateStats:
    """Evidence for the day/month order, gathered header by header in constant memory."""

    headers: int = 0
    year_first: tuple[int, str] | None = None
    over12: list[int] = field(default_factory=lambda: [0, 0])
    first_over12: list[tuple[int, str] | None] = field(default_factory=lambda: [None, None])
    decreases: list[int] = field(default_factory=lambda: [0, 0])
    first_decrease: list[tuple[int, str] | None] = field(default_factory=lambda: [None, None])
    changes: list[int] = field(default_factory=lambda: [0, 0])
    previous: tuple[int, int, int] | None = None

    def add(self, header: Header, line: int) -> None:
        text = f"{header.a}{header.sep}{header.b}{header.sep}{header.c}"
        if header.year_first:
            if self.year_first is None:
                self.year_first = (line, text)
            return
        self.headers += 1
        current = (int(header.a), int(header.b), _year(header.c))
        for position in (0, 1):
            if current[position] > 12:
                self.over12[position] += 1
                if self.first_over12[position] is None:
                    self.first_over12[position] = (line, f"{header.a}{header.sep}{header.b}")
        previous, self.previous = self.previous, current
        if previous is None:
            return
        for position in (0, 1):
            if current[position] != previous[position]:
                self.changes[position] += 1
            if current[2] == previous[2] and current[position] < previous[position]:
                self.decreases[position] += 1
                if self.first_decrease[position] is None:
                    fall = f"from {previous[position]} to {current[position]}"
                    self.first_decrease[position] = (line, fall)

    def _detect(self) -> tuple[bool, str]:
        """Whether the day comes first, and a sentence saying why."""
        names = ("day first", "month first")
        over_first, over_second = self.over12
        if over_first or over_second:
            position = 0 if over_first >= over_second else 1
            line, text = self.first_over12[position] or (0, "")
            return position == 0, f"{names[position]}: {text} in line {line}"
        dec_first, dec_second = self.decreases
        if dec_first != dec_second:
            position = 0 if dec_first > dec_second else 1
            line, fall = self.first_decrease[position] or (0, "")
            which = ("first", "second")[position]
            return position == 0, (
                f"{names[position]}: the {which} number falls {fall} within a year in line {line}"
            )
        changed_first, changed_second = self.changes
        if changed_first != changed_second:
            position = 0 if changed_first > changed_second else 1
            return position == 0, (
                f"{names[position]}: the first number changes {changed_first} times,"
                f" the second {changed_second} times"
            )
        if self.headers == 0:
            return True, "day first: no dates to decide from (assumed)"
        return True, "day first: no date tells day from month (assumed)"

    def decide(self, override: DateOrder | None) -> Decision:
        """The order to read this file with: `override` if given, else the evidence's."""
        day_first, evidence = self._detect()
        if self.headers == 0 and self.year_first is not None:
            line, text = self.year_first
            detected: DateOrder = "ymd"
            evidence = f"year first: {text} in line {line}"
        else:
            detected = "dmy" if day_first else "mdy"
        if override is None:
            return Decision(detected, evidence, day_first)
        if override == "ymd":
            return Decision("ymd", "set by --date-order", day_first)
        wanted_day_first = override == "dmy"
        conflict = None
        contradiction = self.first_over12[1 if wanted_day_first else 0]
        if contradiction is not None:
            line, text = contradiction
            conflict = (
                f"--date-order {override} does not fit {text} in line {line}:"
                " such lines are read as part of the message before them"
            )
        return Decision(override, "set by --date-order", wanted_day_first, conflict)
