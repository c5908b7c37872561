"""Slash-command answer latency under concurrent users (a helper of run.py).

Usage, from the project root (run.py starts it with its own settings in the environment):

    python -m tests.benchmarks.interactions --members 50 --rounds 10 --warmup-rounds 2 \
        --bot-log /tmp/bot.log [--bot-profile /tmp/bot.prof]
    python -m tests.benchmarks.interactions --in-process ...

This process runs the Discord emulator (tests/fakediscord) with one guild of N members. The bot
runs as deployed: `drivershub run` in its own process, on the SQLite file of
DRIVERSHUB_DATABASE__URL (migrated first with `drivershub migrate`), pointed at the emulator
with DRIVERSHUB_DISCORD__TOKEN and DRIVERSHUB_DISCORD__API_BASE. With --in-process, the old
set-up: the whole application (`bot.runtime.running`) on this process's event loop, next to the
emulator, as tests/conftest.py's `start_app` does.

In every round all N members run /hub info at once. Prints one JSON line: the latency of every
measured interaction in ms, from the emulator creating the INTERACTION_CREATE to the bot's
callback arriving (`Interaction.created` to `Interaction.answered_at`, both monotonic clocks of
this process), and what the bot process used (CPU, memory).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.benchmarks.run import rss_mb
from tests.fakediscord import FakeDiscord, Guild, Interaction, User

GUILD_NAME = "Bench Logistics"
READY_TIMEOUT_S = 30.0  # a deadline, not a sleep (the bot waits ~2 s for its guilds)
STOP_TIMEOUT_S = 30.0  # generous: under cProfile the bot writes its profile on the way out
# Discord drops an interaction not answered within 3 s; past that it failed, whatever the time.
ANSWER_TIMEOUT_S = 10.0
# bot.bot.DriversHubBot.on_ready logs this after its reconcile, the last step of start-up.
READY_LINE = re.compile(r"ready in (\d+) guilds")
# Lines of the bot's log that mean something went wrong (plain format: "<time> LEVEL name ...").
PROBLEM_LINE = re.compile(r" (ERROR|CRITICAL) |Traceback")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def build_world(fake: FakeDiscord, members: int) -> tuple[Guild, list[User]]:
    guild = fake.guild(GUILD_NAME)
    drivers = [fake.user(f"driver-{number:03d}") for number in range(members)]
    for driver in drivers:
        guild.add_member(driver)
    return guild, drivers


def latency_ms(reply: Interaction) -> float | None:
    """The answer's latency, or None if the bot did not answer with the hub's card."""
    if reply.answered_at is None or reply.response_type != 4 or GUILD_NAME not in reply.text:
        return None
    return (reply.answered_at - reply.created) * 1000


async def one_round(guild: Guild, drivers: list[User]) -> tuple[list[float], list[str]]:
    """Every driver runs /hub info at the same moment; latencies and what went wrong."""
    results = await asyncio.gather(
        *(driver.run("hub info", guild=guild, timeout=ANSWER_TIMEOUT_S) for driver in drivers),
        return_exceptions=True,
    )
    latencies, failures = [], []
    for result in results:
        if isinstance(result, BaseException):
            failures.append(f"{type(result).__name__}: {result}")
        elif (latency := latency_ms(result)) is None:
            failures.append(f"unexpected answer (callback type {result.response_type})")
        else:
            latencies.append(latency)
    return latencies, failures


async def rounds_of(
    fake: FakeDiscord, guild: Guild, drivers: list[User], rounds: int, warmup: int
) -> dict[str, Any]:
    """Warm-up rounds, then the measured ones; the figures of the measured ones."""
    # The first rounds create the users and memberships; later ones only read.
    for _ in range(warmup):
        await one_round(guild, drivers)
    cpu_started = time.process_time()
    started = time.perf_counter()
    per_round = [await one_round(guild, drivers) for _ in range(rounds)]
    elapsed = time.perf_counter() - started
    return {
        "seconds": round(elapsed, 3),
        # CPU of this process (the emulator, and in-process also the bot) in the measured rounds.
        "this_process_cpu_s": round(time.process_time() - cpu_started, 3),
        "latencies_ms": [round(x, 3) for latencies, _ in per_round for x in latencies],
        "round_max_ms": [round(max(lat, default=0.0), 3) for lat, _ in per_round],
        "failures": [failure for _, failures in per_round for failure in failures],
    }


def emulator_findings(fake: FakeDiscord) -> dict[str, Any]:
    return {
        "emulator_errors": fake.take_errors(),
        # discord.py waits out a 429 by itself: the wait would be in the latency, so count it.
        "rate_limited": sum(request.status == 429 for request in fake.requests),
    }


def freeze_heap() -> None:
    """Keep what start-up built out of later collections, or full GCs show up as latency
    spikes (`drivershub run` does the same after its start-up, bot.runtime.serve)."""
    gc.collect()
    gc.freeze()


# --- the bot as deployed: `drivershub run` in its own process ---------------------------------


def drivershub_exe() -> str:
    return str(Path(sys.executable).with_name("drivershub"))


def bot_env(fake: FakeDiscord) -> dict[str, str]:
    """This process's settings (run.py's: SQLite file, data dir, config file) for the bot,
    pointed at the emulator; INFO logging (as the shipped config.toml) for the ready line."""
    env = dict(os.environ)
    env.update(
        DRIVERSHUB_DISCORD__TOKEN=fake.token,
        DRIVERSHUB_DISCORD__API_BASE=fake.api_base,
        DRIVERSHUB_DATABASE__AUTO_MIGRATE="false",  # migrated once, by `drivershub migrate`
        DRIVERSHUB_WEB__PORT="0",
        DRIVERSHUB_METRICS__ENABLED="false",
        DRIVERSHUB_METRICS__LISTEN="",
        DRIVERSHUB_LOGGING__LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (/proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def die_with_parent() -> None:
    """Run in the bot's child before the exec: the kernel sends it SIGTERM when this process
    dies, also by SIGKILL (run.py's timeout), so the bot never outlives the benchmark."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def migrate(env: dict[str, str], workdir: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        drivershub_exe(),
        "migrate",
        cwd=workdir,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), READY_TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(f"drivershub migrate failed ({proc.returncode}):\n{out.decode()}")


