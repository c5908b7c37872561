"""SSE delivery latency with many open streams (issue 13: p99 <= 100 ms with 1,000 streams).

One `drivershub web` process on PostgreSQL + Redis; this process seeds one user (with a
session) per stream, opens every stream, then creates notifications for random connected
users through the domain (`center.notify` in a transaction), as another process of the
deployment would: the wake-up reaches the server through Redis pub/sub. The figure is the
time from the commit returning here to the event's `id:` line arriving at the client.

    python tests/benchmarks/notifications_sse.py \\
        --postgres postgres://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from tests.benchmarks.run import (  # noqa: E402 - after the path above
    HOST,
    app_env,
    drivershub_exe,
    free_port,
    postgres_database,
    redis_namespace,
    spawned,
    wait_ready,
)

TARGET_P99_MS = 100.0
KIND = "account.password_changed"  # no hub needed, shown in-app


def run(
    postgres: str,
    redis: str,
    *,
    streams: int = 1000,
    notifications: int = 500,
    rate: float = 50.0,
) -> dict[str, Any]:
    """Open `streams` streams (one user each), send `notifications` at `rate` per second;
    the latency figures in milliseconds, and whether p99 meets the target."""
    _raise_fd_limit(streams)
    with (
        tempfile.TemporaryDirectory(prefix="dh-sse-") as tmp_dir,
        postgres_database(postgres) as db_url,
        redis_namespace(redis) as cache_env,
    ):
        tmp = Path(tmp_dir)
        port = free_port()
        env = app_env(tmp, tmp / "unused.sqlite3", port, cache_env)
        env["DRIVERSHUB_DATABASE__URL"] = db_url
        tokens = asyncio.run(_seed(db_url, tmp / "data", streams))
        log_file = tmp / "web.log"
        with spawned([drivershub_exe(), "web"], log_file, env) as proc:
            wait_ready(proc, port, "/api/v1/ready", log_file)
            result = asyncio.run(
                _measure(port, tokens, cache_env, db_url, tmp / "data", notifications, rate)
            )
    result.update(streams=streams, users=streams, target_p99_ms=TARGET_P99_MS)
    result["ok"] = result["missing"] == 0 and result["p99_ms"] <= TARGET_P99_MS
    return result


def _raise_fd_limit(streams: int) -> None:
    """Each stream is a socket here (and one in the server): lift the soft limit if needed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = streams + 512
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            raise RuntimeError(f"ulimit -n is {hard}: {wanted} file descriptors are needed")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def _open_db(db_url: str, data_dir: Path) -> None:
    from bot.runtime import setup_tokens
    from core.config import Settings
    from core.db import open_database

    await open_database(db_url, apply_migrations=True)
    # The server loads the same signing keys from the same data directory.
    setup_tokens(Settings(data_dir=data_dir))


async def _seed(db_url: str, data_dir: Path, count: int) -> dict[int, str]:
    """`count` users, each with a session: user id -> access token."""
    from core.db import close_database
    from models.auth import start_session
    from models.users import User

    await _open_db(db_url, data_dir)
    try:
        await User.bulk_create([User(username=f"sse{i}") for i in range(count)], batch_size=500)
        users = await User.filter(username__startswith="sse").order_by("id")
        return {user.id: (await start_session(user, "discord")).access_token for user in users}
    finally:
        await close_database()


async def _measure(
    port: int,
    tokens: dict[int, str],
    cache_env: dict[str, str],
    db_url: str,
    data_dir: Path,
    count: int,
    rate: float,
) -> dict[str, Any]:
    from core.db import close_database
    from models.notifications import live

    await _open_db(db_url, data_dir)
    # This process publishes its wake-ups as another process of the deployment would.
    cache = (cache_env["DRIVERSHUB_CACHE__URL"], cache_env["DRIVERSHUB_CACHE__NAMESPACE"])
    bus = await live.start(*cache)
    assert bus is not None
    arrived: dict[int, float] = {}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        opened = time.perf_counter()
        readers = await _open_streams(http, port, tokens, arrived)
        open_seconds = time.perf_counter() - opened
        try:
            await asyncio.wait_for(bus.connected.wait(), 10)
            committed = await _notify(list(tokens), count, rate)
            await _settle(committed, arrived, within=5.0)
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    await live.stop()
    await close_database()
    return _figures(committed, arrived) | {"open_seconds": round(open_seconds, 2)}


