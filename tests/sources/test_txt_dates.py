"""The per-file day/month decision, its evidence and override, and DST-correct local times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.sources.test_txt_support import read


def chat(*dates: str) -> str:
    return "".join(f"{date}, 10:{i:02d} - Ann: m{i}\n" for i, date in enumerate(dates))


@pytest.mark.parametrize(
    ("case", "text", "order", "evidence"),
    [
        (
            "over12_day_first",
            chat("01/02/23", "29/01/23"),
            "dmy",
            "day first: 29/01 in line 2",
        ),
        (
            "over12_month_first",
            chat("01/02/23", "01/29/23"),
            "mdy",
            "month first: 01/29 in line 2",
        ),
        (
            "decrease_day_first",
            chat("10/01/23", "11/01/23", "01/02/23", "02/02/23"),
            "dmy",
            "day first: the first number falls from 11 to 1 within a year in line 3",
        ),
        (
            "decrease_month_first",
            chat("01/10/23", "01/11/23", "02/01/23", "02/02/23"),
            "mdy",
            "month first: the second number falls from 11 to 1 within a year in line 3",
        ),
        (
            "decrease_across_years_is_no_evidence",
            chat("12/01/22", "01/01/23", "01/02/23", "01/03/23"),
            "mdy",
            "month first: the first number changes 1 times, the second 2 times",
        ),
        (
            "changes_more_often_day_first",
            chat("01/01/23", "02/01/23", "03/01/23"),
            "dmy",
            "day first: the first number changes 2 times, the second 0 times",
        ),
        (
            "default_day_first",
            chat("05/06/23", "05/06/23"),
            "dmy",
            "day first: no date tells day from month (assumed)",
        ),
        ("no_headers", "just text\n", "dmy", "day first: no dates to decide from (assumed)"),
        (
            "year_first",
            "[2018/06/13, 21:25:15] Ann: m\n",
            "ymd",
            "year first: 2018/06/13 in line 1",
        ),
    ],
)
def test_date_order(case: str, text: str, order: str, evidence: str) -> None:
    result = read(text)
    assert (result.info.date_order, result.info.evidence) == (order, evidence)


def test_date_order_is_per_file_not_per_line() -> None:
    # 02/03 alone would be day first; the 13 in the second position settles the whole file.
    result = read(chat("02/03/23", "02/13/23"))
    assert [m.timestamp.date().isoformat() for m in result.messages] == [
        "2023-02-03",
        "2023-02-13",
    ]


def test_date_order_override() -> None:
    result = read(chat("01/02/23", "02/02/23"), date_order="mdy")
    assert (result.info.date_order, result.info.evidence) == ("mdy", "set by --date-order")
    assert [m.timestamp.month for m in result.messages] == [1, 2]
    assert result.problems == []


def test_date_order_override_contradicted_by_the_file_is_reported() -> None:
    result = read(chat("01/02/23", "29/01/23"), date_order="mdy")
    assert [p.reason for p in result.problems] == [
        "--date-order mdy does not fit 29/01 in line 2:"
        " such lines are read as part of the message before them"
    ]
    assert [m.text for m in result.messages] == ["m0\n29/01/23, 10:01 - Ann: m1"]


def test_date_order_ymd_override_keeps_detection_for_other_dates() -> None:
    result = read(chat("13/01/23"), date_order="ymd")
    assert result.info.date_order == "ymd"
    assert result.messages[0].timestamp.month == 1


def test_two_digit_years_are_this_century() -> None:
    assert read(chat("13/01/99")).messages[0].timestamp.year == 2099


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        ("26.03.23, 01:59", "2023-03-26T00:59:00+00:00"),  # still winter time (+01:00)
        ("26.03.23, 03:00", "2023-03-26T01:00:00+00:00"),  # summer time (+02:00)
        ("26.03.23, 02:30", "2023-03-26T01:30:00+00:00"),  # does not exist: fold=0, +01:00
        ("29.10.23, 02:30", "2023-10-29T00:30:00+00:00"),  # twice: fold=0, the first (+02:00)
        ("29.10.23, 03:30", "2023-10-29T02:30:00+00:00"),  # winter time again
    ],
)
def test_dst_correct_local_times(local: str, utc: str) -> None:
    result = read(f"{local} - Ann: hi\n", zone="Europe/Berlin")
    (message,) = result.messages
    assert message.timestamp.astimezone(UTC).isoformat() == utc


def test_timezone_option_changes_the_instant_not_the_wall_time() -> None:
    text = "[13.01.23, 09:15:00] Ann: hi\n"
    tokyo = read(text, zone="Asia/Tokyo").messages[0].timestamp
    lima = read(text, zone="America/Lima").messages[0].timestamp
    assert tokyo.replace(tzinfo=None) == lima.replace(tzinfo=None) == datetime(2023, 1, 13, 9, 15)
    assert (lima - tokyo).total_seconds() == 14 * 3600


@pytest.mark.parametrize(
    ("time", "hour"),
    [
        ("12:05 AM", 0),
        ("12:05 PM", 12),
        ("1:05 pm", 13),
        ("1:05 p.\u00a0m.", 13),
        ("1:05\u202fp.m.", 13),
        ("1:05 a. m.", 1),
        ("11:05 vorm.", 11),
        ("1:05 nachm.", 13),
        ("9:05 abends", 21),
        ("12:05 mittags", 12),
        ("1:05 mittags", 13),
        ("10:05 nachts", 22),
        ("2:05 nachts", 2),
        ("上午11:05", 11),
        ("下午1:05", 13),
        ("午前0:05", 0),
        ("午後0:05", 12),
        ("오전 9:05", 9),
        ("오후 9:05", 21),
    ],
)
def test_day_periods(time: str, hour: int) -> None:
    (message,) = read(f"13/01/2023, {time} - Bob: hi\n", me=()).messages
    assert (message.timestamp.hour, message.timestamp.minute) == (hour, 5)
    assert message.sender_name == "Bob"


def test_impossible_times_are_not_headers() -> None:
    text = chat("13/01/23") + "13/01/23, 25:00 - Ann: no\n13/01/23, 13:00 PM - Ann: no\n"
    (message,) = read(text).messages
    assert message.text.splitlines()[1:] == [
        "13/01/23, 25:00 - Ann: no",
        "13/01/23, 13:00 PM - Ann: no",
    ]
