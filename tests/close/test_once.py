"""Create once: a lost answer is settled by looking up, twice, before anything is resent."""

from __future__ import annotations

import pytest

from importer.close.once import create_once
from importer.close.retry import Attempts, RetryPolicy
from importer.errors import AnswerLost, Unavailable

POLICY = RetryPolicy(attempts=3, base_s=0.001, cap_s=0.001, second_look_s=0.001)


class Close:
    """Creates land (or not) as told; every answer is lost until `answers` says otherwise."""

    def __init__(self, *, lands: bool, answers_after: int, visible_after_looks: int = 0):
        self.lands, self.answers_after = lands, answers_after
        self.visible_after_looks = visible_after_looks
        self.sent = self.looks = self.held = 0

    async def send(self) -> str:
        self.sent += 1
        if self.lands:
            self.held += 1
        if self.sent <= self.answers_after:
            raise AnswerLost("cut")
        return "created"

    async def look_up(self) -> str | None:
        self.looks += 1
        return "found" if self.held and self.looks > self.visible_after_looks else None


async def test_a_lost_answer_that_landed_is_found_not_resent() -> None:
    close = Close(lands=True, answers_after=1)
    assert await create_once(close.send, close.look_up, Attempts(POLICY), 0.001) == ("found", False)
    assert (close.sent, close.looks) == (1, 1)


async def test_a_write_that_shows_late_is_found_by_the_second_look() -> None:
    close = Close(lands=True, answers_after=1, visible_after_looks=1)
    assert await create_once(close.send, close.look_up, Attempts(POLICY), 0.001) == ("found", False)
    assert (close.sent, close.looks, close.held) == (1, 2, 1)


async def test_a_create_that_did_not_land_is_resent_within_the_budget() -> None:
    close = Close(lands=False, answers_after=1)
    assert await create_once(close.send, close.look_up, Attempts(POLICY), 0.001) == (
        "created",
        True,
    )
    assert (close.sent, close.looks) == (2, 2)

    never = Close(lands=False, answers_after=99)
    with pytest.raises(Unavailable, match="3 tries"):
        await create_once(never.send, never.look_up, Attempts(POLICY), 0.001)
    assert never.sent == 3
