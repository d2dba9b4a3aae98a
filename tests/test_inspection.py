"""`status`: what a checkpoint says, each failure with its reason and line, and the rerun."""

from __future__ import annotations

import shlex
import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest

from importer.checkpoint import schema
from importer.cli import main
from importer.emulator import Emulator
from tests.conftest import API_KEY, LOCAL_PHONE, SAMPLES, cli_import

MARIA = SAMPLES / "maria-acme.jsonl"


def lines_of(path: Path) -> dict[str, int]:
    """Each message id of a canonical JSONL file -> the line it is on."""
    rows = path.read_text().splitlines()
    return {orjson.loads(row)["id"]: n for n, row in enumerate(rows, start=1)}


def status(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    capsys.readouterr()
    assert main(["status", *(str(a) for a in args)]) == 0
    return capsys.readouterr().out


def test_status_failed_lists_each_failure_with_its_line_and_its_command_retries_them(
    close_server: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    archive = tmp_path / "in"
    shutil.copytree(SAMPLES, archive)
    mapping = archive / "mapping.csv"
    right = mapping.read_text()
    mapping.write_text(right.replace("lead_acmeSampleLead", "lead_typoSampleLead"))
    monkeypatch.chdir(archive)  # relative sources: the command must name them absolutely
    sources = ("maria-acme.jsonl", "jonas-baeckerei.jsonl")
    first, report = cli_import(close_server, tmp_path, *sources, "--mapping", "mapping.csv")
    assert first == 1 and report["created"] == 4  # Jonas's; Maria's lead does not exist

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = status(capsys, "--checkpoint", "../run.ckpt", "--failed")

    lines = out.splitlines()
    expected = lines_of(MARIA)
    failed = [line for line in lines if line.startswith("  failed ")]
    assert len(failed) == len(expected) == 6
    for wa_id, n in expected.items():
        line = next(line for line in failed if line.startswith(f"  failed {wa_id}:"))
        assert "Lead not found" in line
        assert line.endswith(f"(at {archive / 'maria-acme.jsonl'}:{n})")
    assert "../run.ckpt: imported 4, pending 0, failed 6" in lines[0]
    command = shlex.split(lines[-1])
    assert command[:2] == ["wa-close-import", "run"]
    assert command[-2:] == ["--checkpoint", "../run.ckpt"]
    assert "set CLOSE_API_KEY" in lines[-2]
    document = orjson.loads(status(capsys, "--checkpoint", "../run.ckpt", "--json"))
    assert shlex.split(document["last_run"]["command"]) == command
    assert {(m["external_id"], m["line"]) for m in document["failed_messages"]} == set(
        expected.items()
    )
    for shown in (out, orjson.dumps(document).decode(), (tmp_path / "run.ckpt").read_bytes()):
        assert API_KEY not in str(shown)

    mapping.write_text(right)  # the cause fixed; the key comes from the environment
    monkeypatch.setenv("CLOSE_API_KEY", API_KEY)
    assert main([*command[1:], "--no-progress"]) == 0

    held = [a["external_whatsapp_message_id"] for a in close_server.state.activities.values()]
    assert sorted(held) == sorted([*expected, *lines_of(SAMPLES / "jonas-baeckerei.jsonl")])
    out = status(capsys, "--checkpoint", "../run.ckpt", "--failed")
    assert out.splitlines()[0] == "../run.ckpt: imported 10, pending 0, failed 0"
    assert "  failed " not in out
    assert out.splitlines()[-2].startswith("last run, started ")
    assert shlex.split(out.splitlines()[-1]) == command
    with sqlite3.connect(tmp_path / "run.ckpt") as db:  # settled failures leave no place behind
        assert db.execute("SELECT count(*) FROM failed_at").fetchone() == (0,)
    db.close()


def test_the_command_keeps_what_reads_and_sends_the_same_and_never_the_key(
    close_server: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "import.toml"
    config.write_text(f'api-key = "{API_KEY}"\nuser-id = "user_1"\nconcurrency = 3\n')
    args: list[str | Path] = [
        "--config",
        config,
        "--send-to-inbox",
        "--no-reconcile",
        "--me=-Bob-",
        "--me",
        "Al",
    ]
    assert cli_import(close_server, tmp_path, SAMPLES, *args, "--until", "2024-05-10")[0] == 0

    document = orjson.loads(status(capsys, "--checkpoint", tmp_path / "run.ckpt", "--json"))

    assert document["last_run"]["sources"] == [str(SAMPLES)]
    options = document["last_run"]["options"]
    assert options == [
        "--base-url",
        close_server.base_url,
        "--local-phone",
        LOCAL_PHONE,
        "--until",
        "2024-05-10",
        "--user-id",
        "user_1",
        "--timezone",
        options[options.index("--timezone") + 1],  # the machine's, named
        "--me=-Bob-",
        "--me",
        "Al",
        "--send-to-inbox",
        "--no-reconcile",
        "--concurrency",
        "3",
    ]
    assert options[options.index("--timezone") + 1]  # a zone name, not empty
    for shown in (orjson.dumps(document).decode(), (tmp_path / "run.ckpt").read_bytes()):
        assert API_KEY not in str(shown) and "import.toml" not in str(shown)


def test_a_checkpoint_of_the_first_schema_is_read_as_it_is_then_gains_the_step(
    close_server: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "run.ckpt"
    with sqlite3.connect(old) as db:
        for statement in schema._statements(schema.STEPS[0]):
            db.execute(statement)
        db.execute("INSERT INTO messages VALUES ('wamid.OLD', 2, '+1', NULL, NULL, 'refused')")
        db.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
        db.execute("PRAGMA user_version = 1")
    db.close()

    out = status(capsys, "--checkpoint", old, "--failed")
    assert "  failed wamid.OLD: refused\n" in out
    assert "an earlier release wrote it" in out
    assert old.read_bytes()[60:64] == (1).to_bytes(4, "big")  # status wrote nothing

    assert cli_import(close_server, tmp_path, MARIA)[0] == 0
    document = orjson.loads(status(capsys, "--checkpoint", old, "--json"))
    assert document["last_run"]["sources"] == [str(MARIA)]
    assert document["failed_messages"] == [
        {"external_id": "wamid.OLD", "reason": "refused", "source": None, "line": None}
    ]
    assert old.read_bytes()[60:64] == len(schema.STEPS).to_bytes(4, "big")
