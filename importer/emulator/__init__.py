"""A local Close-compatible API for tests, demos, benchmarks and rehearsing a migration.

It is as strict as Close may be, so that an importer passing against it will pass against Close:
see `docs/close-api.md` for the facts it follows. `Emulator` runs it in-process; `cli.main` runs
it as `python -m importer emulator`.
"""

from importer.emulator.config import EmulatorConfig
from importer.emulator.server import Emulator, build_app
from importer.emulator.state import EmulatorState, SeedError

__all__ = ["Emulator", "EmulatorConfig", "EmulatorState", "SeedError", "build_app"]
