"""Typed keys for what the application shares with its handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from core.config import Settings

SETTINGS = web.AppKey("settings", Settings)
# Reports the Discord gateway's state for /ready; the bot process plugs it in.
GATEWAY_STATE = web.AppKey("gateway_state", Callable[[], dict[str, Any]])
