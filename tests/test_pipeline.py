"""The scheduler against an emulator that loses answers, fails and limits: still exactly once."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from importer.close.transport import RetryPolicy
from importer.contacts import Defaults
from importer.emulator import Emulator, EmulatorConfig
from importer.pipeline import SendOptions
from importer.runner import RunConfig, run_import
from importer.sources.options import ReadOptions
from tests.conftest import API_KEY, LOCAL_PHONE

FAST_RETRIES = RetryPolicy(attempts=12, base_s=0.005, cap_s=0.05, second_look_s=0.01)


def write_chat(path: Path, count: int, reply_every: int = 3) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in range(count):
        # `+` and `/` as in real base64 `wamid.` ids: they must survive query strings.
        row: dict[str, Any] = {
            "id": f"wamid.HBg+{n:04d}/x=",
            "timestamp": 1_700_000_000 + n,
            "direction": "incoming" if n % 2 else "outgoing",
            "remote_phone": "+16505550123",
            "text": f"*message* {n}",
        }
        if n and n % reply_every == 0:
            row["reply_to"] = f"wamid.HBg+{n - 1:04d}/x="
        rows.append(row)
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    return rows


def config(emu: Emulator, tmp_path: Path, source: Path, concurrency: int = 8) -> RunConfig:
    lead = emu.state.leads[next(iter(emu.state.leads))]
    return RunConfig(
        sources=(source,),
        read=ReadOptions(local_phone=LOCAL_PHONE),
        base_url=emu.base_url,
        api_key=API_KEY,
        checkpoint=tmp_path / "run.ckpt",
        defaults=Defaults(lead.id, lead.contact_ids[0]),
        send=SendOptions(concurrency=concurrency),
        show_progress=False,
        retry=FAST_RETRIES,
    )


def assert_exactly_once(emu: Emulator, rows: list[dict[str, Any]]) -> None:
    copies: dict[str, list[dict[str, Any]]] = {}
    for activity in emu.state.activities.values():
        copies.setdefault(activity["external_whatsapp_message_id"], []).append(activity)
    assert sorted(copies) == sorted(r["id"] for r in rows)
    duplicated = [k for k, v in copies.items() if len(v) > 1]
    assert duplicated == []
    for row in rows:
        if "reply_to" in row:
            assert copies[row["id"]][0]["response_to_id"] == copies[row["reply_to"]][0]["id"]


@pytest.mark.parametrize(
    ("drop_rate", "fail_rate", "rate_limit"),
    [(0.3, 0.0, None), (0.0, 0.3, None), (0.2, 0.2, None), (0.2, 0.2, 25)],
    ids=["answers-dropped", "5xx-before-change", "both", "both-and-rate-limited"],
)
async def test_lost_answers_and_5xx_still_import_each_message_once(
    seed: dict[str, Any],
    tmp_path: Path,
    drop_rate: float,
    fail_rate: float,
    rate_limit: int | None,
) -> None:
    rows = write_chat(tmp_path / "chat.jsonl", 60)
    faults = EmulatorConfig(
        data=seed, seed=7, drop_rate=drop_rate, fail_rate=fail_rate, rate_limit=rate_limit
    )
    async with Emulator(faults) as emu:
        report = await run_import(config(emu, tmp_path, tmp_path / "chat.jsonl"))

        assert (report.created + report.skipped, report.failed) == (60, 0)
        assert_exactly_once(emu, rows)
        assert emu.state.counters["faults"] + emu.state.counters["drops"] > 0


async def test_pending_intents_are_looked_up_before_anything_is_resent(
    seed: dict[str, Any], tmp_path: Path
) -> None:
    rows = write_chat(tmp_path / "chat.jsonl", 10)
    async with Emulator(EmulatorConfig(data=seed, seed=3)) as emu:
        settings = config(emu, tmp_path, tmp_path / "chat.jsonl")
        await run_import(settings)
        # As if the process died after sending but before journaling the answers: the journal
        # (as release 0.1 wrote it, migrated on open) keeps only the intents, its last line torn.
        intents = [{"op": "intent", "id": row["id"], "chat": row["remote_phone"]} for row in rows]
        journal = [{"op": "format", "format": "wa-close-checkpoint/1"}, *intents]
        settings.checkpoint.unlink()
        settings.checkpoint.write_bytes(
            b"".join(orjson.dumps(r) + b"\n" for r in journal) + b'{"op":"done","id":"wam'
        )
        creates = emu.state.requests("POST", "whatsapp_messages")

        report = await run_import(settings)

        assert emu.state.requests("POST", "whatsapp_messages") == creates
        assert (report.created, report.skipped) == (0, 10)
        assert_exactly_once(emu, rows)


async def test_an_outage_ends_the_run_cleanly_and_a_rerun_finishes(
    seed: dict[str, Any], tmp_path: Path
) -> None:
    rows = write_chat(tmp_path / "chat.jsonl", 20)
    async with Emulator(EmulatorConfig(data=seed, seed=4, fail_rate=1.0)) as emu:
        settings = config(emu, tmp_path, tmp_path / "chat.jsonl")
        down = await run_import(settings)
        assert down.created == 0
        assert down.stopped_because is not None
        assert "rerun" in down.stopped_because
        assert down.failed + down.not_attempted == 20
    async with Emulator(EmulatorConfig(data=seed, seed=5)) as emu:
        settings = config(emu, tmp_path, tmp_path / "chat.jsonl")
        up = await run_import(settings)
        assert up.created == 20
        assert_exactly_once(emu, rows)


async def test_a_tight_rate_limit_is_kept_to_without_a_storm_of_429s(
    seed: dict[str, Any], tmp_path: Path
) -> None:
    rows = write_chat(tmp_path / "chat.jsonl", 90)
    async with Emulator(EmulatorConfig(data=seed, seed=8, rate_limit=30)) as emu:
        report = await run_import(config(emu, tmp_path, tmp_path / "chat.jsonl", concurrency=16))

        assert report.created == 90
        assert_exactly_once(emu, rows)
        refused = emu.state.counters["rate_limited"]
        assert refused <= 0.05 * report.requests, (refused, report.requests)
        # 90 creates at 30 per window need at least two window resets: the limit was really hit.
        assert report.elapsed_s >= 2.0


async def test_answers_in_no_documented_shape_are_retried_never_read_as_nothing(
    seed: dict[str, Any], tmp_path: Path
) -> None:
    rows = write_chat(tmp_path / "chat.jsonl", 30)
    async with Emulator(EmulatorConfig(data=seed, seed=9, malformed_rate=0.3)) as emu:
        settings = config(emu, tmp_path, tmp_path / "chat.jsonl")
        first = await run_import(settings)
        assert (first.created + first.skipped, first.failed) == (30, 0)
        assert_exactly_once(emu, rows)
        # The checkpoint is lost: the reconcile's lists, some without `data`, must find all 30.
        settings.checkpoint.unlink()
        second = await run_import(settings)
        assert (second.created, second.skipped, second.failed) == (0, 30, 0)
        assert_exactly_once(emu, rows)
        assert emu.state.counters["malformed"] > 0
        assert not [p for p in first.problems + second.problems if "internal" in p.reason]


async def test_creates_that_may_be_in_close_stay_pending_through_an_outage(
    seed: dict[str, Any], tmp_path: Path
) -> None:
    """Every create lands but its answer is unreadable, then every lookup is too: the run ends
    unavailable, and the rerun looks each id up instead of sending it again."""
    rows = write_chat(tmp_path / "chat.jsonl", 12)
    async with Emulator(EmulatorConfig(data=seed, seed=9, malformed_rate=1.0)) as emu:
        settings = config(emu, tmp_path, tmp_path / "chat.jsonl")
        settings = dataclasses.replace(settings, send=SendOptions(reconcile=False))
        down = await run_import(settings)
        assert down.created == 0
        assert down.stopped_because is not None
        assert "documented shape" in down.stopped_because
        landed = len(emu.state.activities)
        assert landed > 0
        emu.state.config = dataclasses.replace(emu.state.config, malformed_rate=0.0)
        up = await run_import(settings)
        assert (up.created, up.skipped, up.failed) == (12 - landed, landed, 0)
        assert_exactly_once(emu, rows)


async def test_reruns_after_drops_and_a_5xx_storm_never_duplicate(
    seed: dict[str, Any], tmp_path: Path
) -> None:
    """Issue 9, item 1: lost answers, then lookups and resends that run out of retries."""
    rows = write_chat(tmp_path / "chat.jsonl", 40)
    stormy = EmulatorConfig(data=seed, seed=12, drop_rate=0.2, fail_rate=0.6)
    few_retries = RetryPolicy(attempts=2, base_s=0.001, cap_s=0.002, second_look_s=0.001)
    async with Emulator(stormy) as emu:
        settings = dataclasses.replace(
            config(emu, tmp_path, tmp_path / "chat.jsonl"), retry=few_retries
        )
        for _ in range(300):  # about 45 runs: each ends at its first outage
            report = await run_import(settings)
            if not (report.failed or report.not_attempted):
                break
        assert (report.failed, report.not_attempted) == (0, 0)
        assert_exactly_once(emu, rows)


async def test_an_archive_in_any_order_keeps_every_link_while_memory_holds_a_window(
    seed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small window: most replies are read long before their parent and wait on disk.
    monkeypatch.setattr("importer.schedule.WINDOW", 16)
    rows = write_chat(tmp_path / "chat.jsonl", 400, reply_every=2)
    random.Random(5).shuffle(rows)
    (tmp_path / "chat.jsonl").write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    async with Emulator(EmulatorConfig(data=seed, drop_rate=0.1, seed=9)) as emu:
        report = await run_import(config(emu, tmp_path, tmp_path / "chat.jsonl"))

        assert (report.created + report.skipped, report.failed) == (400, 0)
        assert_exactly_once(emu, rows)
        assert not [p for p in report.problems if "no reply link" in p.reason]
    assert not [p for p in tmp_path.iterdir() if "waiting" in p.name]  # noqa: ASYNC240
