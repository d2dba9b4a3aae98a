"""`rehearse`: a whole import into a local emulator, to look at before touching Close.

The emulator holds only the leads the import needs: those of `--data`, those the mapping and
`--lead-id` name, and (with `--create-missing`) one per remote phone the import creates; never
the emulator's generated sample leads, which would look like the user's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import replace
from pathlib import Path

from importer.emulator import Emulator, EmulatorConfig, EmulatorState, SeedError
from importer.emulator.cli import load_seed
from importer.emulator.phones import formatted
from importer.emulator.state import Phone
from importer.errors import UsageError
from importer.report import Report
from importer.runner import RunConfig, run_import


async def rehearse(config: RunConfig, data_path: Path | None, port: int, *, serve: bool) -> Report:
    try:
        data = load_seed(data_path) if data_path is not None else {"leads": []}
        emulator = Emulator(
            EmulatorConfig(data=data, port=port, view_timezone=config.read.timezone.key)
        )
    except SeedError as exc:
        raise UsageError(f"--data: {exc}") from None
    _seed_named_leads(emulator.state, config)
    try:
        await emulator.start()
    except OSError as exc:
        # asyncio words its bind errors at length; the errno's own words say enough.
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise UsageError(
            f"--port {port}: cannot listen on 127.0.0.1:{port} ({reason}); "
            "pass another --port, or --port 0 for any free one"
        ) from None
    try:
        report = await run_import(replace(config, base_url=emulator.base_url))
        report.print()
        if serve:
            print(f"Conversation view at {emulator.root_url}/ (Ctrl-C to stop)", flush=True)
            await _until_stopped()
    finally:
        await emulator.stop()
    return report


def _seed_named_leads(state: EmulatorState, config: RunConfig) -> None:
    """Add the leads and contacts the mapping and `--lead-id/--contact-id` name, if not seeded."""
    names = {phone: name for name, phone in config.read.sender_phones.items()}
    wanted = [(phone, *ids) for phone, ids in config.mapping.items()]
    if config.defaults.lead_id and config.defaults.contact_id:
        wanted.append(("", config.defaults.lead_id, config.defaults.contact_id))
    for phone, lead_id, contact_id in wanted:
        name = names.get(phone) or (formatted(phone) if phone else contact_id)
        lead = state.leads.get(lead_id) or state.add_lead(name, [], lead_id)
        contact = state.contacts.get(contact_id)
        if contact is None:
            state.add_contact(lead, name, [Phone(phone)] if phone else [], contact_id)
        elif (
            contact.lead_id == lead.id and phone and phone not in [p.phone for p in contact.phones]
        ):
            contact.phones.append(Phone(phone))
        # A contact seeded on another lead is left so: the import reports that mapping error.


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await stop.wait()
