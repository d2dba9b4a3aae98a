"""`POST /data/search/`: the queries the importer needs, contacts by phone and by name.

Anything but that shape is refused with 400, so that a client building a different query learns it
here rather than from Close.
"""

from __future__ import annotations

from typing import Any

from importer.emulator import phones
from importer.emulator.state import EmulatorState, contact_json

MAX_LIMIT = 200
_TOP_KEYS = {"query", "_fields", "_limit", "cursor"}


class SearchError(ValueError):
    """A search body this emulator (and possibly Close) does not understand."""


def _phone_condition(query: object) -> str:
    """The phone value of the `has_related` contact_phone condition."""
    expected_related = {
        "type": "has_related",
        "this_object_type": "contact",
        "related_object_type": "contact_phone",
    }
    if not isinstance(query, dict) or set(query) != {*expected_related, "related_query"}:
        raise SearchError("Expected a has_related query from contact to contact_phone.")
    if any(query[k] != v for k, v in expected_related.items()):
        raise SearchError("Expected a has_related query from contact to contact_phone.")
    related = query["related_query"]
    field_shape = {"type": "regular_field", "object_type": "contact_phone", "field_name": "phone"}
    if (
        not isinstance(related, dict)
        or set(related) != {"type", "field", "condition"}
        or related["type"] != "field_condition"
        or related["field"] != field_shape
    ):
        raise SearchError("Expected a field_condition on contact_phone.phone.")
    condition = related["condition"]
    if (
        not isinstance(condition, dict)
        or set(condition) != {"type", "mode", "value"}
        or condition["type"] != "text"
        or condition["mode"] != "exact_value"
        or not isinstance(condition["value"], str)
    ):
        raise SearchError('Expected a text condition with mode "exact_value" and a string value.')
    return condition["value"]


_NAME_FIELD = {"type": "regular_field", "object_type": "contact", "field_name": "name"}


def _condition(query: object) -> tuple[str, str]:
    """("name", value) for an exact condition on the contact's name, else ("phone", value)."""
    if isinstance(query, dict) and query.get("type") == "field_condition":
        condition = query.get("condition")
        if (
            set(query) != {"type", "field", "condition"}
            or query["field"] != _NAME_FIELD
            or not isinstance(condition, dict)
            or condition.get("type") != "text"
            or condition.get("mode") != "exact_value"
            or not isinstance(condition.get("value"), str)
        ):
            raise SearchError('Expected an exact text condition on the contact\'s "name".')
        return "name", condition["value"]
    return "phone", _phone_condition(query)


def parse(body: dict[str, Any]) -> tuple[tuple[str, str], list[str], int, int]:
    """((field, value), contact fields, limit, offset) of a search body: contacts by phone
    (through `has_related` contact_phone) or by exact name."""
    unknown = set(body) - _TOP_KEYS
    if unknown:
        raise SearchError(f"Unknown keys: {', '.join(sorted(unknown))}.")
    query = body.get("query")
    if (
        not isinstance(query, dict)
        or set(query) != {"type", "queries"}
        or query["type"] != "and"
        or not isinstance(query["queries"], list)
        or len(query["queries"]) != 2
    ):
        raise SearchError('Expected {"type": "and", "queries": [object_type, has_related]}.')
    object_type = {"type": "object_type", "object_type": "contact"}
    others = [q for q in query["queries"] if q != object_type]
    if len(others) != 1:
        raise SearchError('Expected exactly one {"type": "object_type", "object_type": "contact"}.')
    value = _condition(others[0])
    fields = body.get("_fields", {"contact": ["id"]})
    if (
        not isinstance(fields, dict)
        or set(fields) != {"contact"}
        or not isinstance(fields["contact"], list)
        or not all(isinstance(f, str) for f in fields["contact"])
    ):
        raise SearchError('_fields must be {"contact": [field names]}.')
    limit = body.get("_limit", 10)
    if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
        raise SearchError(f"_limit must be an integer from 1 to {MAX_LIMIT}.")
    cursor = body.get("cursor")
    if cursor is not None and (not isinstance(cursor, str) or not cursor.isdigit()):
        raise SearchError("cursor must be null or a cursor this API returned.")
    return value, fields["contact"], limit, int(cursor or 0)


def run(state: EmulatorState, body: dict[str, Any]) -> dict[str, Any]:
    (field, value), fields, limit, offset = parse(body)
    if field == "name":
        # Close compares names without regard to case.
        found = [c for c in state.contacts.values() if c.name.casefold() == value.casefold()]
    else:
        wanted = phones.to_e164(value)
        found = [
            contact
            for contact in state.contacts.values()
            if wanted is not None and any(p.phone == wanted for p in contact.phones)
        ]
    page = found[offset : offset + limit]
    data = []
    for contact in page:
        full = contact_json(contact)
        data.append({"__object_type": "contact", **{f: full[f] for f in fields if f in full}})
    more = offset + limit < len(found)
    return {"data": data, "cursor": str(offset + limit) if more else None}
