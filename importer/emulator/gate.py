"""The checks every `/api/v1/` request passes before its handler, in the order Close applies them.

Auth (401), then routing (404/405), then the rate limit (429), then injected 5xx; after the
handler, a state-changing request may be cut off without an answer, and any 2xx answer may
lose its documented shape. Every answer of the API and of storage is held back until
`latency_ms` after the request arrived.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from importer.emulator import faults
from importer.emulator.appkeys import LIMITER, STATE
from importer.emulator.config import EmulatorConfig
from importer.emulator.replies import Refusal, error
from importer.emulator.storage import STORAGE_PATH

API_PREFIX = "/api/v1/"
# Endpoint groups share a rate limit, as Close's limits apply per group of paths.
GROUPS = {
    "whatsapp_messages": "activity",
    "whatsapp_message": "activity",
    "files_upload": "files",
    "data_search": "search",
    "leads": "lead",
    "lead": "lead",
    "contact": "lead",
}
_CHANGES = {"POST", "PUT", "PATCH", "DELETE"}
# POSTed for its body, not to change anything: dropping its answer would model no real loss.
_READS = {"data_search"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def api_key(request: web.Request, config: EmulatorConfig) -> str | None:
    """The key of `Basic base64(KEY:)` or `Bearer KEY`, if the emulator accepts it."""
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, credentials = header.partition(" ")
    key: str | None = None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, colon, password = decoded.partition(":")
        key = user if colon and not password else None
    elif scheme.lower() == "bearer":
        key = credentials.strip()
    if not key or (config.api_key is not None and key != config.api_key):
        return None
    return key


def current_user(request: web.Request) -> str:
    """The Close user of the request's key; the gate has already checked that key."""
    state = request.app[STATE]
    key = api_key(request, state.config)
    assert key is not None, "handlers run only behind the gate"
    return state.user_for_key(key)


def route_name(request: web.Request) -> str | None:
    resource = request.match_info.route.resource
    return resource.name if resource is not None else None


def is_read(request: web.Request) -> bool:
    """A request that changes nothing: a GET, a search, or a POST sent as a GET."""
    override = request.headers.get("x-http-method-override", "").upper()
    return request.method not in _CHANGES or override == "GET" or route_name(request) in _READS


@web.middleware
async def api_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.monotonic()
    try:
        response = await _gate(request, handler)
    except ConnectionResetError:
        # The client died mid-request (tests kill importers on purpose): nobody is left to
        # answer and nothing went wrong here, so neither an answer nor an error log.
        return web.Response(status=400)
    latency = request.app[STATE].config.latency_ms / 1000
    # Storage answers take as long: S3 is no nearer than Close.
    if latency and request.path.startswith((API_PREFIX, STORAGE_PATH)):
        # The latency is the whole time to an answer, as a client sees a server's: this
        # process's own work (one core for every request) is part of it, not added on top.
        await asyncio.sleep(max(0.0, started + latency - time.monotonic()))
    return response


async def _gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    state = request.app[STATE]
    config = state.config
    route = route_name(request)
    if route is not None:
        state.count_request(request.method, route)
    key = api_key(request, config)
    if key is None:
        return error(
            401, "Invalid or missing API key.", {"WWW-Authenticate": 'Basic realm="Close"'}
        )
    failure = request.match_info.http_exception
    if failure is not None or route is None:
        code = failure.status if failure is not None else 404
        allow = failure.headers.get("Allow") if failure is not None else None
        message = "Not found." if code == 404 else "Method not allowed."
        return error(code, message, {"Allow": allow} if allow else None)
    headers: dict[str, str] = {}
    limit = config.limit_for(GROUPS[route])
    if limit is not None:
        allowed, remaining, reset = request.app[LIMITER].take(key, GROUPS[route], limit)
        if not allowed:
            state.counters["rate_limited"] += 1
            return faults.too_many_requests(limit, reset)
        headers = faults.rate_limit_headers(limit, remaining, reset)
    fail = faults.should_fail(state)
    if fail is not None:
        state.counters["faults"] += 1
        return error(fail, "The server is temporarily unavailable.", headers)
    try:
        response = await handler(request)
    except Refusal as refusal:
        response = refusal.response
    response.headers.update(headers)
    if response.status < 300 and not is_read(request) and faults.should_drop(state):
        faults.cut(request, state)
    elif response.status < 300 and faults.should_malform(state):
        state.counters["malformed"] += 1
        return faults.malformed(response)
    return response
