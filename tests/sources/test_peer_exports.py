"""Other parsers' real exports (../shared/peer-exports), read message for message."""

from __future__ import annotations

import pytest

from tests.sources.peer_exports import peer_exports, score_all

FOLDER = peer_exports()


@pytest.mark.skipif(
    not FOLDER.is_dir(), reason=f"no peer exports at {FOLDER} (../shared beside the repo)"
)
def test_every_message_of_the_peer_exports_is_read_exactly() -> None:
    score = score_all(FOLDER)
    assert score.missed == []
    assert score.extra == []
    assert score.exact == score.scored == 433
