"""A local Close-compatible API for tests, demos, benchmarks and rehearsing a migration.

It is as strict as Close may be, so that an importer passing against it will pass against Close
(`docs/close-api.md` holds the facts it follows). In a test::

    async with Emulator(EmulatorConfig(data=seed, seed=0)) as emu:
        emu.base_url             # http://127.0.0.1:PORT/api/v1 (no trailing slash)
        emu.state.activities     # id -> the activity object, as Close answers it
        emu.state.counters       # Counter: see below
        emu.state.file_bytes(download_url)

Counters: "creates", "updates", "deletes", "leads_created", "upload_slots" (`/files/upload/`),
"uploads" (completed storage POSTs), "rate_limited" (429s), "faults" (injected 5xx), "drops",
"storage_authorization_headers", "inbox_notifications", and one "METHOD route" per request, read
with `state.requests(method, route)`. Routes: whatsapp_messages (list, create), whatsapp_message
(get, put, delete), files_upload, data_search, leads, lead, contact, storage, file_download, view
(every page of the conversation view: `/`, `/leads/ID`, `/messages/ID`).

From a shell, `python -m importer emulator` (see `cli.py`); `GET /_emulator/state` shows the state.
"""

from importer.emulator.config import EmulatorConfig
from importer.emulator.server import Emulator, build_app
from importer.emulator.state import EmulatorState, SeedError

__all__ = ["Emulator", "EmulatorConfig", "EmulatorState", "SeedError", "build_app"]
