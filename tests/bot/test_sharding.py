"""Two `drivershub run` processes, one shard each, on one database and one (emulated) Discord.

Sharding splits the guilds between processes: each process must only see, create, answer for
and reconcile the guilds of its own shard, while sharing the database with the other one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.bot.conftest import DRIVERSHUB, clean_env
from tests.fakediscord import FakeDiscord, Guild, Interaction, User
from tests.fakediscord.fixtures import fake_discord_session
from tests.fakediscord.gateway import Session
from tests.fakediscord.state import shard_of

# It runs its own processes on its own SQLite file: nothing here depends on the test database.
pytestmark = pytest.mark.backend_independent

SHARDS = 2
GUILDS_PER_SHARD = 3
START_TIMEOUT = 30.0  # deadlines, not sleeps: generous for a loaded CI machine
STOP_TIMEOUT = 10.0
# bot.bot.DriversHubBot.on_ready logs this after its reconcile, the last step of start-up.
READY_LINE = re.compile(r"ready in (\d+) guilds \((\d+) hubs deactivated\)")
CALLBACK = "POST /interactions/{interaction_id}/{interaction_token}/callback"


@dataclass
class ShardProcess:
    """One `drivershub run` serving one shard; its output goes to a log file."""

    shard: int
    proc: asyncio.subprocess.Process
    log: Path
    readies: list[tuple[int, int]] = field(default_factory=list)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def ready_reports(self) -> list[tuple[int, int]]:
        """(guilds, hubs deactivated) of every on_ready so far."""
        return [(int(g), int(d)) for g, d in READY_LINE.findall(self.output())]

    async def stop(self) -> None:
        """SIGTERM and reap; kill if it does not exit in time (never leave it running)."""
        if self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


def _env(fake: FakeDiscord, workdir: Path, shard: int) -> dict[str, str]:
    return clean_env(
        workdir,
        DRIVERSHUB_DISCORD__TOKEN=fake.token,
        DRIVERSHUB_DISCORD__API_BASE=fake.api_base,
        DRIVERSHUB_DISCORD__SHARD_COUNT=str(SHARDS),
        DRIVERSHUB_DISCORD__SHARD_IDS=json.dumps([shard]),  # lists are JSON in the environment
        # Both processes have the same configuration, as a deployment would: the second one
        # finds the commands' hash in the shared database and skips the sync.
        DRIVERSHUB_DISCORD__SYNC_COMMANDS="true",
        DRIVERSHUB_DATABASE__AUTO_MIGRATE="false",  # migrated once, by `drivershub migrate`
        DRIVERSHUB_WEB__PORT="0",
        DRIVERSHUB_METRICS__ENABLED="false",
        DRIVERSHUB_METRICS__LISTEN="",
    )


async def _migrate(workdir: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        DRIVERSHUB,
        "migrate",
        cwd=workdir,
        env=clean_env(workdir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), START_TIMEOUT)
    assert proc.returncode == 0, out.decode()


@contextlib.asynccontextmanager
async def shard_processes(fake: FakeDiscord, workdir: Path) -> AsyncIterator[list[ShardProcess]]:
    """A list to start processes into; every one of them is stopped and reaped afterwards."""
    started: list[ShardProcess] = []
    try:
        yield started
    finally:
        # The emulator keeps running meanwhile, so the bots can close their sockets cleanly.
        await asyncio.gather(*(process.stop() for process in started))


async def start_shard(
    fake: FakeDiscord, workdir: Path, started: list[ShardProcess], shard: int
) -> ShardProcess:
    """Start `drivershub run` for `shard` and wait until its on_ready reconcile has run."""
    log = workdir / f"shard-{shard}-{len(started)}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            DRIVERSHUB,
            "run",
            cwd=workdir,
            env=_env(fake, workdir, shard),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    process = ShardProcess(shard, proc, log)
    started.append(process)
    try:
        await fake.wait_for(
            lambda: process.ready_reports() or proc.returncode is not None,
            START_TIMEOUT,
            f"shard {shard}'s process to become ready",
        )
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{process.output()}") from None
    assert proc.returncode is None, f"shard {shard} exited early:\n{process.output()}"
    return process


def _hub_rows(database: Path) -> list[tuple[int, int]]:
    """(guild_id, active) of every hub, read straight from the shared SQLite file."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT guild_id, active FROM hubs ORDER BY guild_id").fetchall()


