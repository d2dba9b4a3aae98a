"""The emulator as an aiohttp application, and `Emulator` to run it inside a test or a CLI."""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from importer.emulator import api, storage, view
from importer.emulator.appkeys import LIMITER, STATE
from importer.emulator.config import EmulatorConfig
from importer.emulator.faults import FixedWindowLimiter
from importer.emulator.gate import api_gate
from importer.emulator.replies import json_response
from importer.emulator.state import EmulatorState

# Clients with hundreds of requests in flight must not find the listen queue full.
_BACKLOG = 1024


async def _admin_state(request: web.Request) -> web.Response:
    """Not part of Close: the counters and activities, for tests in another process and demos."""
    return json_response(request.app[STATE].snapshot())


async def _admin_counters(request: web.Request) -> web.Response:
    """Not part of Close: the counters alone, cheap enough to poll while an import runs."""
    return json_response(dict(request.app[STATE].counters))


async def _admin_reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    request.app[LIMITER].reset()
    return json_response({})


def build_app(state: EmulatorState) -> web.Application:
    """The whole emulator: the Close API under /api/v1/, storage, the view and the admin routes."""
    # Bodies are read by the handlers themselves; the storage route streams multipart.
    app = web.Application(middlewares=[api_gate], client_max_size=state.config.max_file_bytes)
    app[STATE] = state
    app[LIMITER] = FixedWindowLimiter()
    api.add_routes(app)
    storage.add_routes(app)
    view.add_routes(app)
    app.router.add_get("/_emulator/state", _admin_state, name="admin_state")
    app.router.add_get("/_emulator/counters", _admin_counters, name="admin_counters")
    app.router.add_post("/_emulator/reset", _admin_reset, name="admin_reset")
    return app


class Emulator:
    """A running emulator on a local port; use `async with Emulator(config) as emu:`."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.state = EmulatorState(self.config)
        self.app = build_app(self.state)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def root_url(self) -> str:
        """`http://HOST:PORT`: the view, the storage endpoint and the admin routes live here."""
        if self.port is None:
            raise RuntimeError("the emulator is not running")
        host = self.config.host
        host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API root as the importer's `--base-url` takes it (no trailing slash)."""
        return self.root_url + "/api/v1"

    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, backlog=_BACKLOG)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
