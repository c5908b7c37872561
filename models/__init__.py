"""The domain: Tortoise models and the operations that change them.

Every business rule lives here once; `cogs/` and `web/` only adapt input and output.
Nothing in this package imports discord, aiohttp or the adapters (checked by import-linter).
"""

from __future__ import annotations

from typing import Any

APP_LABEL = "drivershub"
# Every module holding Tortoise models; plugins add theirs here.
MODEL_MODULES = [
    "models.hubs",
    "models.users",
    "models.members",
    "models.audit",
    "models.kv",
    "models.auth.sessions",
    "models.auth.app_tokens",
    "models.auth.tickets",
    "models.mfa",
    "models.outbox",
]


def tortoise_config(db_url: str) -> dict[str, Any]:
    """The Tortoise configuration for one database URL (sqlite:// or postgres://)."""
    return {
        "connections": {"default": _normalize_url(db_url)},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _normalize_url(url: str) -> str:
    # Tortoise names the asyncpg backend "postgres"; accept the common spelling too.
    if url.startswith("postgresql://"):
        return "postgres://" + url.removeprefix("postgresql://")
    return url
