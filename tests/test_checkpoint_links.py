"""Waiting reply links in the checkpoint: journaled with their reply, settled, kept on reopen."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from importer.checkpoint import Checkpoint, load_state
from importer.checkpoint.schema import APPLICATION_ID, STEPS


def link(reply: str, parent: str) -> dict[str, str]:
    return {"op": "link", "id": reply, "close": "acti_" + reply, "parent": parent}


async def test_waiting_links_are_kept_across_reopens_until_settled(tmp_path: Path) -> None:
    path = tmp_path / "c.ckpt"
    checkpoint = Checkpoint(path)
    await checkpoint.open()
    checkpoint.record(
        {"op": "done", "id": "r1", "close": "acti_r1"}, link("r1", "p"), link("r2", "p")
    )
    checkpoint.record(link("r3", "q"))
    assert sorted(checkpoint.state.links_of("p")) == [("r1", "acti_r1"), ("r2", "acti_r2")]
    await checkpoint.write_ahead({"op": "intent", "id": "x", "chat": "+1"})  # all committed
    checkpoint.record({"op": "linked", "id": "r2"})
    assert checkpoint.state.links_of("p") == [("r1", "acti_r1")]  # before its commit too
    await checkpoint.close()

    reread = load_state(path)
    assert sorted(reread.links()) == [("r1", "acti_r1", "p"), ("r3", "acti_r3", "q")]
    assert reread.links_of("q") == [("r3", "acti_r3")]
    reread.store.close()


async def test_a_link_added_and_settled_in_one_commit_is_gone(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path / "c.ckpt")
    await checkpoint.open()
    checkpoint.record(link("r1", "p"), {"op": "linked", "id": "r1"})
    await checkpoint.close()
    assert load_state(tmp_path / "c.ckpt").links() == []


async def test_a_checkpoint_of_the_first_schema_gains_the_links_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.ckpt"
    with sqlite3.connect(path) as db:
        db.executescript(STEPS[0])
        db.execute("INSERT INTO messages VALUES ('p', 1, '+1', 'acti_p', NULL, NULL)")
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute("PRAGMA user_version = 1")
    db.close()

    checkpoint = Checkpoint(path)
    await checkpoint.open()
    assert checkpoint.state.done["p"] == "acti_p"
    checkpoint.record(link("r1", "p"))
    await checkpoint.close()

    state = load_state(path)
    assert state.links_of("p") == [("r1", "acti_r1")]
    assert state.store.message("p") is not None
    state.store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(STEPS)
    db.close()
