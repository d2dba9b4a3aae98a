"""The checkpoint store: the journal's rules kept in SQLite, grouped commits, one writer only."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.checkpoint import Checkpoint, CheckpointState, load_state
from importer.checkpoint.access import build
from importer.checkpoint.journal import JournalState
from importer.checkpoint.schema import DONE, FAILED, PENDING, SQLITE_MAGIC
from importer.checkpoint.store import IN_BATCH, Entry, write
from importer.errors import CheckpointError, CheckpointLocked

IDS = [f"wamid.{n}" for n in range(6)]
ids = st.sampled_from(IDS)
chats = st.sampled_from(["+1", "+2"])
message_records = st.one_of(
    st.builds(lambda i, c: {"op": "intent", "id": i, "chat": c}, ids, chats),
    st.builds(lambda i: {"op": "done", "id": i, "close": "acti_" + i}, ids),
    st.builds(lambda i: {"op": "fail", "id": i, "reason": "nope"}, ids),
)
records = st.one_of(
    message_records,
    st.builds(lambda i: {"op": "file", "sha": i, "url": "https://x/" + i, "at": 1.5}, ids),
    st.builds(lambda i: {"op": "contact", "phone": i, "lead": "lead_" + i, "contact": "c"}, ids),
    st.builds(lambda i: {"op": "lead", "phone": i}, ids),
    st.builds(
        lambda i, c: {"op": "done", "id": i, "close": "b_" + i, "sum": "f0", "chat": c}, ids, chats
    ),
)


def journal(entries: list[dict[str, Any]]) -> bytes:
    head = [{"op": "format", "format": "wa-close-checkpoint/1"}]
    return b"".join(orjson.dumps(e) + b"\n" for e in head + entries)


def folded(entries: list[dict[str, Any]]) -> JournalState:
    """The rule the journal of release 0.1 applied: what the store must say too."""
    state = JournalState()
    for entry in entries:
        state.apply(entry)
    return state


def assert_says(state: CheckpointState, expected: JournalState) -> None:
    assert dict(state.done) == expected.done
    assert state.done_among(IDS) == set(expected.done)
    assert dict(state.sums) == expected.sums
    assert dict(state.pending) == expected.pending
    assert dict(state.failed) == expected.failed
    assert dict(state.files) == expected.files
    assert state.contacts == expected.contacts
    assert state.lead_intents == expected.lead_intents
    counts = {c: dict(n) for c, n in state.by_chat().items()}
    by_chat: dict[str, dict[str, int]] = {}
    for kind, ids_ in (("imported", expected.done), ("pending", expected.pending)):
        for wa_id in ids_:
            chat = by_chat.setdefault(expected.chats.get(wa_id, ""), {})
            chat[kind] = chat.get(kind, 0) + 1
    for wa_id in expected.failed:
        chat = by_chat.setdefault(expected.chats.get(wa_id, ""), {})
        chat["failed"] = chat.get("failed", 0) + 1
    assert counts == by_chat


@settings(max_examples=150, deadline=None)
@given(st.lists(records, max_size=30))
def test_records_say_what_the_journal_said_before_and_after_their_commit(
    tmp_path_factory: pytest.TempPathFactory, entries: list[dict[str, Any]]
) -> None:
    path = tmp_path_factory.mktemp("ckpt") / "c.ckpt"
    expected = folded(entries)

    async def run() -> None:
        checkpoint = Checkpoint(path)
        await checkpoint.open()
        checkpoint.record(*entries)
        # Before the commit: answered from what was recorded.
        assert dict(checkpoint.state.done) == expected.done
        assert checkpoint.state.done_among(IDS) == set(expected.done)
        assert dict(checkpoint.state.pending) == expected.pending
        await checkpoint.close()

    asyncio.run(run())
    assert_says(load_state(path), expected)


@settings(max_examples=150, deadline=None)
@given(st.lists(records, max_size=30), st.data())
def test_any_prefix_of_an_old_journal_migrates_to_the_state_of_its_complete_records(
    tmp_path_factory: pytest.TempPathFactory, entries: list[dict[str, Any]], data: st.DataObject
) -> None:
    full = journal(entries)
    cut = data.draw(st.integers(0, len(full)))
    path = tmp_path_factory.mktemp("ckpt") / "c.ckpt"
    path.write_bytes(full[:cut])
    complete = max(full[:cut].count(b"\n") - 1, 0)  # records after the format line
    expected = folded(entries[:complete])

    assert_says(load_state(path), expected)  # read as it is, not migrated
    assert path.read_bytes() == full[:cut]

    async def run() -> None:
        checkpoint = Checkpoint(path)
        await checkpoint.open()
        await checkpoint.close()

    asyncio.run(run())
    assert path.read_bytes().startswith(SQLITE_MAGIC)  # migrated in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["c.ckpt", "c.ckpt.lock"]
    assert_says(load_state(path), expected)


async def test_concurrent_intents_share_commits_and_all_reach_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = []

    def counted(*args: Any) -> None:
        commits.append(1)
        write(*args)

    monkeypatch.setattr("importer.checkpoint.writer.write", counted)
    checkpoint = Checkpoint(tmp_path / "c.ckpt")
    await checkpoint.open()
    await asyncio.gather(
        *(checkpoint.write_ahead({"op": "intent", "id": str(n), "chat": "+1"}) for n in range(500))
    )
    # Every intent is committed once write_ahead returns: readable by another process.
    assert len(load_state(tmp_path / "c.ckpt").pending) == 500
    await checkpoint.close()
    assert len(commits) <= 3


async def test_results_are_written_without_waiting_and_reach_the_file_with_the_next_intent(
    tmp_path: Path,
) -> None:
    checkpoint = Checkpoint(tmp_path / "c.ckpt")
    await checkpoint.open()
    for n in range(100):
        checkpoint.record({"op": "done", "id": str(n), "close": f"acti_{n}"})
    await checkpoint.write_ahead({"op": "intent", "id": "x", "chat": "+1"})
    on_disk = load_state(tmp_path / "c.ckpt")
    assert len(on_disk.done) == 100
    assert "x" in on_disk.pending
    await checkpoint.close()


def test_done_among_asks_in_batches_and_answers_for_each_id_asked(tmp_path: Path) -> None:
    path = tmp_path / "c.ckpt"
    done = [("messages", str(n), Entry(DONE, "+1", f"acti_{n}")) for n in range(0, 1200, 2)]
    others = [("messages", "p", Entry(PENDING, "+1")), ("messages", "f", Entry(FAILED, "+1"))]
    build(path, [*done, *others])
    asked = [str(n) for n in range(1200)] + ["p", "f", "0", "unknown", "1198"]

    found = load_state(path).done_among(asked)

    assert len(asked) > IN_BATCH
    assert found == {str(n) for n in range(0, 1200, 2)}


async def test_a_second_writer_is_refused_and_the_lock_goes_with_the_first(tmp_path: Path) -> None:
    first = Checkpoint(tmp_path / "c.ckpt")
    await first.open()
    with pytest.raises(CheckpointLocked, match="in use"):
        await Checkpoint(tmp_path / "c.ckpt").open()
    await first.close()

    again = Checkpoint(tmp_path / "c.ckpt")
    await again.open()
    await again.close()


async def test_a_symlink_to_a_held_checkpoint_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    real = tmp_path / "elsewhere" / "real.ckpt"
    alias = tmp_path / "alias.ckpt"
    alias.symlink_to(real)
    first = Checkpoint(real)
    await first.open()
    with pytest.raises(CheckpointLocked, match=r"alias\.ckpt"):
        await Checkpoint(alias).open()
    await first.close()

    through_alias = Checkpoint(alias)
    await through_alias.open()
    await through_alias.write_ahead({"op": "intent", "id": "a", "chat": "+1"})
    await through_alias.close()
    assert alias.is_symlink()
    assert "a" in load_state(real).pending


async def test_status_reads_a_live_checkpoint_without_its_lock_and_sees_each_commit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.ckpt"
    checkpoint = Checkpoint(path)
    await checkpoint.open()
    await checkpoint.write_ahead({"op": "intent", "id": "a", "chat": "+1"})
    assert dict(load_state(path).pending) == {"a": "+1"}  # no CheckpointLocked
    checkpoint.record({"op": "done", "id": "a", "close": "acti_a"})
    await checkpoint.write_ahead({"op": "intent", "id": "b", "chat": "+1"})
    assert load_state(path).by_chat() == {"+1": {"imported": 1, "pending": 1}}
    await checkpoint.close()


def test_reading_a_closed_checkpoint_writes_nothing_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "c.ckpt"

    async def run() -> None:
        checkpoint = Checkpoint(path)
        await checkpoint.open()
        checkpoint.record({"op": "done", "id": "a", "close": "acti_a"})
        await checkpoint.close()

    asyncio.run(run())
    before = path.read_bytes(), path.stat().st_mtime_ns

    assert dict(load_state(path).done) == {"a": "acti_a"}

    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.ckpt", "c.ckpt.lock"]


async def test_a_checkpoint_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "c.ckpt"
    checkpoint = Checkpoint(path)
    await checkpoint.open()
    await checkpoint.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    before = path.read_bytes()

    with pytest.raises(CheckpointError, match="newer release"):
        await Checkpoint(path).open()
    assert path.read_bytes() == before
