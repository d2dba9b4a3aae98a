"""Phone numbers the way Close stores them: E.164 with `+`, plus an international display form."""

from __future__ import annotations

import functools
import re

import phonenumbers

# Close reads a number without `+` as already carrying its country code (`16503334444`).
_NOTATION = re.compile(r"\+?[0-9 ().\-]+")


# Every create carries two phones, mostly the same few: parse each spelling once.
@functools.lru_cache(maxsize=65536)
def to_e164(raw: str) -> str | None:
    """`+16503334444` for any common notation of that number, or None when it is not a phone."""
    text = raw.strip()
    if not _NOTATION.fullmatch(text) or "+" in text[1:]:
        return None
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 15:
        return None
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # Leading zeros after the country code do not survive E.164: such digits are no number.
    return e164 if e164[1:] == digits else None


@functools.lru_cache(maxsize=65536)
def formatted(e164: str) -> str:
    """The international display form Close returns in `*_formatted` fields."""
    number = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
