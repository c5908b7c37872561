"""Fault script for the tracker intake (`make faults-tracker`): the database restarts while
trackers are sending, and no acknowledged job is lost or doubled.

    .venv/bin/python -m tests.faults.tracker

It needs PostgreSQL's server programs (initdb, pg_ctl) but not the shared server: it makes
its own cluster in a temporary folder (as the `postgres` user when run as root), on a free
port, and removes it at the end. Then:

1. `drivershub migrate`, a hub with a TrackSim connection (made here with the domain), and
   `drivershub run` (API and workers) on that database.
2. 16 senders post signed TrackSim job webhooks, one new job each time, for `--seconds`.
   A delivery answered 202 is acknowledged; any other answer (or a refused connection) is
   retried by its sender, as a tracker would, until it is acknowledged.
3. Meanwhile the database is restarted twice (`pg_ctl restart -m fast`: every connection
   dropped, a few seconds without a database).
4. After the senders stop and the worker drains: every acknowledged job is exactly one job
   row, and nothing is left pending or failed.

Prints PASS/FAIL lines with figures; exits 1 if any check failed.
"""

# Our own programs and PostgreSQL's, with fixed arguments; started from the async scenario
# on purpose (a start, not a wait).
# ruff: noqa: S603, ASYNC220

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests import tracker_payloads as payloads  # noqa: E402

PG_BIN = next(Path("/usr/lib/postgresql").glob("*/bin"), Path("/usr/bin"))
SECRET = "fault-tracksim-secret"
HUB = "Fault Freight"
SENDERS = 16
GIVE_UP_AFTER_S = 30.0  # a sender stops retrying this long after the sending time
RESULTS: list[tuple[bool, str]] = []


