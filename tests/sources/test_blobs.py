"""Capped blob reads: declared sizes are not trusted, and nothing large is held in memory."""

from __future__ import annotations

import hashlib
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import orjson
import pytest

from importer.errors import BlobError
from importer.model import Blob, Item, Message, Problem
from importer.sources import read_sources
from importer.sources.blobs import BlobCorrupt, BlobTooLarge, blob_digest, open_blob
from importer.sources.options import MAX_MESSAGE_ATTACHMENT_BYTES, ReadOptions

MIB = 1024 * 1024
BOMB_BYTES = 60 * MIB


def read(*paths: Path) -> list[Item]:
    return list(read_sources(list(paths), ReadOptions()))


def attachment_line(message_id: str, *paths: str) -> bytes:
    attachments = [{"path": path} for path in paths]
    return orjson.dumps({"id": message_id, "timestamp": 1, "attachments": attachments}) + b"\n"


def write_bomb(archive: Path, *, lie_to: int | None = None) -> None:
    """A zip with `chat.jsonl` and 60 MiB of zeros (~60 KiB deflated) written in chunks.

    With `lie_to`, the member's declared size is rewritten to that many bytes, in the central
    directory and in the local header, the way a hostile archive would.
    """
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("chat.jsonl", attachment_line("bomb", "zeros.bin"))
        with zf.open("zeros.bin", "w") as member:
            chunk = bytes(MIB)
            for _ in range(BOMB_BYTES // MIB):
                member.write(chunk)
    if lie_to is None:
        return
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        local = zf.getinfo("zeros.bin").header_offset
    name = b"zeros.bin"
    central = data.rfind(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name:
        central = data.rfind(b"PK\x01\x02", 0, central)
    struct.pack_into("<I", data, central + 24, lie_to)
    struct.pack_into("<I", data, local + 22, lie_to)
    archive.write_bytes(bytes(data))


def test_folder_blob_reads_and_digests(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"hello world")
    blob = Blob(tmp_path, "a.bin", 11)
    with open_blob(blob) as stream:
        assert stream.read() == b"hello world"
    assert blob_digest(blob) == (hashlib.sha256(b"hello world").hexdigest(), 11)


def test_zip_blob_reads_and_digests(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    payload = b"0123456789" * 300_000
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("media/a.bin", payload)
    blob = Blob(archive, "media/a.bin", len(payload))
    assert blob_digest(blob) == (hashlib.sha256(payload).hexdigest(), len(payload))
    with open_blob(blob) as stream:
        assert stream.read(5) == b"01234"


@pytest.mark.parametrize("declared", [10, 0, -1])
def test_more_bytes_than_declared_is_refused(tmp_path: Path, declared: int) -> None:
    (tmp_path / "grown.bin").write_bytes(b"x" * 100)
    blob = Blob(tmp_path, "grown.bin", declared)
    with pytest.raises(BlobTooLarge, match="more than"):
        blob_digest(blob)


def test_a_file_swapped_for_a_link_outside_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "export"
    root.mkdir()
    (tmp_path / "secret").write_bytes(b"secret")
    (root / "a.jpg").symlink_to(tmp_path / "secret")
    with pytest.raises(BlobCorrupt, match="leads outside"):
        open_blob(Blob(root, "a.jpg", 6))


def test_missing_file_member_or_archive_is_a_blob_error(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("x", b"x")
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    for blob in [
        Blob(tmp_path, "gone.jpg", 1),
        Blob(archive, "gone.jpg", 1),
        Blob(tmp_path / "bad.zip", "x", 1),
        Blob(tmp_path / "nowhere.zip", "x", 1),
    ]:
        with pytest.raises(BlobError):
            open_blob(blob)


def test_zip_bomb_declaring_more_than_close_accepts(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    write_bomb(archive)
    assert archive.stat().st_size < MIB

    [problem] = read(archive)
    assert isinstance(problem, Problem)
    assert (problem.source, problem.line, problem.external_id) == (
        f"{archive}:chat.jsonl",
        1,
        "bomb",
    )
    assert f"{BOMB_BYTES} bytes, more than the {MAX_MESSAGE_ATTACHMENT_BYTES}" in problem.reason

    # Even when asked to, the bytes stop at Close's limit, a chunk at a time.
    started = time.monotonic()
    tracemalloc.start()
    try:
        with pytest.raises(BlobTooLarge, match=f"more than {MAX_MESSAGE_ATTACHMENT_BYTES} bytes"):
            blob_digest(Blob(archive.absolute(), "zeros.bin", BOMB_BYTES))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MIB
    assert time.monotonic() - started < 10


def test_zip_bomb_lying_about_its_size(tmp_path: Path) -> None:
    archive = tmp_path / "liar.zip"
    write_bomb(archive, lie_to=1000)

    # Declared sizes are what reading judges by: the message imports, its blob says 1000.
    [message] = read(archive)
    assert isinstance(message, Message)
    blob = message.attachments[0].blob
    assert blob == Blob(archive.absolute(), "zeros.bin", 1000)

    tracemalloc.start()
    try:
        with pytest.raises(BlobError):
            blob_digest(blob)
        with open_blob(blob) as stream:
            got = 0
            with pytest.raises(BlobError):
                while chunk := stream.read(100):
                    got += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got <= 1000
    assert peak < 8 * MIB


def test_attachments_summing_past_the_limit_refuse_their_message(tmp_path: Path) -> None:
    half = MAX_MESSAGE_ATTACHMENT_BYTES // 2 + 1
    for name in ("a.bin", "b.bin"):
        with (tmp_path / name).open("wb") as sparse:
            sparse.truncate(half)
    (tmp_path / "chat.jsonl").write_bytes(
        attachment_line("both", "a.bin", "b.bin") + attachment_line("one", "a.bin")
    )
    items = read(tmp_path / "chat.jsonl")
    assert [(type(i).__name__, getattr(i, "external_id", None)) for i in items] == [
        ("Problem", "both"),
        ("Message", "one"),
    ]


def test_a_zip_of_thousands_of_attachments_is_parsed_once_not_per_attachment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9: each hash and each upload parsed the whole central directory again."""
    members = 3000
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(
            "chat.jsonl", b"".join(attachment_line(f"m{n}", f"{n}.bin") for n in range(members))
        )
        for n in range(members):
            zf.writestr(f"{n}.bin", f"file {n}".encode())
    parsed: list[object] = []
    real = zipfile.ZipFile

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            parsed.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(zipfile, "ZipFile", Counting)
    blobs = [a.blob for m in read(archive) if isinstance(m, Message) for a in m.attachments]
    assert len(blobs) == members
    walked = len(parsed)
    for blob in blobs:  # as the importer does: hash, then upload
        digest, _ = blob_digest(blob)
        with open_blob(blob) as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == digest
    assert len(parsed) - walked <= 1
    assert walked == 1  # reading the archive itself


def test_threads_sharing_one_open_zip_each_read_their_own_bytes(tmp_path: Path) -> None:
    """Hashes run in worker threads; one shared archive must serve them all, to the end."""
    from concurrent.futures import ThreadPoolExecutor

    archive = tmp_path / "shared.zip"
    contents = {f"{n}.bin": bytes([n % 251]) * (1000 + n) for n in range(400)}
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in contents.items():
            zf.writestr(name, data)
    blobs = [Blob(archive, name, len(data)) for name, data in contents.items()]

    with ThreadPoolExecutor(8) as pool:
        digests = list(pool.map(blob_digest, blobs * 3))

    expected = [(hashlib.sha256(contents[b.member]).hexdigest(), b.size) for b in blobs]
    assert digests == expected * 3
    with open_blob(blobs[0]) as stream:  # the archive is still open and readable
        assert stream.read() == contents["0.bin"]
