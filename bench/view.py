"""The conversation view of a big rehearsal: a 20,000-message lead among 100,000 messages.

Each page is fetched over HTTP from a running emulator, as a browser would, and timed from the
request to the last byte; the figure is the slowest of a few fetches of each kind of page.
"""

from __future__ import annotations

import asyncio
import random
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.measure import Measurement
from importer.emulator import Emulator, EmulatorConfig, activities, timestamps
from importer.emulator.conversations import PAGE_SIZE
from importer.emulator.state import EmulatorState, Phone, Upload

BIG_LEAD = 20_000
TOTAL = 100_000
OTHER_LEADS = 400
TARGET_S = 0.5  # "well under a second" a page
_FETCHES = 3
_TEXT = "Thanks *{n}*! Here is the _plan_:\n- first\n- second\n> as agreed `v{n}`"


def fill(state: EmulatorState, big: int, total: int, leads: int) -> str:
    """`big` messages on one lead and the rest spread over `leads` others; the big lead's id."""
    rng = random.Random(14)
    user = state.user_for_key("bench")
    photo = Upload("benchphoto", "photo.jpg", "image/jpeg", {}, time.monotonic(), b"\xff" * 2048)
    state.uploads[photo.token] = photo
    picture = {
        "url": photo.download_url,
        "filename": photo.filename,
        "content_type": photo.content_type,
        "size": len(photo.data or b""),
        "thumbnail_url": None,
    }
    targets = []
    for index in range(leads + 1):
        phone = f"+1650555{index:04d}"
        lead = state.add_lead(f"Customer {index:03d}", [(f"Person {index}", [Phone(phone)])])
        targets.append((lead.id, lead.contact_ids[0], phone))
    start = datetime(2023, 1, 1, tzinfo=UTC)
    ids: dict[str, list[str]] = {}
    for number in range(total):
        lead_id, contact_id, phone = targets[0] if number < big else rng.choice(targets[1:])
        earlier = ids.setdefault(lead_id, [])
        clean: dict[str, Any] = {
            "lead_id": lead_id,
            "contact_id": contact_id,
            "direction": rng.choice(("incoming", "outgoing")),
            "external_whatsapp_message_id": f"wamid.bench.{number}",
            "activity_at": timestamps.render(start + timedelta(minutes=7 * number)),
            "local_phone": "+14155550100",
            "remote_phone": phone,
            "message_markdown": _TEXT.format(n=number),
            # Replies to messages far back, so that many quotes point at other pages.
            "response_to_id": rng.choice(earlier) if earlier and number % 5 == 0 else None,
            "attachments": [picture] if number % 25 == 0 else [],
        }
        earlier.append(activities.create(state, clean, user)["id"])
    return targets[0][0]


def _slowest(url: str) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(_FETCHES):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as answer:
            size = len(answer.read())
        times.append(time.perf_counter() - started)
    return max(times), size


async def _measure(quick: bool) -> list[Measurement]:
    big, total = (2_000, 10_000) if quick else (BIG_LEAD, TOTAL)
    async with Emulator(EmulatorConfig(data={"leads": []}, view_timezone="Europe/Berlin")) as emu:
        started = time.perf_counter()
        lead_id = fill(emu.state, big, total, OTHER_LEADS)
        filled_s = time.perf_counter() - started
        last_page = -(-big // PAGE_SIZE)
        pages = {
            "index": "/",
            "first page": f"/leads/{lead_id}",
            "middle page": f"/leads/{lead_id}?page={last_page // 2}",
            "last page": f"/leads/{lead_id}?page={last_page}&tz=Australia/Sydney",
        }
        results = []
        for name, path in pages.items():
            seconds, size = await asyncio.to_thread(_slowest, emu.root_url + path)
            results.append(
                Measurement(
                    scenario="14 view",
                    name=f"{name} s",
                    achieved=seconds,
                    bound=None,
                    target=f"<= {TARGET_S} s a page ({big} messages on the lead, {total} in all)",
                    passed=seconds <= TARGET_S,
                    unit="s",
                    extra={"bytes": size, "fill_s": round(filled_s, 1)},
                )
            )
    return results


def run(work: Path, *, quick: bool) -> list[Measurement]:
    return asyncio.run(_measure(quick))