def result(ok: bool, name: str, figures: str) -> None:
    RESULTS.append((ok, name))
    print(f"  {'PASS' if ok else 'FAIL'}  {name}: {figures}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# The cluster


def _as_postgres() -> dict[str, Any]:
    """Run PostgreSQL's programs as `postgres` when this runs as root (initdb refuses root)."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam("postgres")
    return {"user": user.pw_uid, "group": user.pw_gid}


@contextlib.contextmanager
def cluster() -> Iterator[tuple[str, Path]]:
    """A PostgreSQL cluster of its own: (admin URL, data folder); stopped and removed after."""
    folder = Path(tempfile.mkdtemp(prefix="drivershub-fault-pg-"))
    data = folder / "data"
    port = free_port()
    who = _as_postgres()
    if who:
        shutil.chown(folder, user="postgres", group="postgres")
    run = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, **who}
    subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"], **run
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=on"
    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "pg.log"), "-o", options]
    subprocess.run([*pg_ctl, "-w", "start"], **run)
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres", data
    finally:
        subprocess.run(
            [*pg_ctl, "-m", "immediate", "-w", "stop"], check=False, capture_output=True, **who
        )
        shutil.rmtree(folder, ignore_errors=True)


def restart(data: Path) -> float:
    """Restart the cluster (every connection dropped); how many seconds it was away."""
    started = time.perf_counter()
    log = str(data.parent / "pg.log")
    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", log, "-m", "fast", "-w", "restart"]
    # Not captured: the restarted server would hold the pipe open, and the wait never end.
    subprocess.run(
        pg_ctl, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **_as_postgres()
    )
    return time.perf_counter() - started


# The hub


def hub_env(tmp: Path, url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIVERSHUB_")}
    config = tmp / "config.toml"
    config.write_text("# fault script: every setting comes from the environment\n")
    env.update(
        DRIVERSHUB_CONFIG=str(config),
        DRIVERSHUB_DATA_DIR=str(tmp / "data"),
        DRIVERSHUB_DATABASE__URL=url,
        DRIVERSHUB_WEB__PORT=str(port),
        DRIVERSHUB_WEB__PUBLIC_URL=f"http://127.0.0.1:{port}",
        DRIVERSHUB_METRICS__LISTEN="",
        DRIVERSHUB_RATE_LIMIT__TRACKER_LIMIT=str(10**9),
        DRIVERSHUB_LOGGING__LEVEL="WARNING",
    )
    return env


def drivershub(*args: str, env: dict[str, str]) -> None:
    exe = str(Path(sys.executable).with_name("drivershub"))
    subprocess.run([exe, *args], env=env, check=True, capture_output=True, cwd=ROOT)


async def prepare(env: dict[str, str]) -> str:
    """The hub and its TrackSim connection, made with the domain on the hub's database and
    data folder (its encryption key seals the secret); the hub's slug."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("DRIVERSHUB_")})
    from bot.runtime import setup_encryption
    from core.config import load_settings
    from core.db import close_database, open_database
    from models import encryption
    from models.hubs import ensure_hub_for_guild
    from models.tracker import TrackerConnection

    settings = load_settings()
    setup_encryption(settings)  # the keys the hub will load from the same data folder
    await open_database(settings.database.url, apply_migrations=False)
    try:
        hub = await ensure_hub_for_guild(770_000_000_000_000_001, HUB, 1)
        await TrackerConnection.create(
            hub_id=hub.id, kind="tracksim", secret=encryption.seal(SECRET)
        )
        return hub.slug
    finally:
        await close_database()


# The senders


async def send(url: str, seconds: float, state: dict[str, Any]) -> None:
    """One tracker: a new job each time, every delivery retried until acknowledged."""
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        while time.monotonic() < deadline:
            state["next"] += 1
            job_id = state["next"]
            raw = payloads.tracksim_bytes(payloads.tracksim_job(job_id=job_id))
            headers = {
                "Content-Type": "application/json",
                "tracksim-signature": payloads.sign(SECRET, raw),
            }
            while True:
                try:
                    async with session.post(url, data=raw, headers=headers) as response:
                        status = response.status
                        await response.read()
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                if status == 202:
                    state["acknowledged"].add(job_id)
                    break
                if time.monotonic() > deadline + GIVE_UP_AFTER_S:
                    state["unacknowledged"] += 1  # the hub never came back for it
                    break
                state["retries"] += 1
                state["answers"][status] = state["answers"].get(status, 0) + 1
                await asyncio.sleep(0.2)


async def drained(url: str, limit_s: float) -> bool:
    """Whether the database shows nothing pending within `limit_s` seconds."""
    import asyncpg

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        conn = await asyncpg.connect(url)
        try:
            pending = await conn.fetchval(
                "SELECT count(*) FROM tracker_intake WHERE state = 'pending'"
            )
        finally:
            await conn.close()
        if pending == 0:
            return True
        await asyncio.sleep(0.5)
    return False


async def jobs_of(url: str) -> tuple[list[str], int]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        ids = [r["tracker_job_id"] for r in await conn.fetch("SELECT tracker_job_id FROM jobs")]
        failed = await conn.fetchval("SELECT count(*) FROM tracker_intake WHERE state = 'failed'")
    finally:
        await conn.close()
    return ids, int(failed)


async def scenario(args: argparse.Namespace) -> None:
    with cluster() as (admin_url, data), tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        url = admin_url.rsplit("/", 1)[0] + "/fault_tracker"
        import asyncpg

        conn = await asyncpg.connect(admin_url.replace("postgres://", "postgresql://"))
        await conn.execute("CREATE DATABASE fault_tracker")
        await conn.close()
        port = free_port()
        env = hub_env(tmp, url, port)
        drivershub("migrate", env=env)
        slug = await prepare(env)
        log = (tmp / "hub.log").open("wb")
        exe = str(Path(sys.executable).with_name("drivershub"))
        hub = subprocess.Popen(
            [exe, "run"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            await _ready(port)
            print(f"  the hub answers on port {port}; sending", flush=True)
            state: dict[str, Any] = {
                "next": 0,
                "acknowledged": set(),
                "retries": 0,
                "answers": {},
                "unacknowledged": 0,
            }
            webhook = f"http://127.0.0.1:{port}/api/v1/hubs/{slug}/trackers/tracksim"
            senders = asyncio.gather(*(send(webhook, args.seconds, state) for _ in range(SENDERS)))
            away = []
            for _ in range(2):
                await asyncio.sleep(args.seconds / 3)
                away.append(await asyncio.to_thread(restart, data))
            await senders
            print(f"  senders done ({len(state['acknowledged']):,} acknowledged)", flush=True)
            settled = await drained(url.replace("postgres://", "postgresql://"), 120)
            ids, failed = await jobs_of(url.replace("postgres://", "postgresql://"))
        finally:
            hub.terminate()
            hub.wait(timeout=15)
            log.close()
        acknowledged = state["acknowledged"]
        stored = [int(i) for i in ids]
        doubled = len(stored) - len(set(stored))
        lost = len(acknowledged - set(stored))
        print(
            f"  {len(acknowledged):,} jobs acknowledged by {SENDERS} senders in {args.seconds:g} s;"
            f" the database restarted twice ({', '.join(f'{a:.1f} s' for a in away)});"
            f" {state['retries']:,} deliveries answered otherwise and resent"
            f" ({json.dumps(state['answers'])}); {len(stored):,} jobs stored"
        )
        result(
            state["unacknowledged"] == 0,
            "deliveries never acknowledged (the hub did not recover)",
            str(state["unacknowledged"]),
        )
        result(settled, "the worker drained after the restarts", f"pending left: {not settled}")
        result(lost == 0, "acknowledged jobs lost", str(lost))
        result(doubled == 0, "jobs stored twice", str(doubled))
        result(failed == 0, "deliveries failed", str(failed))
        errors = [
            line
            for line in (tmp / "hub.log").read_text(errors="replace").splitlines()
            if "Traceback" in line or " ERROR " in line
        ]
        print(f"  the hub logged {len(errors)} errors while the database was away")
        raised = Counter(
            line.split(":")[0]
            for line in (tmp / "hub.log").read_text(errors="replace").splitlines()
            if re.match(r"^[\w.]+(Error|Exception|Failure)\b", line)
        )
        for name, count in raised.most_common(5):
            print(f"    {count} x {name}")


async def _ready(port: int) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/api/v1/ready") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.3)
    raise RuntimeError("the hub did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the senders send")
    args = parser.parse_args()
    print("tracker intake: the database restarts while trackers send", flush=True)
    asyncio.run(scenario(args))
    return 0 if all(ok for ok, _ in RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
