"""Every command, failing for a cause outside the program, says so in one line: no traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from importer.cli import main
from importer.close.retry import RetryPolicy
from importer.emulator import Emulator, EmulatorConfig
from tests.conftest import LOCAL_PHONE, ROOT, SAMPLES, ThreadedEmulator


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreachable Close gives up after two fast tries, not six with backoff."""
    fast = (2, 0.001, 0.002, 30, 0.001, 300.0)
    monkeypatch.setattr(RetryPolicy.__init__, "__defaults__", fast)


@pytest.fixture
def unreachable() -> str:
    """An API root on a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v1"


@pytest.fixture
def refusing() -> Iterator[Emulator]:
    """A Close that accepts one key only, not the one the commands pass."""
    with ThreadedEmulator(EmulatorConfig(api_key="the-right-key", seed=3)) as emu:
        yield emu


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def one_line_failure(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    status = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


def _run_args(tmp_path: Path, base_url: str) -> list[str | Path]:
    return [
        "run",
        SAMPLES,
        "--local-phone",
        LOCAL_PHONE,
        "--lead-id",
        "lead_x",
        "--contact-id",
        "cont_x",
        "--api-key",
        "wrong-key",
        "--base-url",
        base_url,
        "--checkpoint",
        tmp_path / "c.ckpt",
        "--no-progress",
    ]


def test_run_against_an_unreachable_close_stops_in_a_line(
    tmp_path: Path, unreachable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = one_line_failure(capsys, *_run_args(tmp_path, unreachable))
    assert status == 1
    assert "Close is unavailable" in err and "cannot connect to Close" in err


def test_run_with_a_refused_key_is_a_usage_error(
    tmp_path: Path, refusing: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = one_line_failure(capsys, *_run_args(tmp_path, refusing.base_url))
    assert status == 2
    assert "Close refused the API key (HTTP 401): check --api-key" in err
    assert "wrong-key" not in err


@pytest.mark.parametrize("close", ["unreachable", "refusing"])
def test_inspect_lookups_fail_in_a_line(
    close: str, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    server = request.getfixturevalue(close)
    base_url = server if isinstance(server, str) else server.base_url
    template = tmp_path / "phones.csv"
    args: list[str | Path] = ["inspect", SAMPLES, "--local-phone", LOCAL_PHONE]
    args += ["--mapping-template", template, "--api-key", "wrong-key", "--base-url", base_url]
    status, err = one_line_failure(capsys, *args)
    assert (status, len(err.splitlines())) == ((2, 1) if close == "refusing" else (1, 1))
    assert err.startswith("wa-close-import: error: ")


def test_status_of_an_unreadable_checkpoint_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = one_line_failure(capsys, "status", "--checkpoint", tmp_path)
    assert status == 2 and len(err.splitlines()) == 1


def test_an_unreadable_source_or_config_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = one_line_failure(capsys, "inspect", tmp_path / "gone.jsonl")
    assert status == 2 and "no such file" in err
    status, err = one_line_failure(capsys, "run", SAMPLES, "--config", tmp_path / "gone.toml")
    assert status == 2 and "cannot read config" in err


def test_a_report_nowhere_to_write_is_a_usage_error_before_sending(
    tmp_path: Path, unreachable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*_run_args(tmp_path, unreachable), "--report", tmp_path / "no" / "r.json"]
    status, err = one_line_failure(capsys, *args)
    assert status == 2 and "no folder" in err
    assert not (tmp_path / "c.ckpt").exists()
    status, err = one_line_failure(capsys, *args[:-1], tmp_path)
    assert status == 2 and "a folder, not a file" in err


def test_a_mapping_template_nowhere_to_write_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args: list[str | Path] = ["inspect", SAMPLES, "--mapping-template", tmp_path / "no" / "x.csv"]
    status, err = one_line_failure(capsys, *args)
    assert status == 2 and "no folder" in err


def test_rehearse_on_a_port_in_use_is_one_line(
    busy_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    args: list[str | Path] = ["rehearse", SAMPLES, "--local-phone", LOCAL_PHONE]
    status, err = one_line_failure(capsys, *args, "--port", str(busy_port), "--no-progress")
    assert status == 2 and "Address already in use" in err


def test_the_emulator_on_a_port_in_use_is_one_line(busy_port: int) -> None:
    # A process of its own: what a user sees, from the interpreter's own top level.
    done = subprocess.run(
        [sys.executable, "-m", "importer", "emulator", "--port", str(busy_port)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
