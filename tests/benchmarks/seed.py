"""Fill a fresh SQLite database through the domain (a helper of run.py).

Usage: python tests/benchmarks/seed.py sqlite:///tmp/x/db.sqlite3 1000 [--user EMAIL PASSWORD]

Creates the hubs (as if that many guilds joined) and, with --user, a verified user with that
password (hashed by `models.passwords`) and one session. Prints JSON: {"slugs": [...]} and,
with --user, "user_id" and "access_token".

The access token is signed with the key in <data_dir>/keys, loaded (or created) by
`bot.runtime.setup_tokens` from the same settings (environment and DRIVERSHUB_CONFIG) the
server gets, so the server accepts it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bot.runtime import setup_tokens
from core.config import load_settings
from core.db import close_database, open_database
from models.auth import start_session
from models.hubs import ensure_hub_for_guild
from models.passwords import hash_password
from models.users import User

FIRST_GUILD_ID = 900_000_000_000_000_000


async def seed_user(email: str, password: str) -> dict[str, Any]:
    """A verified user who can log in with `password`, and an access token of a session."""
    setup_tokens(load_settings())  # the signing key in <data_dir>/keys, as the server loads it
    user = await User.create(
        username="Bench Driver",
        email=email.strip().lower(),
        password_hash=await hash_password(password),
        is_verified=True,
    )
    pair = await start_session(user, "password")
    return {"user_id": user.id, "access_token": pair.access_token, "expires_in": pair.expires_in}


async def seed(url: str, count: int, user: tuple[str, str] | None = None) -> dict[str, Any]:
    """Migrate the database at `url`, create `count` hubs and optionally a user."""
    await open_database(url, apply_migrations=True)
    try:
        slugs = []
        for i in range(count):
            name = f"Bench Hub {i:04d}"
            hub = await ensure_hub_for_guild(FIRST_GUILD_ID + i, name, 100 + i, "en-US")
            slugs.append(hub.slug)
        result: dict[str, Any] = {"slugs": slugs}
        if user is not None:
            result |= await seed_user(*user)
        return result
    finally:
        await close_database()


def main() -> int:
    parser = argparse.ArgumentParser(description="seed a benchmark database")
    parser.add_argument("url")
    parser.add_argument("hubs", type=int)
    parser.add_argument("--user", nargs=2, metavar=("EMAIL", "PASSWORD"))
    args = parser.parse_args()
    user = tuple(args.user) if args.user else None
    result = asyncio.run(seed(args.url, args.hubs, user))  # type: ignore[arg-type]
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
