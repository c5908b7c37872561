"""Fill a fresh SQLite database with hubs through the domain (a helper of run.py).

Usage: python tests/benchmarks/seed.py sqlite:///tmp/x/db.sqlite3 1000
Prints the slugs it created, one a line.
"""

from __future__ import annotations

import asyncio
import sys

from bot.db import close_database, open_database
from models.hubs import ensure_hub_for_guild

FIRST_GUILD_ID = 900_000_000_000_000_000


async def seed(url: str, count: int) -> list[str]:
    """Migrate the database at `url` and create `count` hubs as if `count` guilds joined."""
    await open_database(url, apply_migrations=True)
    try:
        slugs = []
        for i in range(count):
            name = f"Bench Hub {i:04d}"
            hub = await ensure_hub_for_guild(FIRST_GUILD_ID + i, name, 100 + i, "en-US")
            slugs.append(hub.slug)
        return slugs
    finally:
        await close_database()


def main() -> int:
    url, count = sys.argv[1], int(sys.argv[2])
    slugs = asyncio.run(seed(url, count))
    sys.stdout.write("\n".join(slugs) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
