"""The journal: any prefix of it, torn or not, loads to a consistent state; one writer only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.checkpoint import Checkpoint, load_state
from importer.errors import CheckpointLocked

ids = st.sampled_from([f"wamid.{n}" for n in range(6)])
records = st.one_of(
    st.builds(lambda i: {"op": "intent", "id": i, "chat": "+1"}, ids),
    st.builds(lambda i: {"op": "done", "id": i, "close": "acti_" + i}, ids),
    st.builds(lambda i: {"op": "fail", "id": i, "reason": "nope"}, ids),
)


def journal(entries: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in entries)


@settings(max_examples=200, deadline=None)
@given(st.lists(records, max_size=30), st.data())
def test_any_prefix_loads_to_the_state_of_its_complete_records(
    tmp_path_factory: pytest.TempPathFactory, entries: list[dict[str, str]], data: st.DataObject
) -> None:
    full = journal(entries)
    cut = data.draw(st.integers(0, len(full)))
    path = tmp_path_factory.mktemp("ckpt") / "c.ckpt"
    path.write_bytes(full[:cut])

    state = load_state(path)

    complete = full[:cut].count(b"\n")
    expected_done = {e["id"]: e["close"] for e in entries[:complete] if e["op"] == "done"}
    assert state.done == expected_done
    # Every id is in at most one of done / pending / failed.
    assert not (set(state.done) & set(state.pending))
    assert not (set(state.done) & set(state.failed))
    assert not (set(state.pending) & set(state.failed))
    for wa_id in state.pending:
        last = [e["op"] for e in entries[:complete] if e["id"] == wa_id][-1]
        assert last == "intent"


async def test_appending_after_a_torn_line_starts_a_fresh_line(tmp_path: Path) -> None:
    path = tmp_path / "c.ckpt"
    path.write_bytes(journal([{"op": "done", "id": "a", "close": "acti_a"}]) + b'{"op":"do')
    checkpoint = Checkpoint(path)
    await checkpoint.open()
    await checkpoint.write_ahead({"op": "done", "id": "b", "close": "acti_b"})
    await checkpoint.close()

    assert load_state(path).done == {"a": "acti_a", "b": "acti_b"}
    assert path.read_bytes().endswith(b"}\n")


async def test_concurrent_appends_all_reach_the_file(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "c.ckpt"
    checkpoint = Checkpoint(path)
    await checkpoint.open()
    await asyncio.gather(
        *(
            checkpoint.write_ahead({"op": "done", "id": str(n), "close": f"acti_{n}"})
            for n in range(500)
        )
    )
    await checkpoint.close()

    assert len(load_state(path).done) == 500


async def test_a_second_writer_is_refused_and_the_lock_goes_with_the_first(tmp_path: Path) -> None:
    first = Checkpoint(tmp_path / "c.ckpt")
    await first.open()
    with pytest.raises(CheckpointLocked, match="in use"):
        await Checkpoint(tmp_path / "c.ckpt").open()
    await first.close()

    again = Checkpoint(tmp_path / "c.ckpt")
    await again.open()
    await again.close()


async def test_results_are_written_without_waiting_and_all_reach_the_file(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path / "c.ckpt")
    await checkpoint.open()
    for n in range(100):
        checkpoint.record({"op": "done", "id": str(n), "close": f"acti_{n}"})
    await checkpoint.write_ahead({"op": "intent", "id": "x", "chat": "+1"})
    # The write-ahead record is on disk, and so is everything recorded before it.
    on_disk = load_state(tmp_path / "c.ckpt")
    assert len(on_disk.done) == 100
    assert "x" in on_disk.pending
    await checkpoint.close()


more_records = st.one_of(
    records,
    st.builds(lambda i: {"op": "file", "sha": i, "url": "https://x/" + i, "at": 1.5}, ids),
    st.builds(lambda i: {"op": "contact", "phone": i, "lead": "lead_" + i, "contact": "c"}, ids),
    st.builds(lambda i: {"op": "lead", "phone": i}, ids),
    st.builds(lambda i: {"op": "done", "id": i, "close": "acti_" + i, "sum": "f00d"}, ids),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(more_records, max_size=40))
def test_a_snapshot_loads_back_into_the_same_state(
    tmp_path_factory: pytest.TempPathFactory, entries: list[dict[str, Any]]
) -> None:
    folder = tmp_path_factory.mktemp("ckpt")
    (folder / "journal").write_bytes(journal(entries))
    state = load_state(folder / "journal")
    (folder / "snapshot").write_bytes(journal(list(state.snapshot())))

    again = load_state(folder / "snapshot")

    assert again == state
    assert again.facts() + 1 == len(list(state.snapshot()))


async def test_opening_a_long_journal_compacts_it_and_keeps_every_fact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importer.checkpoint

    monkeypatch.setattr(importer.checkpoint, "COMPACT_AFTER", 100)
    path = tmp_path / "c.ckpt"
    pairs: list[dict[str, Any]] = []
    for n in range(200):
        pairs += [
            {"op": "intent", "id": str(n), "chat": "+1"},
            {"op": "done", "id": str(n), "close": f"acti_{n}", "sum": "ab"},
        ]
    path.write_bytes(journal(pairs) + b'{"op":"do')  # and a torn tail
    before = load_state(path)

    checkpoint = Checkpoint(path)
    await checkpoint.open()
    await checkpoint.write_ahead({"op": "intent", "id": "new", "chat": "+2"})
    await checkpoint.close()

    lines = path.read_bytes().splitlines()
    assert len(lines) == 1 + 200 + 1  # format, one line per message, the new intent
    after = load_state(path)
    assert (after.done, after.sums, after.chats.get("7")) == (before.done, before.sums, "+1")
    assert after.pending == {"new": "+2"}
