"""Typed keys under which the aiohttp application holds the emulator's shared objects."""

from __future__ import annotations

from aiohttp import web

from importer.emulator.faults import FixedWindowLimiter
from importer.emulator.state import EmulatorState

STATE = web.AppKey("state", EmulatorState)
LIMITER = web.AppKey("limiter", FixedWindowLimiter)
