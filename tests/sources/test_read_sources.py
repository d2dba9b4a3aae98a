"""What `read_sources` guarantees for every kind of file: bounded problems per file."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from importer.cli import main
from importer.model import Problem
from importer.sources import read_sources
from importer.sources.options import ReadOptions


def test_garbage_keeps_the_first_thousand_problems_and_counts_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 9: a 200 MB random file kept 779k problems (700 MB) in memory."""
    rng = random.Random(3)
    garbage = tmp_path / "random.jsonl"
    lines = [bytes(rng.randrange(33, 256) for _ in range(40)) for _ in range(5000)]
    garbage.write_bytes(b"\n".join(lines) + b"\n")

    problems = [i for i in read_sources([garbage], ReadOptions()) if isinstance(i, Problem)]

    assert len(problems) == 1001
    assert problems[-1] == Problem(
        str(garbage),
        None,
        "4000 more problems in this file, not listed: only the first 1000 of a file are kept",
    )
    report = tmp_path / "report.json"
    status = main(["run", str(garbage), "--dry-run", "--no-progress", "--report", str(report)])
    assert status == 1
    assert "4000 more problems in this file" in capsys.readouterr().err
    assert len(orjson.loads(report.read_bytes())["problems"]) == 1001
