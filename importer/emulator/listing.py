"""`GET /activity/whatsapp_message/`: Close's filters, paging and `_fields`, strictly checked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from importer.emulator import timestamps
from importer.emulator.state import EmulatorState

MAX_LIMIT = 100
MAX_SKIP = 10_000
_EXACT = ("external_whatsapp_message_id", "lead_id", "contact_id", "user_id")
_RANGES = {
    "gte": datetime.__ge__,
    "lte": datetime.__le__,
    "gt": datetime.__gt__,
    "lt": datetime.__lt__,
}
_DATED = ("activity_at", "date_created")


class QueryError(ValueError):
    """A query Close would answer with 400."""


@dataclass
class ListQuery:
    exact: dict[str, str] = field(default_factory=dict)
    ids: set[str] | None = None
    ranges: list[tuple[str, str, datetime]] = field(default_factory=list)
    skip: int = 0
    limit: int = MAX_LIMIT
    fields: list[str] | None = None


def parse(pairs: Iterable[tuple[str, str]]) -> ListQuery:
    """Read decoded query pairs; any unknown, repeated or malformed parameter is a QueryError."""
    query = ListQuery()
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:
            raise QueryError(f"Parameter {name} is given more than once.")
        seen.add(name)
        if name in _EXACT:
            query.exact[name] = value
        elif name == "id__in":
            query.ids = {part for part in value.split(",") if part}
        elif name == "_skip":
            query.skip = _integer(name, value, 0, MAX_SKIP)
        elif name == "_limit":
            query.limit = _integer(name, value, 1, MAX_LIMIT)
        elif name == "_fields":
            query.fields = [part for part in value.split(",") if part]
        else:
            base, _, op = name.partition("__")
            if base not in _DATED or op not in _RANGES:
                raise QueryError(f"Unknown query parameter: {name}.")
            moment = timestamps.parse(value)
            if moment is None:
                raise QueryError(f"{name} must be an ISO 8601 date-time with an offset.")
            query.ranges.append((base, op, moment))
    return query


def _integer(name: str, value: str, low: int, high: int) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise QueryError(f"{name} must be an integer from {low} to {high}.")
    return int(value)


def run(state: EmulatorState, query: ListQuery) -> dict[str, Any]:
    """The page Close would answer: newest activity first, ties by id."""
    matches = [a for a in state.activities.values() if _matches(a, query)]
    matches.sort(key=lambda a: a["id"])
    matches.sort(key=lambda a: datetime.fromisoformat(a["activity_at"]), reverse=True)
    page = matches[query.skip : query.skip + query.limit]
    if query.fields is not None:
        wanted = query.fields
        page = [{k: a[k] for k in wanted if k in a} for a in page]
    return {"data": page, "has_more": query.skip + query.limit < len(matches)}


def _matches(activity: dict[str, Any], query: ListQuery) -> bool:
    if any(activity.get(name) != value for name, value in query.exact.items()):
        return False
    if query.ids is not None and activity["id"] not in query.ids:
        return False
    for base, op, moment in query.ranges:
        if not _RANGES[op](datetime.fromisoformat(activity[base]), moment):
            return False
    return True
