"""Command line: argument parsing and wiring only; the work happens in `runner` and friends."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import math
import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from importer import __version__, clock
from importer.close.trust import check_base_url
from importer.contacts import Defaults, LookupOptions, Mapping, load_mapping
from importer.errors import AuthRefused, CheckpointError, ImporterError, UsageError
from importer.phones import to_e164
from importer.pipeline import SendOptions
from importer.plan import Window
from importer.report import Report, printable
from importer.runner import DEFAULT_CHECKPOINT, RunConfig
from importer.sources.options import ReadOptions

DEFAULT_BASE_URL = "https://api.close.com/api/v1"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_DESCRIPTION = """\
Import WhatsApp conversations into Close, each message exactly once.

A SOURCE is a canonical .jsonl file, a WhatsApp .txt export, a .zip holding either with its
media, or a folder of those. Reruns with the same --checkpoint never create a message twice.
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["emulator"]:
        from importer.emulator.cli import main as emulator_main

        status: int = emulator_main(args[1:])
        return status
    parser = _parser()
    try:
        namespace = _parse(parser, args)
        logging.basicConfig(
            level=logging.DEBUG if getattr(namespace, "verbose", False) else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        command: int = namespace.handler(namespace)
        sys.stdout.flush()  # here, where a closed pipe can be caught, not at exit
    except ImporterError as exc:
        print(f"wa-close-import: error: {printable(str(exc))}", file=sys.stderr)
        return exit_for(exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`inspect | head -1`): there is nobody left to tell.
        _silence_output()
        return EXIT_OK
    except OSError as exc:  # a file or port the checks before could not foresee
        print(f"wa-close-import: error: {printable(_describe_os_error(exc))}", file=sys.stderr)
        return EXIT_FAILED
    return command


def exit_for(exc: ImporterError) -> int:
    """interface.md's status for an error that ended a command: 2 when the user must change
    something before anything can work (usage, checkpoint, the key), 1 otherwise."""
    if isinstance(exc, UsageError | CheckpointError | AuthRefused):
        return EXIT_USAGE
    return EXIT_FAILED


def _describe_os_error(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def _silence_output() -> None:
    """Point stdout and stderr at /dev/null, so exit's own flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        # Not a real file (a test's capture): nothing will be flushed to it anyway.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())
    os.close(devnull)


def _say(report: Report) -> None:
    """The summary on stderr; a closed pipe ends it quietly."""
    try:
        report.print()
        sys.stderr.flush()
    except BrokenPipeError:
        _silence_output()


def _parse(parser: argparse.ArgumentParser, args: list[str]) -> argparse.Namespace:
    namespace = parser.parse_args(args)
    if getattr(namespace, "config", None):
        # Flags win over the file: reparse with the file's values as defaults.
        defaults = _read_config(namespace.config, namespace.subparser)
        namespace.subparser.set_defaults(**defaults)
        namespace = parser.parse_args(args)
    return namespace


def _read_config(path: Path, parser: argparse.ArgumentParser) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config {path}: {exc}") from exc
    actions = {action.dest: action for action in parser._actions}
    values = {key.replace("-", "_"): value for key, value in data.items()}
    unknown = sorted(set(values) - set(actions))
    if unknown:
        raise UsageError(f"config {path}: unknown key(s): {', '.join(unknown)}")
    for key, value in values.items():
        wrong = _wrong_config_value(actions[key], value)
        if wrong:
            raise UsageError(f"config {path}: {key} = {value!r}: {wrong}")
    return values


def _wrong_config_value(action: argparse.Action, value: Any) -> str | None:
    """What is wrong with a config file's value, which argparse does not check as it does a
    flag's (a string is still converted by the action's type when it is parsed)."""
    if action.nargs == 0 and not isinstance(value, bool):  # a switch: --dry-run, --reconcile
        return "expected true or false"
    if action.choices is not None and value not in action.choices:
        return f"expected one of {', '.join(map(repr, action.choices))}"
    if action.type in (int, float) and not isinstance(value, str):
        numbers = (int,) if action.type is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, numbers):
            return "expected a whole number" if action.type is int else "expected a number"
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wa-close-import",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="import archives into Close",
        description="Import SOURCE into Close, each message once, replies linked to their "
        "parents, attachments uploaded. Rerun with the same --checkpoint to resume or to add "
        "what is new: nothing is created twice.",
        epilog="exit status: 0 every message is in Close; 1 some were rejected or failed, or "
        "the run stopped short (Close unavailable, the key refused mid-run, the checkpoint "
        "unwritable; see --report; a rerun retries them); 2 a usage error, nothing sent; 130 "
        "interrupted with messages left undone (rerun to resume). SIGINT, SIGTERM and SIGHUP "
        "stop the run cleanly; a second one stops it at once.",
    )
    _add_reading(run)
    _add_target(run)
    _add_sending(run)
    run.set_defaults(handler=_cmd_run, subparser=run)

    rehearse = commands.add_parser(
        "rehearse",
        help="import into a local emulator with the run options given and show the result",
        description="Start an emulator, import SOURCE into it with the options of `run`, print "
        "the summary, and serve the emulator's conversation view (a page per lead, times in "
        "--timezone) until Ctrl-C. Nothing reaches Close. The emulator holds only the leads of "
        "--data, --mapping and --lead-id; without --data, a lead is created for every other "
        "remote phone (--create-missing).",
    )
    _add_reading(rehearse)
    _add_sending(rehearse)
    rehearse.add_argument("--data", type=Path, metavar="PATH", help="emulator seed leads (JSON)")
    rehearse.add_argument("--port", type=int, default=8000, help="view port (0: any free one)")
    rehearse.add_argument(
        "--no-serve", action="store_true", help="exit after the import instead of serving"
    )
    rehearse.set_defaults(handler=_cmd_rehearse, subparser=rehearse)

    inspect = commands.add_parser(
        "inspect", help="read and validate archives, show what would be imported; no network"
    )
    _add_reading(inspect)
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.add_argument(
        "--mapping-template",
        type=Path,
        metavar="PATH",
        help="write a CSV of every remote party (by phone, else by name; messages, first/last, "
        "files) to fill in and pass as --mapping; with --api-key, what Close knows of each is "
        "filled in",
    )
    _add_credentials(inspect, "with --mapping-template: look each phone up in Close")
    inspect.set_defaults(handler=_cmd_inspect, subparser=inspect)

    status = commands.add_parser("status", help="summarise a checkpoint")
    status.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, metavar="PATH")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.add_argument(
        "--failed",
        action="store_true",
        help="list each failed message with its reason and where it was read, then the "
        "command that retries them",
    )
    status.set_defaults(handler=_cmd_status, subparser=status)

    commands.add_parser(
        "emulator", help="start the local Close-compatible API (see `emulator --help`)"
    )
    return parser


def _add_reading(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "sources",
        nargs="+",
        type=Path,
        metavar="SOURCE",
        help=".jsonl (canonical or Cloud API webhooks), WhatsApp .txt export, .zip, or a folder",
    )
    p.add_argument("--config", type=Path, metavar="PATH", help="TOML file of these options")
    p.add_argument("--local-phone", metavar="PHONE", help="the account's own WhatsApp number")
    p.add_argument("--remote-phone", metavar="PHONE", help="the other party, one-to-one exports")
    p.add_argument(
        "--me",
        action="append",
        default=[],
        metavar="NAME",
        help="text exports: a sender name that is the account itself (repeatable)",
    )
    p.add_argument(
        "--timezone", metavar="TZ", help="IANA zone of text-export times (default: this machine's)"
    )
    p.add_argument("--date-order", choices=("dmy", "mdy", "ymd"), help="override detection")
    p.add_argument(
        "--default-region", metavar="CC", help="region for phones without country code (US, DE)"
    )
    p.add_argument("--since", metavar="T", help="only messages at or after T (ISO 8601)")
    p.add_argument("--until", metavar="T", help="only messages before T (a date: through it)")
    p.add_argument(
        "--mapping",
        type=Path,
        metavar="CSV",
        help="phone,lead_id,contact_id[,name] rows: whose lead a phone is (and, for text "
        "exports, whose phone a sender name is)",
    )
    p.add_argument("--verbose", action="store_true", help="request-level logs on stderr")


def _add_credentials(p: argparse.ArgumentParser, key_help: str) -> None:
    p.add_argument(
        "--base-url",
        default=os.environ.get("CLOSE_BASE_URL", DEFAULT_BASE_URL),
        metavar="URL",
        help="API root (env CLOSE_BASE_URL; default %(default)s); no credentials in it",
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get("CLOSE_API_KEY"),
        metavar="KEY",
        help=f"Close API key; {key_help}. A flag is visible to other users of this machine "
        "(ps): prefer the environment variable CLOSE_API_KEY",
    )


def _add_target(p: argparse.ArgumentParser) -> None:
    _add_credentials(p, "required unless --dry-run")
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=DEFAULT_CHECKPOINT,
        metavar="PATH",
        help="journal that makes reruns safe (default %(default)s); past 200,000 messages "
        "the run also keeps scratch files beside it (~30 bytes a message, deleted at the end)",
    )


def _add_sending(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--concurrency", type=int, default=8, metavar="N", help="requests in flight (default 8)"
    )
    p.add_argument("--lead-id", metavar="ID", help="lead for every message without a mapping")
    p.add_argument("--contact-id", metavar="ID", help="contact for every message without one")
    p.add_argument("--user-id", metavar="ID", help="Close user the activities belong to")
    p.add_argument(
        "--send-to-inbox", action="store_true", help="incoming messages also notify the Inbox"
    )
    p.add_argument(
        "--pick",
        choices=("first",),
        help="a phone matching several contacts: take the first instead of holding it back",
    )
    p.add_argument(
        "--reconcile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="before importing a chat, list what Close holds for its lead and skip those ids "
        "(default: on when the checkpoint is new)",
    )
    p.add_argument(
        "--create-missing",
        action="store_true",
        help="create a lead and contact for a remote phone Close does not know (once)",
    )
    p.add_argument(
        "--sync-edits",
        action="store_true",
        help="update (PUT) activities whose message changed since they were imported",
    )
    p.add_argument(
        "--reread",
        action="store_true",
        help="read every file again, even one unchanged since a clean run imported all of it "
        "(by default such a file is counted from the checkpoint, not read)",
    )
    p.add_argument("--dry-run", action="store_true", help="everything but the network")
    p.add_argument("--report", type=Path, metavar="PATH", help="write the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--status-every",
        type=float,
        default=5.0,
        metavar="MINUTES",
        help="when stderr is not a terminal (cron, systemd): a line of where the run stands "
        "this often (default 5; 0: never)",
    )


def _cmd_run(ns: argparse.Namespace) -> int:
    from importer import rerun
    from importer.runner import run_import

    config = dataclasses.replace(_run_config(ns), last_run=rerun.of_run(ns))
    report = asyncio.run(run_import(config))
    if ns.report:  # first: a closed stderr must not keep the report from the disk
        report.write(ns.report)
    _say(report)
    return exit_status(report)


def exit_status(report: Report) -> int:
    """As interface.md says: 130 only if something was left undone, 2 only if nothing was
    sent, 1 if the run ended short of importing everything."""
    if report.interrupted and report.left_undone:
        return EXIT_INTERRUPTED
    if report.key_refused and not report.changed_close:
        return EXIT_USAGE
    halted = report.stopped_because is not None and not report.interrupted
    if report.failed or report.rejected or report.not_attempted or halted:
        return EXIT_FAILED
    return EXIT_OK


def _cmd_rehearse(ns: argparse.Namespace) -> int:
    import tempfile

    from importer.rehearsal import rehearse

    with tempfile.TemporaryDirectory(prefix="wa-close-rehearsal-") as work:
        ns.api_key, ns.base_url = "rehearsal", "http://127.0.0.1"  # the emulator's, once started
        ns.checkpoint = Path(work) / "rehearsal.ckpt"
        ns.create_missing = ns.create_missing or ns.data is None
        report = asyncio.run(rehearse(_run_config(ns), ns.data, ns.port, serve=not ns.no_serve))
    if ns.report:
        report.write(ns.report)
    return exit_status(report)


def _cmd_inspect(ns: argparse.Namespace) -> int:
    from importer.inspection import inspect_sources

    if ns.mapping_template is not None:
        _check_writable("--mapping-template", ns.mapping_template)
    mapping = _mapping(ns)
    options = _read_options(ns, mapping)
    lookup = None
    if ns.mapping_template and ns.api_key:
        check_base_url(ns.base_url)
        lookup = (ns.base_url, ns.api_key)
    return inspect_sources(
        options,
        ns.sources,
        _window(ns),
        as_json=ns.json,
        template=ns.mapping_template,
        mapping=mapping.contacts,
        lookup=lookup,
    )


def _cmd_status(ns: argparse.Namespace) -> int:
    from importer.inspection import show_status

    return show_status(ns.checkpoint, as_json=ns.json, failed=ns.failed)


def _run_config(ns: argparse.Namespace) -> RunConfig:
    if not ns.dry_run and not ns.api_key:
        raise UsageError("an API key is needed: pass --api-key or set CLOSE_API_KEY")
    if ns.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if not ns.status_every >= 0:
        raise UsageError("--status-every must be 0 (never) or more minutes")
    if (ns.lead_id is None) != (ns.contact_id is None):
        raise UsageError("--lead-id and --contact-id go together")
    check_base_url(ns.base_url)
    if ns.report is not None:
        _check_writable("--report", ns.report)
    mapping = _mapping(ns)
    read = _read_options(ns, mapping)
    if read.local_phone is None:
        _text_exports_need_local_phone(ns.sources)
    return RunConfig(
        sources=tuple(ns.sources),
        read=read,
        base_url=ns.base_url,
        api_key=ns.api_key,
        checkpoint=ns.checkpoint,
        window=_window(ns),
        mapping=mapping.contacts,
        defaults=Defaults(ns.lead_id, ns.contact_id),
        send=SendOptions(
            concurrency=ns.concurrency,
            send_to_inbox=ns.send_to_inbox,
            user_id=ns.user_id,
            reconcile=ns.reconcile,
            sync_edits=ns.sync_edits,
        ),
        lookup=LookupOptions(pick_first=ns.pick == "first", create_missing=ns.create_missing),
        dry_run=ns.dry_run,
        reread=ns.reread,
        show_progress=not ns.no_progress,
        status_every_s=ns.status_every * 60 or math.inf,
    )


def _check_writable(flag: str, path: Path) -> None:
    """A file to write at the end, checked at the start: a run must not end without it."""
    if path.is_dir():
        raise UsageError(f"{flag} {path}: a folder, not a file")
    if not path.parent.is_dir():
        raise UsageError(f"{flag} {path}: no folder {path.parent} to write it in")


def _region(ns: argparse.Namespace) -> str | None:
    return ns.default_region.upper() if ns.default_region else None


def _mapping(ns: argparse.Namespace) -> Mapping:
    return load_mapping(ns.mapping, _region(ns)) if ns.mapping else Mapping()


def _read_options(ns: argparse.Namespace, mapping: Mapping) -> ReadOptions:
    region = _region(ns)
    phones = {}
    for flag in ("local_phone", "remote_phone"):
        raw = getattr(ns, flag)
        if raw is not None:
            phone = to_e164(raw, region)
            if phone is None:
                raise UsageError(f"--{flag.replace('_', '-')}: not a phone number: {raw!r}")
            phones[flag] = phone
    return ReadOptions(
        me=tuple(ns.me),
        local_phone=phones.get("local_phone"),
        remote_phone=phones.get("remote_phone"),
        timezone=clock.zone(ns.timezone),
        date_order=ns.date_order,
        default_region=region,
        sender_phones=mapping.phones,
        mapping_problems=tuple(mapping.problems),
    )


def _text_exports_need_local_phone(sources: list[Path]) -> None:
    """Said once, before anything is read: no message of a text export could be imported."""
    from importer.sources.container import check_source, first_text_export

    for path in sources:
        check_source(path)
    export = first_text_export(sources)
    if export is not None:
        raise UsageError(
            f"{printable(export)}: a text export does not show the account's own number: "
            "pass --local-phone"
        )


def _window(ns: argparse.Namespace) -> Window:
    return clock.window(ns.since, ns.until, clock.zone(ns.timezone))
