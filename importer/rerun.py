"""The command that runs a checkpoint's last run again: which of `run`'s options it keeps, and why.

`status` prints it to retry the failed messages: the same sources, read the same way, sent the
same way, into the same Close. Never the API key: whoever reruns it gives the key again.
"""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from importer.checkpoint.store import LastRun
from importer.clock import machine_zone
from importer.pipeline import SendOptions

# Each changes which messages a run reads, the ids they get, or what is sent for them:
_VALUES = {
    # Which Close the ids are in: a retry into another would import them twice.
    "base_url": "--base-url",
    # How the sources are read: whose each message is and which way it went.
    "local_phone": "--local-phone",
    "remote_phone": "--remote-phone",
    "default_region": "--default-region",
    "date_order": "--date-order",
    # The window: a retry covers the messages the run covered, no more.
    "since": "--since",
    "until": "--until",
    # Whose lead and user each message is sent with.
    "lead_id": "--lead-id",
    "contact_id": "--contact-id",
    "user_id": "--user-id",
    "pick": "--pick",
}
_SWITCHES = {
    # What is sent, and for which phones a lead is created.
    "send_to_inbox": "--send-to-inbox",
    "create_missing": "--create-missing",
    "sync_edits": "--sync-edits",
}
# Left out: --api-key (the secret), --config (its values are kept one by one here, and the file
# may hold the key), --report (this run's summary: a retry names its own), --dry-run (a dry run
# writes no checkpoint), --no-progress, --status-every, --verbose (how a run is watched).


def of_run(ns: argparse.Namespace) -> LastRun:
    """What the checkpoint keeps of the `run` command line parsed into `ns`."""
    options: list[str] = []

    def add(flag: str, value: object) -> None:
        options.extend(_pair(flag, value))

    for dest, flag in _VALUES.items():
        value = getattr(ns, dest)
        if value is not None:
            add(flag, _without_query(value) if dest == "base_url" else value)
    # Text-export times, and so their ids, are read in this zone: the machine's zone, named, so
    # a rerun on a machine elsewhere reads the same ids instead of importing them again.
    add("--timezone", ns.timezone or machine_zone().key)
    for name in ns.me:
        add("--me", name)
    if ns.mapping is not None:  # whose lead a phone is; often what a fix edits
        add("--mapping", Path(ns.mapping).absolute())
    for dest, flag in _SWITCHES.items():
        if getattr(ns, dest):
            options.append(flag)
    if ns.reconcile is not None:  # left out, the rerun decides as any run does
        options.append("--reconcile" if ns.reconcile else "--no-reconcile")
    if ns.concurrency != SendOptions().concurrency:  # what this Close account was given
        add("--concurrency", ns.concurrency)
    sources = tuple(str(source.absolute()) for source in ns.sources)
    return LastRun(time.time(), sources, tuple(options))


def _without_query(url: str) -> str:
    """The API root without query or fragment: Close takes none, and a token could hide there
    (credentials in the URL itself are refused before a run starts)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def command(run: LastRun, checkpoint: Path) -> str:
    """The shell command that runs `run` again with `checkpoint`, quoted for a POSIX shell."""
    args = [
        "wa-close-import",
        "run",
        *run.sources,
        *run.options,
        *_pair("--checkpoint", checkpoint),
    ]
    return shlex.join(args)


def _pair(flag: str, value: object) -> list[str]:
    text = str(value)
    # `--me=-x-`: a value that starts with a dash would otherwise be read as a flag.
    return [f"{flag}={text}"] if text.startswith("-") else [flag, text]