def _received(session: Session, interaction: Interaction) -> bool:
    return any(
        frame["t"] == "INTERACTION_CREATE" and frame["d"]["id"] == str(interaction.id)
        for frame in session.sent
    )


def _connected(session: Session) -> bool:
    return session.ws is not None and not session.ws.closed


def _guild_ids_sent(session: Session) -> set[int]:
    """The guilds of every dispatch a session got (READY lists them too)."""
    ids: set[int] = set()
    for frame in session.sent:
        data = frame["d"]
        if frame["t"] == "READY":
            ids |= {int(guild["id"]) for guild in data["guilds"]}
        elif frame["t"] == "GUILD_CREATE":
            ids.add(int(data["id"]))
        elif isinstance(data, dict) and data.get("guild_id"):
            ids.add(int(data["guild_id"]))
    return ids


def _world(fake: FakeDiscord) -> list[tuple[Guild, User]]:
    """GUILDS_PER_SHARD guilds on each shard, each with one member who will use /hub info."""
    world = []
    for shard in range(SHARDS):
        for number in range(GUILDS_PER_SHARD):
            guild = fake.guild(f"Shard {shard} Logistics {number}", shard=(shard, SHARDS))
            driver = fake.user(f"driver-{shard}-{number}")
            guild.add_member(driver)
            world.append((guild, driver))
    return world


async def test_two_processes_split_the_guilds_by_shard(tmp_path: Path) -> None:
    async with fake_discord_session() as fake:
        world = _world(fake)
        await _migrate(tmp_path)
        async with shard_processes(fake, tmp_path) as started:
            # One after the other, so each reconcile runs while the other shard's hubs exist:
            # shard 1 starts next to shard 0's hubs, then shard 0 restarts next to shard 1's.
            first = await start_shard(fake, tmp_path, started, 0)
            second = await start_shard(fake, tmp_path, started, 1)
            await first.stop()
            restarted = await start_shard(fake, tmp_path, started, 0)
            for process in (first, second, restarted):
                assert process.ready_reports() == [(GUILDS_PER_SHARD, 0)], process.output()

            assert sorted(fake.gateway.identifies) == [(0, SHARDS), (0, SHARDS), (1, SHARDS)]
            live = [s for s in fake.gateway.sessions.values() if _connected(s)]
            assert sorted(s.shard_id for s in live) == list(range(SHARDS))
            for session in fake.gateway.sessions.values():
                assert {shard_of(g, SHARDS) for g in _guild_ids_sent(session)} == {session.shard_id}

            database = tmp_path / "hub.sqlite3"
            every_guild = sorted(guild.id for guild, _ in world)
            assert _hub_rows(database) == [(guild_id, 1) for guild_id in every_guild]

            # One at a time: this is about routing. Two processes writing one SQLite file at
            # the same moment is another matter (a deferred read-then-write transaction fails
            # at once with "database is locked" when the other process committed in between).
            for guild, driver in world:
                reply = await driver.run("hub info", guild=guild)
                _assert_answered_once_by_owner(fake, guild, reply)
            assert _hub_rows(database) == [(guild_id, 1) for guild_id in every_guild]
        for process in started:
            assert process.proc.returncode == 0, process.output()
            assert "Traceback" not in process.output()


def _assert_answered_once_by_owner(fake: FakeDiscord, guild: Guild, reply: Interaction) -> None:
    # A message, sent once: directly, or after a deferral when a busy machine makes the
    # process slower than Discord's 2-second margin (the follow-up replaces "thinking…").
    assert reply.response_type in (4, 5)
    assert not reply.original.deleted
    assert guild.name in reply.text
    callbacks = [r for r in fake.requests_to(CALLBACK) if f"/{reply.id}/" in r.path]
    assert len(callbacks) == 1
    owner = shard_of(guild.id, SHARDS)
    receivers = [s for s in fake.gateway.sessions.values() if _received(s, reply)]
    # A stopped process's session stays resumable and keeps queueing, but only its own shard's.
    assert {s.shard_id for s in receivers} == {owner}
    assert len([s for s in receivers if _connected(s)]) == 1