@contextlib.asynccontextmanager
async def bot_process(
    fake: FakeDiscord, log: Path, profile: Path | None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`drivershub run` against the emulator, ready (its on_ready reconcile has run); SIGTERM
    and reaped afterwards, killed if it does not stop in time."""
    env = bot_env(fake)
    workdir = log.parent
    await migrate(env, workdir)
    args = [drivershub_exe(), "run"]
    if profile is not None:
        args = [sys.executable, "-m", "cProfile", "-o", str(profile), *args]
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *args,
            cwd=workdir,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    try:
        await fake.wait_for(
            lambda: (
                proc.returncode is not None or READY_LINE.search(log.read_text(errors="replace"))
            ),
            READY_TIMEOUT_S,
            "`drivershub run` to become ready",
        )
        if proc.returncode is not None:
            raise RuntimeError(f"drivershub run exited with {proc.returncode}:\n{tail(log)}")
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def log_problems(log: Path, exit_code: int | None) -> list[str]:
    """Errors and tracebacks the bot logged, and an exit other than 0 after SIGTERM."""
    output = log.read_text(errors="replace")
    problems = [line for line in output.splitlines() if PROBLEM_LINE.search(line)]
    if exit_code != 0:
        problems.append(f"drivershub run exited with {exit_code}")
    return problems


def tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


async def measure_process(
    members: int, rounds: int, warmup: int, log: Path, profile: Path | None
) -> dict[str, Any]:
    async with FakeDiscord() as fake:
        guild, drivers = build_world(fake, members)
        spawned = time.perf_counter()
        async with bot_process(fake, log, profile) as proc:
            ready_s = time.perf_counter() - spawned
            freeze_heap()
            bot_cpu = proc_cpu_s(proc.pid)
            result = await rounds_of(fake, guild, drivers, rounds, warmup)
            bot_cpu = proc_cpu_s(proc.pid) - bot_cpu
            memory = rss_mb(proc.pid)
            findings = emulator_findings(fake)
        problems = log_problems(log, proc.returncode)
        answers = len(result["latencies_ms"])
        bot = {
            "command": "drivershub run" + (f" under cProfile ({profile})" if profile else ""),
            "pid": proc.pid,
            "exit_code": proc.returncode,
            "ready_s": round(ready_s, 2),
            "memory_mb": memory,
            "cpu_s": round(bot_cpu, 3),
            "cpu_ms_per_answer": round(bot_cpu * 1000 / answers, 2) if answers else None,
            "log_problems": problems[:20],
            "log": str(log),
        }
        return {**result, **findings, "mode": "process", "bot": bot}


# --- the old set-up: the application on the emulator's event loop ----------------------------


async def measure_in_process(members: int, rounds: int, warmup: int) -> dict[str, Any]:
    # Imported here: the emulator process of the other mode holds no application code.
    from bot.bot import DriversHubBot
    from bot.runtime import running
    from core.config import DiscordSettings, Settings, load_settings
    from core.logs import setup_logging
    from tests.fakediscord.fixtures import patch_discord_py

    class BenchBot(DriversHubBot):
        """The real bot without the waits that pace real Discord (as the tests' EmulatedBot)."""

        def __init__(self, settings: Settings) -> None:
            super().__init__(settings, guild_ready_timeout=0.2)

        async def before_identify_hook(
            self, shard_id: int | None, *, initial: bool = False
        ) -> None:
            return None

    settings = load_settings()
    setup_logging(settings.logging.level, settings.logging.format)
    async with FakeDiscord() as fake:
        guild, drivers = build_world(fake, members)
        discord = DiscordSettings(token=fake.token, api_base=fake.api_base)
        app_settings = settings.model_copy(update={"discord": discord})
        with patch_discord_py(fake):
            async with running(app_settings, bot_class=BenchBot) as rt:
                freeze_heap()
                assert rt.bot is not None
                await fake.wait_for(rt.bot.is_ready, READY_TIMEOUT_S, "the bot to become ready")
                result = await rounds_of(fake, guild, drivers, rounds, warmup)
        return {**result, **emulator_findings(fake), "mode": "in-process"}


def main() -> int:
    parser = argparse.ArgumentParser(description="slash-command answer latency")
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup-rounds", type=int, default=2)
    parser.add_argument(
        "--in-process", action="store_true", help="the app on the emulator's loop (old set-up)"
    )
    parser.add_argument("--bot-log", type=Path, help="the bot's output (default: a temp dir)")
    parser.add_argument("--bot-profile", type=Path, help="run the bot under cProfile, to here")
    args = parser.parse_args()
    if args.in_process:
        measuring = measure_in_process(args.members, args.rounds, args.warmup_rounds)
    else:
        log = args.bot_log or Path(tempfile.mkdtemp(prefix="drivershub-bot-")) / "bot.log"
        profile = args.bot_profile.resolve() if args.bot_profile else None
        measuring = measure_process(
            args.members, args.rounds, args.warmup_rounds, log.resolve(), profile
        )
    result = asyncio.run(measuring)
    result.update(members=args.members, rounds=args.rounds, warmup_rounds=args.warmup_rounds)
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
