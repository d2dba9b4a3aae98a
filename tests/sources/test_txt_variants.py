"""Every header variant of the export format, one fixture each, read end to end."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.sources.test_txt_support import FIXTURES, blob, fixture_text, read

VARIANTS = sorted(path.stem for path in FIXTURES.glob("*.txt"))
ALL_FILES = {
    name: blob(name)
    for name in (
        "00000001-PHOTO-2019-06-20-16-00-15.jpg",
        "00000004-report.pdf",
        "IMG-20170621-WA0001.jpg",
        "00000002-PHOTO-2018-06-03-13-56-00.jpg",
        "00000003-AUDIO-2026-04-22-20-21-00.opus",
        "00000005-PHOTO-2020-05-12-12-10-00.jpg",
    )
}


def expected(variant: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{variant}.json").read_text("utf-8"))
    return loaded


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant(variant: str) -> None:
    want = expected(variant)
    result = read(fixture_text(f"{variant}.txt"), me=tuple(want["me"]), files=ALL_FILES)

    got = [
        [m.timestamp.replace(tzinfo=None).isoformat(), m.sender_name, m.text]
        for m in result.messages
    ]
    assert got == want["messages"]
    assert [s.kind for s in result.skipped] == want.get("skipped", [])
    assert result.problems == []
    assert result.info.date_order == want["order"]
    me = {name.casefold() for name in want["me"]}
    for message in result.messages:
        assert message.timestamp.tzinfo is not None
        mine = (message.sender_name or "").casefold() in me
        assert message.direction == ("outgoing" if mine else "incoming")
        assert message.external_id.startswith("wa-txt:")
    assert len({m.external_id for m in result.messages}) == len(result.messages)


def test_variant_fixtures_cover_the_documented_tables() -> None:
    assert len(VARIANTS) >= 25


@pytest.mark.parametrize(
    ("variant", "name", "content_type"),
    [
        ("ios_24h_crlf_bom", "00000001-PHOTO-2019-06-20-16-00-15.jpg", "image/jpeg"),
        ("ios_12h", "00000004-report.pdf", "application/pdf"),
        ("android_es_nbsp", "IMG-20170621-WA0001.jpg", "image/jpeg"),
        ("ios_es", "00000002-PHOTO-2018-06-03-13-56-00.jpg", "image/jpeg"),
        ("ios_dot_time", "00000003-AUDIO-2026-04-22-20-21-00.opus", "audio/ogg"),
        ("cjk_ja_ios", "00000005-PHOTO-2020-05-12-12-10-00.jpg", "image/jpeg"),
    ],
)
def test_variant_attachment(variant: str, name: str, content_type: str) -> None:
    want = expected(variant)
    result = read(fixture_text(f"{variant}.txt"), me=tuple(want["me"]), files=ALL_FILES)
    attached = [a for m in result.messages for a in m.attachments]
    assert [(a.filename, a.content_type, a.blob.member) for a in attached] == [
        (name, content_type, name)
    ]
