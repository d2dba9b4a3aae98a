"""Command line: argument parsing and wiring only."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["emulator"]:
        from importer.emulator.cli import main as emulator_main

        return emulator_main(args[1:])
    print("usage: wa-close-import {run,inspect,status,emulator} ...", file=sys.stderr)
    return 2
