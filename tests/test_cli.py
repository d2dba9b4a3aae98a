"""The command line itself: options from a config file, and what wins."""

from __future__ import annotations

import contextlib
from pathlib import Path

import orjson
import pytest

from importer.cli import main
from tests.conftest import SAMPLES


def test_a_config_file_sets_options_and_flags_win(tmp_path: Path) -> None:
    config = tmp_path / "import.toml"
    config.write_text('local_phone = "+1 415 555 0100"\ntimezone = "UTC"\nsince = "2024-05-01"\n')
    report = tmp_path / "r.json"
    args = ["run", str(SAMPLES), "--dry-run", "--config", str(config), "--report", str(report)]
    args += ["--checkpoint", str(tmp_path / "c.ckpt")]

    assert main(args) == 0
    assert orjson.loads(report.read_bytes())["created"] == 4  # Jonas's May messages

    assert main([*args, "--since", "2024-01-01"]) == 0
    assert orjson.loads(report.read_bytes())["created"] == 10


def test_an_unknown_config_key_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "import.toml"
    config.write_text('locl_phone = "+1 415 555 0100"\n')
    assert main(["inspect", str(SAMPLES), "--config", str(config)]) == 2
    assert "unknown key(s): locl_phone" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ('dry_run = "yes"', "dry_run = 'yes': expected true or false"),
        ('date-order = "xyz"', "date_order = 'xyz': expected one of 'dmy', 'mdy', 'ymd'"),
        ("concurrency = 2.5", "concurrency = 2.5: expected a whole number"),
        ('concurrency = "eight"', "argument --concurrency: invalid int value: 'eight'"),
    ],
)
def test_a_config_value_of_the_wrong_kind_is_one_line_and_a_usage_error(
    line: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "import.toml"
    config.write_text(line + "\n")
    with pytest.raises(SystemExit) if "argument" in said else contextlib.nullcontext():
        assert main(["run", str(SAMPLES), "--dry-run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


def test_the_readme_scheduled_run_config_keys_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "import.toml"
    config.write_text('local-phone = "+14155550100"\nstatus-every = 10\nno-progress = true\n')
    report = tmp_path / "r.json"
    args = ["run", str(SAMPLES), "--dry-run", "--config", str(config), "--report", str(report)]
    assert main([*args, "--checkpoint", str(tmp_path / "c.ckpt")]) == 0
    assert orjson.loads(report.read_bytes())["created"] == 10
    assert "  +16505550123: would create 6, already imported 0" in capsys.readouterr().err
