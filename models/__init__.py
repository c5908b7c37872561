"""The domain: Tortoise models and the operations that change them.

Every business rule lives here once; `cogs/` and `web/` only adapt input and output.
Nothing in this package imports discord, aiohttp or the adapters (checked by import-linter).
"""

from __future__ import annotations

from typing import Any

APP_LABEL = "drivershub"
# The platform's own model modules; packages declare theirs in the registry (models.plugins).
PLATFORM_MODEL_MODULES = (
    "models.hubs",
    "models.users",
    "models.audit",
    "models.kv",
    "models.auth.sessions",
    "models.auth.app_tokens",
    "models.auth.tickets",
    "models.mfa",
    "models.outbox",
    "models.discord_actions",
)


def tortoise_config(db_url: str) -> dict[str, Any]:
    """The Tortoise configuration for one database URL (sqlite:// or postgres://)."""
    from models.plugins import model_apps

    apps = {label: {**app, "default_connection": "default"} for label, app in model_apps().items()}
    return {
        "connections": {"default": _normalize_url(db_url)},
        "apps": apps,
        "use_tz": True,
        "timezone": "UTC",
    }


# Connections per process to PostgreSQL unless the URL says otherwise (`?maxsize=`): asyncpg's
# pool default through Tortoise is 5, which makes concurrent requests queue for a connection.
POOL_SIZE = 20


def _normalize_url(url: str) -> str:
    # Tortoise names the asyncpg backend "postgres"; accept the common spelling too.
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    if url.startswith(("postgres://", "asyncpg://")) and "maxsize=" not in url:
        url += ("&" if "?" in url else "?") + f"maxsize={POOL_SIZE}"
    if url.startswith("sqlite://") and "synchronous=" not in url:
        # In WAL mode (Tortoise's default) NORMAL syncs at checkpoints instead of at every
        # commit: a process crash loses nothing, a power cut at most the last commits, and
        # a burst of writes is not one fsync each. Query parameters become SQLite pragmas.
        url += ("&" if "?" in url else "?") + "synchronous=NORMAL"
    return url
