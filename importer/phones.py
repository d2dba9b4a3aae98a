"""Phone numbers in any common notation, normalised to E.164 as Close stores them."""

from __future__ import annotations

import functools

import phonenumbers


# A chat repeats its two phones in every message: parse each spelling once (parsing is ~40 µs).
@functools.lru_cache(maxsize=65536)
def to_e164(raw: str, default_region: str | None = None) -> str | None:
    """Return `raw` in E.164 (`+16503334444`), or None when it cannot be a phone number.

    A number without `+` may be national (read in `default_region`) or international without
    its plus (`16503334444`, as in Close's own example): a reading that is a valid number
    wins over one that is merely possible.
    """
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text:
        return None
    candidates: list[tuple[str, str | None]] = []
    if text.startswith("+"):
        candidates.append((text, None))
    else:
        if default_region:
            candidates.append((text, default_region.upper()))
        candidates.append(("+" + text, None))
    parsed: list[phonenumbers.PhoneNumber] = []
    for number, region in candidates:
        try:
            parsed.append(phonenumbers.parse(number, region))
        except phonenumbers.NumberParseException:
            continue
    best = next((p for p in parsed if phonenumbers.is_valid_number(p)), None)
    best = best or next((p for p in parsed if phonenumbers.is_possible_number(p)), None)
    if best is None:
        return None
    return phonenumbers.format_number(best, phonenumbers.PhoneNumberFormat.E164)
