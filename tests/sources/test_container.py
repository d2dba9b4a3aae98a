"""Folders and zips as sources: walking order, refused names, attachment paths, dispatch."""

from __future__ import annotations

import sys
import types
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import orjson
import pytest

from importer.errors import UsageError
from importer.model import Blob, Item, Message, Problem, Skipped
from importer.sources import read_sources
from importer.sources.container import looks_like_export
from importer.sources.options import ReadOptions

TXT_EXPORT = "importer.sources.txt_export"


def line(message_id: str, **extra: Any) -> bytes:
    return orjson.dumps({"id": message_id, "timestamp": 1} | extra) + b"\n"


def read(*paths: Path) -> list[Item]:
    return list(read_sources(list(paths), ReadOptions()))


def ids(items: list[Item]) -> list[str]:
    return [item.external_id for item in items if isinstance(item, Message)]


def problems(items: list[Item]) -> list[tuple[str, str]]:
    return [(item.source, item.reason) for item in items if isinstance(item, Problem)]


@pytest.fixture
def fake_txt_export(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stands in for the text-export reader and records how it was called."""
    calls: list[dict[str, Any]] = []

    def read_txt_export(
        open_text: Callable[[], TextIO],
        source: str,
        options: ReadOptions,
        media: Callable[[str], Blob | None],
        *,
        title: str | None = None,
    ) -> Iterator[Item]:
        with open_text() as first, open_text() as second:
            texts = (first.read(), second.read())
            calls.append({"source": source, "texts": texts, "media": media, "title": title})
        yield Skipped(source, None, "fake export")

    module = types.ModuleType(TXT_EXPORT)
    module.read_txt_export = read_txt_export  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, TXT_EXPORT, module)
    return calls


def test_missing_path_is_a_usage_error_before_anything_is_read(tmp_path: Path) -> None:
    good = tmp_path / "a.jsonl"
    good.write_bytes(line("a"))
    with pytest.raises(UsageError, match=r"nope\.jsonl: no such file or folder"):
        read_sources([good, tmp_path / "nope.jsonl"], ReadOptions())


def test_unsupported_kind_is_a_usage_error(tmp_path: Path) -> None:
    other = tmp_path / "chat.csv"
    other.write_text("x")
    with pytest.raises(UsageError, match=r"chat\.csv: not a source \(expected a \.jsonl"):
        read_sources([other], ReadOptions())


def test_folder_is_walked_recursively_sorted_skipping_hidden(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.jsonl").write_bytes(line("a"))
    (tmp_path / "b" / "c.jsonl").write_bytes(line("b/c"))
    (tmp_path / "b.jsonl").write_bytes(line("b.jsonl"))
    (tmp_path / ".hidden.jsonl").write_bytes(line("hidden"))
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "__MACOSX" / "x.jsonl").write_bytes(line("mac"))
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "y.jsonl").write_bytes(line("git"))
    (tmp_path / "photo.jpg").write_bytes(b"ignored")
    with zipfile.ZipFile(tmp_path / "b" / "z.zip", "w") as zf:
        zf.writestr("z.jsonl", line("zip"))
    (tmp_path / "notes.txt").write_text("shopping: milk\n")
    items = read(tmp_path)
    assert ids(items) == ["a", "b/c", "zip", "b.jsonl"]
    assert [m.source for m in items if isinstance(m, Message)] == [
        str(tmp_path / "a.jsonl"),
        str(tmp_path / "b" / "c.jsonl"),
        f"{tmp_path / 'b' / 'z.zip'}:z.jsonl",
        str(tmp_path / "b.jsonl"),
    ]
    assert [(s.source, s.kind) for s in items if isinstance(s, Skipped)] == [
        (str(tmp_path / "notes.txt"), "not a WhatsApp export")
    ]


def test_sources_keep_the_order_given(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(line("a"))
    (tmp_path / "b.jsonl").write_bytes(line("b"))
    assert ids(read(tmp_path / "b.jsonl", tmp_path / "a.jsonl")) == ["b", "a"]


def test_empty_folder_and_empty_zip_say_so(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with zipfile.ZipFile(tmp_path / "media.zip", "w") as zf:
        zf.writestr("photo.jpg", b"x")
    assert problems(read(tmp_path / "empty", tmp_path / "media.zip")) == [
        (str(tmp_path / "empty"), "no .jsonl, .txt or .zip files in this folder"),
        (str(tmp_path / "media.zip"), "no .jsonl or WhatsApp .txt export in this archive"),
    ]


def test_corrupt_zip_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"this is not a zip archive at all")
    (tmp_path / "after.jsonl").write_bytes(line("after"))
    items = read(bad, tmp_path / "after.jsonl")
    [(source, reason)] = problems(items)
    assert source == str(bad)
    assert reason.startswith("not a readable zip archive")
    assert ids(items) == ["after"]


def test_damaged_member_stops_that_member_only(tmp_path: Path) -> None:
    archive = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.jsonl", line("a") * 50)
        zf.writestr("b.jsonl", line("b"))
    data = bytearray(archive.read_bytes())
    start = data.index(b"a.jsonl") + len("a.jsonl") + 10
    data[start : start + 20] = bytes(20)  # corrupt a.jsonl's deflate stream
    archive.write_bytes(bytes(data))
    items = read(archive)
    assert [reason.split(":")[0] for _, reason in problems(items)] == ["stopped reading"]
    assert problems(items)[0][0] == f"{archive}:a.jsonl"
    assert ids(items)[-1] == "b"


def test_zip_members_escaping_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    archive = tmp_path / "inner" / "evil.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../evil.jsonl", line("evil1"))
        zf.writestr("/abs.jsonl", line("evil2"))
        zf.writestr("a/../../b.jsonl", line("evil3"))
        zf.writestr("C:/win.jsonl", line("evil4"))
        zf.writestr("ok.jsonl", line("ok"))
    before = sorted(tmp_path.rglob("*"))
    items = read(archive)
    assert ids(items) == ["ok"]
    assert sorted(problems(items)) == [
        (f"{archive}:{name}", "member name is absolute or has '..'; not read")
        for name in sorted(["../evil.jsonl", "/abs.jsonl", "a/../../b.jsonl", "C:/win.jsonl"])
    ]
    assert sorted(tmp_path.rglob("*")) == before


def test_zip_ignores_macosx_and_dot_files(tmp_path: Path) -> None:
    archive = tmp_path / "mac.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("__MACOSX/._chat.jsonl", b"\x00\x05\x16\x07 binary resource fork")
        zf.writestr("__MACOSX/x.jsonl", line("mac"))
        zf.writestr(".hidden.jsonl", line("hidden"))
        zf.writestr("chat.jsonl", line("real"))
    items = read(archive)
    assert ids(items) == ["real"]
    assert problems(items) == []


def test_nested_zip_is_reported(tmp_path: Path) -> None:
    archive = tmp_path / "outer.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.jsonl", line("a"))
        zf.writestr("inner.zip", b"PK")
    assert problems(read(archive)) == [
        (f"{archive}:inner.zip", "zip archives inside zip archives are not read; unzip it first")
    ]


def attachment_line(message_id: str, path: str) -> bytes:
    return line(message_id, attachments=[{"path": path}])


def test_folder_attachments_resolve_relative_to_the_jsonl(tmp_path: Path) -> None:
    (tmp_path / "chats" / "media").mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    (tmp_path / "chats" / "media" / "a.jpg").write_bytes(b"aa")
    (tmp_path / "shared" / "b.jpg").write_bytes(b"bbb")
    (tmp_path / "chats" / "c.jsonl").write_bytes(
        attachment_line("a", "media/a.jpg") + attachment_line("b", "../shared/b.jpg")
    )
    items = read(tmp_path)
    root = tmp_path.absolute()
    assert [m.attachments[0].blob for m in items if isinstance(m, Message)] == [
        Blob(root, "chats/media/a.jpg", 2),
        Blob(root, "shared/b.jpg", 3),
    ]


def test_attachment_paths_leaving_the_folder_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"secret")
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "link.jpg").symlink_to(outside)
    (folder / "inner").mkdir()
    (folder / "inner" / "dirlink").symlink_to(tmp_path, target_is_directory=True)
    (folder / "ok.jpg").write_bytes(b"ok")
    source = folder / "chat.jsonl"
    source.write_bytes(
        attachment_line("up", "../secret.txt")
        + attachment_line("abs", str(outside))
        + attachment_line("link", "link.jpg")
        + attachment_line("dirlink", "inner/dirlink/secret.txt")
        + attachment_line("win", "C:\\secret.txt")
        + attachment_line("missing", "gone.jpg")
        + attachment_line("fine", "./inner/../ok.jpg")
    )
    before = outside.stat()
    items = read(source)
    assert ids(items) == ["fine"]
    found = [(p.line, p.external_id, p.reason) for p in items if isinstance(p, Problem)]
    assert [(n, i) for n, i, _ in found] == [
        (1, "up"),
        (2, "abs"),
        (3, "link"),
        (4, "dirlink"),
        (5, "win"),
        (6, "missing"),
    ]
    assert "leads outside" in found[0][2]
    assert "is absolute" in found[1][2]
    assert all("is a link that leads outside" in reason for _, _, reason in found[2:4])
    assert "not found" in found[5][2]
    assert outside.stat() == before
    assert outside.read_bytes() == b"secret"


def test_zip_attachments_from_root_then_member_folder(tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(
            "chats/c.jsonl",
            b"".join(
                [
                    attachment_line("root", "media/a.jpg"),
                    attachment_line("beside", "b.jpg"),
                    attachment_line("up", "../a.jpg"),
                    attachment_line("escape", "../../a.jpg"),
                    attachment_line("abs", "/media/a.jpg"),
                    attachment_line("missing", "nope.jpg"),
                ]
            ),
        )
        zf.writestr("media/a.jpg", b"a")
        zf.writestr("chats/b.jpg", b"bb")
        zf.writestr("a.jpg", b"ccc")
    items = read(archive)
    zip_path = archive.absolute()
    assert [(m.external_id, m.attachments[0].blob) for m in items if isinstance(m, Message)] == [
        ("root", Blob(zip_path, "media/a.jpg", 1)),
        ("beside", Blob(zip_path, "chats/b.jpg", 2)),
        ("up", Blob(zip_path, "a.jpg", 3)),
    ]
    found = [(p.external_id, p.reason) for p in items if isinstance(p, Problem)]
    assert [i for i, _ in found] == ["escape", "abs", "missing"]
    assert "leads outside export.zip" in found[0][1]
    assert "is absolute" in found[1][1]
    assert "not found in export.zip" in found[2][1]


@pytest.mark.parametrize(
    "first_line",
    [
        "1/4/23, 7:02\u202fPM - Person 2: <Media omitted>",
        "12/07/2017, 22:35 - Johannes: text",
        "29.01.18, 23:47 - Bob: <Medien ausgeschlossen>",
        "20/6/2017 8:28 p.\u00a0m. - Michelle: test",
        "26-04-2022 12:11 - Name: text",
        "13.6.2018 klo 21.25.15 - a: m",
        "\u200e[20.06.19, 16:00:15] Loris: text",
        "[28/02/2022, 9:52:58 PM] Name: text",
        "[3/6/18 1:55:00 p. m.] a: m",
        "[2018/06/13, 21:25:15] a: m",
        "2019-10-20, 10:16 - John: text",
        "06/03/2017, 00:45 - Messages and calls are end-to-end encrypted.",
        "2023/12/20 \u4e0b\u53485:46 - Bob: hi",
        "\n\n[22.4.2026, 20.20.13] Ann: hi",
        # The same marks and layouts the reader knows (one definition, in txt_headers).
        "\u202b12/07/2017, 22:35 - Johannes: text",
        "\u2066[20.06.19, 16:00:15]\u2069 Loris: text",
        "\u202e\u202d29.01.18, 23:47 - Bob: hi",
        "12/07/2017 à 22:35 - XXX: Salut :)",
        "27/02/14 05:16:12: Steve Rogers: We won.",
        "2022/12/14, 13:34. - John Doe: Lorem",
        "29.01.18, 3:47 nachmittags - Bob: a day period not known yet is still an export",
    ],
)
def test_export_headers_are_recognised(first_line: str) -> None:
    assert looks_like_export(first_line + "\nmore text\n")


@pytest.mark.parametrize(
    "text", ["", "shopping list\n1/4/23, 7:02 PM - x", "Meeting at 12:30 - bring notes", "[x] done"]
)
def test_other_text_is_not_an_export(text: str) -> None:
    assert not looks_like_export(text)


IOS_EXPORT = (
    "\ufeff[20.06.19, 16:00:15] Loris: hi\r\n[20.06.19, 16:01:00] Ann: \u200e<attached: a.jpg>\r\n"
)


def test_text_exports_in_a_zip_are_found_by_content_and_name(
    tmp_path: Path, fake_txt_export: list[dict[str, Any]]
) -> None:
    archive = tmp_path / "WhatsApp Chat - Loris.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("renamed.txt", IOS_EXPORT.encode())
        zf.writestr("_chat.txt", b"not a header line\n")
        zf.writestr("readme.txt", b"Exported on Monday\n")
        zf.writestr("00000001-PHOTO.jpg", b"jpg")
        zf.writestr("sub/a.jpg", b"a")
    items = read(archive)
    assert [(i.source, i.kind) for i in items if isinstance(i, Skipped)] == [
        (f"{archive}:_chat.txt", "fake export"),
        (f"{archive}:readme.txt", "not a WhatsApp export"),
        (f"{archive}:renamed.txt", "fake export"),
    ]
    # Inside a zip, the chat's name is the zip's (iOS names only the zip).
    assert [call["title"] for call in fake_txt_export] == ["Loris", "Loris"]
    renamed = fake_txt_export[1]
    expected = "[20.06.19, 16:00:15] Loris: hi\n[20.06.19, 16:01:00] Ann: \u200e<attached: a.jpg>\n"
    assert renamed["texts"] == (expected, expected)
    media: Callable[[str], Blob | str] = renamed["media"]
    assert media("00000001-PHOTO.jpg") == Blob(archive.absolute(), "00000001-PHOTO.jpg", 3)
    assert media("missing.jpg") == f"attachment 'missing.jpg' not found in {archive.name}"
    assert media("../00000001-PHOTO.jpg") == (
        f"attachment path '../00000001-PHOTO.jpg' leads outside {archive.name}"
    )


def test_text_exports_in_a_folder_and_given_directly(
    tmp_path: Path, fake_txt_export: list[dict[str, Any]]
) -> None:
    (tmp_path / "chat").mkdir()
    export = tmp_path / "chat" / "WhatsApp Chat with Bob.txt"
    export.write_text("12/07/2017, 22:35 - Bob: hi\n", encoding="utf-8")
    (tmp_path / "chat" / "IMG-1.jpg").write_bytes(b"img")
    (tmp_path / "secret.jpg").write_bytes(b"s")
    direct = tmp_path / "odd.txt"
    direct.write_text("anything at all\n")
    items = read(tmp_path / "chat", direct)
    assert [i.source for i in items if isinstance(i, Skipped)] == [str(export), str(direct)]
    assert [call["title"] for call in fake_txt_export] == ["Bob", None]
    media: Callable[[str], Blob | str] = fake_txt_export[0]["media"]
    assert media("IMG-1.jpg") == Blob(tmp_path.absolute() / "chat", "IMG-1.jpg", 3)
    assert media("../secret.jpg") == (
        f"attachment path '../secret.jpg' leads outside {tmp_path.absolute() / 'chat'}"
    )
