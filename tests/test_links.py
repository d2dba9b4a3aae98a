"""Reply links heal: a reply sent before its parent was in Close is linked once the parent is."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from importer.emulator import Emulator, EmulatorConfig
from importer.emulator.process import EmulatorProcess
from importer.plan import Window
from importer.runner import run_import
from tests import test_crash as crash
from tests.test_crash import slow_close
from tests.test_pipeline import assert_exactly_once, config

__all__ = ["slow_close"]  # the fixture, shared

START = 1_700_000_000


def write_thread(path: Path, count: int) -> list[dict[str, Any]]:
    """Every third message replies to the one seven before it: windows cut through threads."""
    rows: list[dict[str, Any]] = []
    for n in range(count):
        row: dict[str, Any] = {
            "id": f"wamid.L+{n:04d}/x=",
            "timestamp": START + n,
            "direction": "incoming" if n % 2 else "outgoing",
            "remote_phone": "+16505550123",
            "text": f"message {n}",
        }
        if n >= 7 and n % 3 == 0:
            row["reply_to"] = f"wamid.L+{n - 7:04d}/x="
        rows.append(row)
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    return rows


def at(n: int) -> datetime:
    return datetime.fromtimestamp(START + n, tz=UTC)


def cut_replies(rows: list[dict[str, Any]], since: int, until: int) -> set[str]:
    """Replies inside [since, until) whose parent is outside it."""
    inside = {r["id"] for r in rows[since:until]}
    return {r["id"] for r in rows[since:until] if r.get("reply_to", r["id"]) not in inside}


def unlinked(emu: Emulator) -> set[str]:
    """The WhatsApp ids of the activities Close holds whose reply link is not set."""
    activities = emu.state.activities.values()
    return {a["external_whatsapp_message_id"] for a in activities if not a["response_to_id"]}


def link_puts(emu: Emulator) -> int:
    return emu.state.requests("PUT", "whatsapp_message")


@pytest.mark.parametrize(
    ("first", "name"),
    [((20, 40), "window-in-the-middle"), ((30, 60), "recent-first")],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_a_window_then_the_whole_archive_ends_with_every_link_set_once(
    seed: dict[str, Any], tmp_path: Path, first: tuple[int, int], name: str
) -> None:
    rows = write_thread(tmp_path / "chat.jsonl", 60)
    since, until = first
    roots = {r["id"] for r in rows if "reply_to" not in r}
    async with Emulator(EmulatorConfig(data=seed, seed=21)) as emu:
        whole = config(emu, tmp_path, tmp_path / "chat.jsonl")
        windowed = dataclasses.replace(whole, window=Window(at(since), at(until)))

        early = await run_import(windowed)

        cut = cut_replies(rows, since, until)
        assert cut  # the window cuts threads: the test means something
        assert early.created == until - since
        assert unlinked(emu) - roots == cut
        parents = {r["id"]: r["reply_to"] for r in rows if r["id"] in cut}
        assert dict(early.links_waiting) == parents
        assert early.as_json()["links_waiting"] == len(cut)
        assert (early.links_healed, link_puts(emu)) == (0, 0)

        full = await run_import(whole)

        assert full.created == len(rows) - (until - since)
        assert (full.links_healed, full.links_waiting) == (len(cut), [])
        assert link_puts(emu) == len(cut)  # one PUT per healed link, none sent twice
        assert f"reply links healed {len(cut)}, waiting 0" in full.summary()
        assert_exactly_once(emu, rows)

        again = await run_import(whole)  # nothing left to heal: nothing sent
        assert (again.created, again.links_healed, link_puts(emu)) == (0, 0, len(cut))


async def test_a_link_whose_parent_comes_later_waits_across_runs_and_is_reported(
    seed: dict[str, Any], tmp_path: Path
) -> None:
    rows = write_thread(tmp_path / "chat.jsonl", 40)
    async with Emulator(EmulatorConfig(data=seed, seed=22)) as emu:
        whole = config(emu, tmp_path, tmp_path / "chat.jsonl")
        # Newest first, in three runs: each heals what the one before it left waiting.
        for since, until in ((30, 40), (15, 30), (0, 15)):
            window = Window(at(since), at(until))
            report = await run_import(dataclasses.replace(whole, window=window))
            waiting = {r for r, _ in report.links_waiting}
            held = {a["external_whatsapp_message_id"] for a in emu.state.activities.values()}
            expected = {r["id"] for r in rows if r["id"] in held and r.get("reply_to") not in held}
            assert waiting == expected - {r["id"] for r in rows if "reply_to" not in r}
            data = report.as_json()
            assert data["links_waiting"] == len(waiting)
            assert {w["reply"] for w in data["links_waiting_for"]} == waiting
        assert report.links_waiting == []
        assert_exactly_once(emu, rows)
        assert link_puts(emu) == len(cut_replies(rows, 30, 40)) + len(cut_replies(rows, 15, 30))


async def test_lost_answers_to_the_puts_still_end_with_every_link_right(
    seed: dict[str, Any], tmp_path: Path
) -> None:
    rows = write_thread(tmp_path / "chat.jsonl", 60)
    async with Emulator(EmulatorConfig(data=seed, seed=23)) as emu:
        # One request at a time: the seeded drops then fall on the same requests every run.
        whole = config(emu, tmp_path, tmp_path / "chat.jsonl", concurrency=1)
        early = await run_import(dataclasses.replace(whole, window=Window(at(30), at(60))))
        cut = {r for r, _ in early.links_waiting}
        assert cut

        emu.state.config = dataclasses.replace(emu.state.config, drop_rate=0.5)
        full = await run_import(whole)

        assert emu.state.counters["drops"] > 0
        assert (full.links_healed, full.links_waiting) == (len(cut), [])
        assert link_puts(emu) > len(cut)  # a lost answer is sent again: the same value
        assert_exactly_once(emu, rows)


def write_far_thread(path: Path, count: int) -> list[dict[str, Any]]:
    """Replies to any earlier message: a recent-first migration leaves most of them waiting."""
    rng = random.Random(13)
    rows: list[dict[str, Any]] = []
    for n in range(count):
        row: dict[str, Any] = {
            "id": f"wamid.F+{n:05d}",
            "timestamp": START + n,
            "direction": rng.choice(["incoming", "outgoing"]),
            "remote_phone": "+16505550123",
            "text": f"message {n}",
        }
        if n > 0 and rng.random() < 0.4:
            row["reply_to"] = f"wamid.F+{rng.randrange(n):05d}"
        rows.append(row)
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    return rows


def kill_once_created(run: subprocess.Popen[bytes], emulator: EmulatorProcess, n: int) -> None:
    while run.poll() is None and crash.created(emulator) < n:
        time.sleep(0.01)
    assert run.poll() is None, "the run finished before it could be killed"
    os.kill(run.pid, signal.SIGKILL)
    run.wait(10)


def test_sigkill_in_a_recent_first_migration_still_ends_with_every_link_once(
    slow_close: EmulatorProcess, tmp_path: Path
) -> None:
    rows = write_far_thread(tmp_path / "chat.jsonl", 600)
    newest = ("--since", at(300).isoformat())
    # The newest half, killed halfway, then finished: its replies to older messages wait.
    kill_once_created(crash.start_run(slow_close, tmp_path, None, *newest), slow_close, 150)
    assert crash.start_run(slow_close, tmp_path, None, *newest).wait(120) == 0
    report = orjson.loads((tmp_path / "report.json").read_bytes())
    assert report["links_waiting"] > 50
    assert {w["parent"] for w in report["links_waiting_for"]} <= {r["id"] for r in rows[:300]}

    # The rest, killed while it creates parents and heals their replies, then finished.
    kill_once_created(crash.start_run(slow_close, tmp_path), slow_close, 450)
    assert crash.start_run(slow_close, tmp_path).wait(120) == 0

    final = orjson.loads((tmp_path / "report.json").read_bytes())
    assert (final["links_waiting"], final["links_waiting_for"]) == (0, [])
    assert final["links_healed"] > 0
    crash.assert_exactly_once(slow_close, rows)
