"""`python -m importer emulator`: serve the local Close API until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from importer.emulator.config import EmulatorConfig
from importer.emulator.server import Emulator
from importer.emulator.state import SeedError


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def _at_least(low: int) -> Any:
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wa-close-import emulator",
        description=(
            "Serve a local Close-compatible API (WhatsApp activities, files, phone search, leads) "
            "at http://HOST:PORT/api/v1/, with a read-only conversation view at /. It is as strict "
            "as Close may be, and can add latency, rate limits and faults."
        ),
        epilog="Not part of Close: GET /_emulator/state (counters, activities), "
        "POST /_emulator/reset.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port to bind, 0 for a free one (default %(default)s)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        metavar="PATH",
        help='JSON seed data, {"leads": [{"id"?, "name", "contacts": [{"id"?, "name", '
        '"phones": [...]}]}]} (default: a few generated leads)',
    )
    parser.add_argument(
        "--latency-ms",
        type=_at_least(0),
        default=0,
        help="answer every API and storage request N ms after it arrived",
    )
    parser.add_argument(
        "--rate-limit",
        type=_at_least(1),
        metavar="R",
        help="R requests per second per endpoint group per key, in fixed 1 s windows",
    )
    parser.add_argument(
        "--fail-rate",
        type=_rate,
        default=0.0,
        metavar="P",
        help="probability of a 502/503/504 answer, given before any change",
    )
    parser.add_argument(
        "--drop-rate",
        type=_rate,
        default=0.0,
        metavar="P",
        help="probability that a change is made and the connection then cut without an answer",
    )
    parser.add_argument(
        "--malformed-rate",
        type=_rate,
        default=0.0,
        metavar="P",
        help="probability that a 2xx answer (after the change) has no `data` or `id`",
    )
    parser.add_argument(
        "--seed", type=int, help="make generated ids, seed data and faults repeatable"
    )
    parser.add_argument("--api-key", metavar="KEY", help="accept only this API key (default: any)")
    parser.add_argument(
        "--timezone",
        metavar="TZ",
        help="IANA zone of the conversation view's times (default: this machine's; a page's "
        "?tz=Area/City overrides it)",
    )
    return parser


def load_seed(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SeedError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SeedError(f'{path} must hold a JSON object with a "leads" list')
    return data


async def _serve(emulator: Emulator) -> None:
    await emulator.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Windows has no loop signal handlers; there Ctrl-C arrives as KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    print(f"Close emulator listening on {emulator.base_url}/", flush=True)
    print(
        f"Conversation view at {emulator.root_url}/ ; {len(emulator.state.leads)} leads, "
        f"{len(emulator.state.contacts)} contacts (see {emulator.root_url}/_emulator/state)",
        file=sys.stderr,
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await emulator.stop()


def main(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help and usage errors; keep main() returning an exit code
        return exc.code if isinstance(exc.code, int) else 2
    try:
        data = load_seed(args.data) if args.data is not None else None
        config = EmulatorConfig(
            data=data,
            latency_ms=args.latency_ms,
            rate_limit=args.rate_limit,
            fail_rate=args.fail_rate,
            drop_rate=args.drop_rate,
            malformed_rate=args.malformed_rate,
            seed=args.seed,
            api_key=args.api_key,
            host=args.host,
            port=args.port,
            view_timezone=args.timezone,
        )
        emulator = Emulator(config)
    except (SeedError, ValueError) as exc:
        print(f"wa-close-import emulator: error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(emulator))
    except OSError as exc:
        print(f"wa-close-import emulator: error: cannot listen: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