async def _open_streams(
    http: aiohttp.ClientSession, port: int, tokens: dict[int, str], arrived: dict[int, float]
) -> list[asyncio.Task[None]]:
    """Every stream open and listening (its first line read), 100 connecting at a time."""
    gate = asyncio.Semaphore(100)
    ready: list[asyncio.Future[None]] = []
    tasks = []
    for token in tokens.values():
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ready.append(future)
        tasks.append(asyncio.create_task(_read_stream(http, port, token, arrived, gate, future)))
    await asyncio.wait_for(asyncio.gather(*ready), 120)
    return tasks


async def _read_stream(
    http: aiohttp.ClientSession,
    port: int,
    token: str,
    arrived: dict[int, float],
    gate: asyncio.Semaphore,
    ready: asyncio.Future[None],
) -> None:
    url = f"http://{HOST}:{port}/api/v1/notifications/stream"
    async with gate:
        response = await http.get(url, headers={"Authorization": f"Bearer {token}"})
        if response.status != 200:
            ready.set_exception(RuntimeError(f"stream refused: {response.status}"))
            return
        await response.content.readline()  # ": connected": the server listens now
    ready.set_result(None)
    async for line in response.content:
        if line.startswith(b"id: "):
            arrived[int(line[4:])] = time.perf_counter()


async def _notify(users: list[int], count: int, rate: float) -> dict[int, float]:
    """`count` notifications for random users, paced; notification id -> commit time."""
    from tortoise.transactions import in_transaction

    from models.notifications import center

    committed: dict[int, float] = {}
    interval = 1.0 / rate
    start = time.perf_counter()
    for index in range(count):
        async with in_transaction():
            [note] = await center.notify([random.choice(users)], KIND)
        committed[note.id] = time.perf_counter()
        await asyncio.sleep(max(0.0, start + (index + 1) * interval - time.perf_counter()))
    return committed


async def _settle(committed: dict[int, float], arrived: dict[int, float], within: float) -> None:
    """Until every notification arrived, or `within` seconds passed (the rest are missing)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            # Polled: a thousand readers share no event, and this runs once.
            while any(note not in arrived for note in committed):  # noqa: ASYNC110
                await asyncio.sleep(0.05)


def _figures(committed: dict[int, float], arrived: dict[int, float]) -> dict[str, Any]:
    latencies = sorted(
        (arrived[note] - at) * 1000 for note, at in committed.items() if note in arrived
    )
    if not latencies:
        return {"notifications": len(committed), "delivered": 0, "missing": len(committed)}
    p99_index = max(0, min(len(latencies) - 1, round(0.99 * len(latencies)) - 1))
    return {
        "notifications": len(committed),
        "delivered": len(latencies),
        "missing": len(committed) - len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[p99_index], 1),
        "max_ms": round(latencies[-1], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", required=True, metavar="ADMIN_URL")
    parser.add_argument("--redis", required=True, metavar="URL")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--notifications", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0, help="notifications per second")
    args = parser.parse_args()
    result = run(
        args.postgres,
        args.redis,
        streams=args.streams,
        notifications=args.notifications,
        rate=args.rate,
    )
    print(
        f"SSE: {result['streams']} streams ({result['users']} users, one each), "
        f"{result['delivered']}/{result['notifications']} notifications delivered; "
        f"commit to event p50 {result.get('p50_ms')} ms, p99 {result.get('p99_ms')} ms, "
        f"max {result.get('max_ms')} ms (target p99 <= {TARGET_P99_MS:.0f} ms): "
        f"{'ok' if result['ok'] else 'FAILED'}"
    )
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
