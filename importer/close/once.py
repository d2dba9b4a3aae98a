"""Create something exactly once over a network that loses answers.

Send; when the answer is lost, look up whether Close acted, pause, look again, and only then
send again, within one attempts budget. Used for activities and leads alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from importer.close.retry import Attempts
from importer.errors import AnswerLost

T = TypeVar("T")


async def create_once(
    send: Callable[[], Awaitable[T]],
    look_up: Callable[[], Awaitable[T | None]],
    attempts: Attempts,
    second_look_s: float,
) -> tuple[T, bool]:
    """What `send` created, or what `look_up` found after a lost answer; True if created now.

    Raises what `send` or `look_up` raise (`Unavailable` once `attempts` runs out): the caller
    must then treat the create as maybe sent, to be looked up before any later resend.
    """
    while True:
        try:
            return await send(), True
        except AnswerLost as lost:
            found = await look_up()
            if found is None:
                await asyncio.sleep(second_look_s)
                found = await look_up()
            if found is not None:
                return found, False
            await attempts.failed(str(lost))
