"""`make demo`: start the emulator, import samples/ into it, show what Close now holds, stop.

Everything a first-time user needs to see the importer work, with no Close account: the
emulator stands in for Close on a free loopback port and is stopped on the way out. With
`--keep` (`make demo-serve`) it stays up, its conversation view open, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import json
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from importer.emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
API_KEY = "demo-key"  # the emulator accepts any key; this one never leaves the machine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--keep", action="store_true", help="serve the conversation view until Ctrl-C"
    )
    parser.add_argument("--port", type=int, default=0, help="emulator port (default: a free one)")
    args = parser.parse_args(argv)
    with EmulatorProcess(
        "--data", str(SAMPLES / "seed.json"), "--port", str(args.port)
    ) as emulator:
        print(f"emulator: {emulator.base_url}")
        with tempfile.TemporaryDirectory() as work:
            command = [
                sys.executable,
                "-m",
                "importer",
                "run",
                str(SAMPLES),
                "--base-url",
                emulator.base_url,
                "--api-key",
                API_KEY,
                "--mapping",
                str(SAMPLES / "mapping.csv"),
                "--local-phone",
                "+1 415 555 0100",
                "--checkpoint",
                str(Path(work) / "demo.ckpt"),
                "--no-progress",
            ]
            print("$ wa-close-import run samples/ --mapping samples/mapping.csv ...")
            status = subprocess.run(command, check=False).returncode
            print("\nthe same again (the checkpoint makes it a no-op):")
            again = subprocess.run(command, check=False).returncode
        _show(emulator.base_url)
        view = emulator.root_url + "/"
        if args.keep:
            print(f"\nConversation view at {view} (Ctrl-C to stop)", flush=True)
            _until_interrupted()
        else:
            print(
                f"\nThe conversation view was at {view} and stops with the demo; to keep it "
                "open, run `make demo-serve` (or `python scripts/demo.py --keep`), then Ctrl-C."
            )
    return status or again


def _until_interrupted() -> None:
    # SIGTERM too, so that a supervisor (or a test) stops it as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        signal.pause()
    except KeyboardInterrupt:
        print("stopped")


def _show(base_url: str) -> None:
    token = base64.b64encode(f"{API_KEY}:".encode()).decode()
    request = urllib.request.Request(
        f"{base_url}/activity/whatsapp_message/?_limit=100",
        headers={"Authorization": f"Basic {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        activities: list[dict[str, Any]] = json.load(response)["data"]
    by_id = {a["id"]: a for a in activities}
    print(f"\nClose now holds {len(activities)} WhatsApp activities; the first few, oldest first:")
    for activity in sorted(activities, key=lambda a: a["activity_at"])[:6]:
        arrow = "<-" if activity["direction"] == "incoming" else "->"
        text = activity["message_markdown"].replace("\n", " / ")
        print(f"\n{activity['activity_at']} {arrow} {activity['remote_phone']}  [{activity['id']}]")
        print(f"   {text[:100]}")
        parent = by_id.get(activity.get("response_to_id") or "")
        if parent:
            print(f"   reply to {parent['id']}: {parent['message_markdown'][:60]!r}")
        for attachment in activity.get("attachments", []):
            print(
                f"   attachment {attachment['filename']} ({attachment['content_type']}, "
                f"{attachment['size']} bytes) {attachment['url']}"
            )


if __name__ == "__main__":
    raise SystemExit(main())
