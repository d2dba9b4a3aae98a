"""The pure pieces: phones, date-times, seed data (WhatsApp Markdown: test_markdown.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from importer.emulator import EmulatorState, SeedError, phones, timestamps
from tests.emulator.conftest import config


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("16503334444", "+16503334444"),
        ("+1 650-333-4444", "+16503334444"),
        ("+1 (650) 333.4444", "+16503334444"),
        ("  +44 7700 900123 ", "+447700900123"),
        ("abc", None),
        ("12", None),
        ("1+6503334444", None),
        ("+1 650 333 4444 ext 2", None),
        ("", None),
        ("9800000", None),  # +98 then zeros: E.164 would drop digits, so it is no number
    ],
)
def test_phones(raw: str, e164: str | None) -> None:
    assert phones.to_e164(raw) == e164


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2024-05-01T10:00:00Z", True),
        ("2024-05-01T10:00:00.5+05:30", True),
        ("2024-05-01T10:00:00", False),
        ("2024-05-01 10:00:00Z", False),
        ("2024-05-01", False),
        ("2024-13-01T10:00:00Z", False),
        (1714550400, False),
    ],
)
def test_timestamps(value: object, ok: bool) -> None:
    assert (timestamps.parse(value) is not None) == ok


def test_generated_seed_is_deterministic() -> None:
    first, second = EmulatorState(config(data=None)), EmulatorState(config(data=None))
    assert list(first.leads) == list(second.leads)
    assert len(first.contacts) >= 3
    assert all(c.phones for c in first.contacts.values())


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"leads": {}},
        {"leads": [{"contacts": []}]},
        {"leads": [{"name": "X", "contacts": [{"name": "Y", "phones": ["nope"]}]}]},
        {"leads": [{"name": "X", "id": "cont_x"}]},
        {"leads": [{"name": "X", "id": "lead_x"}, {"name": "Y", "id": "lead_x"}]},
    ],
)
def test_bad_seed_data(data: dict[str, Any]) -> None:
    with pytest.raises(SeedError):
        EmulatorState(config(data=data))


@given(st.from_regex(r"\+?[0-9 ().\-]{0,25}", fullmatch=True))
def test_a_normalised_phone_normalises_to_itself(raw: str) -> None:
    e164 = phones.to_e164(raw)
    if e164 is not None:
        assert e164.startswith("+")
        assert phones.to_e164(e164) == e164
        assert phones.to_e164(phones.formatted(e164)) == e164
