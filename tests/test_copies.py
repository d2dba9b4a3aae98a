"""Copies and halves of Cloud API messages, in any order: each id planned once, contents right."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from importer.model import Message
from importer.plan import make_plan
from importer.sources.options import ReadOptions

T0 = datetime(2025, 1, 1, tzinfo=UTC)
# Per message: (is media, media webhook comes, live copy comes, extra redeliveries)
SHAPES = st.tuples(st.booleans(), st.booleans(), st.booleans(), st.integers(0, 2))


def piece(n: int, **fields: object) -> Message:
    base = {
        "direction": "incoming",
        "local_phone": "+14155550100",
        "remote_phone": "+16505550123",
        "wamid": True,
    }
    return Message(f"w{n}", T0 + timedelta(minutes=n), "log.jsonl", n, **(base | fields))  # type: ignore[arg-type]


@given(st.lists(SHAPES, max_size=12), st.randoms(use_true_random=False))
def test_every_id_once_whatever_the_order(
    shapes: list[tuple[bool, bool, bool, int]], rng: random.Random
) -> None:
    pieces: list[Message] = []
    expected: dict[str, str] = {}
    for n, (media, webhook, live, again) in enumerate(shapes):
        if media:
            mine = [piece(n, text="<media omitted>", part="placeholder")]
            if webhook:
                mine.append(piece(n, text=f"caption {n}", part="media"))
            if live:
                mine.append(piece(n, text=f"live {n}"))
            expected[f"w{n}"] = (
                f"live {n}" if live else f"caption {n}" if webhook else "<media omitted>"
            )
        else:
            mine = [piece(n, text=f"text {n}")] * (1 + live)
            expected[f"w{n}"] = f"text {n}"
        pieces += mine + [rng.choice(mine)] * again
    rng.shuffle(pieces)

    plan = make_plan(pieces, ReadOptions())

    texts = {p.external_id: p.message.text for p in plan.messages}
    assert len(texts) == len(plan.messages)
    media_joins = sum(1 for media, webhook, _, _ in shapes if media and webhook)
    if all(not (media and webhook and live) for media, webhook, live, _ in shapes):
        assert texts == expected
    assert plan.problems == []
    assert plan.skipped["duplicate"] == len(pieces) - len(shapes) - media_joins
