"""Fault script (`make faults`): Discord down for long, and the bot killed mid-batch.

    .venv/bin/python -m tests.faults.run [--pg postgres://postgres@127.0.0.1:5432/postgres]

Set-up, as in tests/benchmarks/interactions.py: this process runs the Discord emulator
(tests/fakediscord) and the bot runs as deployed, `drivershub run`, in its own process, on a
fresh PostgreSQL database (created here, dropped at the end). Between the two sits a TCP proxy
(tests/faults/proxy.py) that this script can switch off: REST and the gateway both go through
it. This process also plays the API: it emits notifications and hub posts with the domain
operations (`notify`, `posts.emit`) on the same database, each in its own transaction.

1. Outage: Discord refuses connections (proxy down), then answers every REST call with 503
   (discord.py does not retry those), then 502 (discord.py retries those itself 5 times, about
   16 s, then gives up); meanwhile 1,000 notifications (50 users x 20, in a known order) and
   20 hub posts are emitted. After Discord recovers every notification must be in exactly one
   DM, no DM twice, in emission order per user; every post exactly once.
2. Crash: a batch of DMs is being sent; the bot is SIGKILLed at the moment Discord has stored
   one of them but before the bot could record it (the emulator kills it inside the request);
   while it is down, more notifications arrive; after a restart nothing is lost or doubled.
3. Long outage, by the numbers: how long an outbox item keeps retrying before it gives up
   (models.outbox.backoff, MAX_ATTEMPTS), measured by running the real DM worker against a
   Discord that refuses every connection, with time moved forward between attempts.

Prints PASS/FAIL lines with figures; exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tortoise.transactions import in_transaction

from tests.benchmarks.interactions import PROBLEM_LINE, READY_LINE, die_with_parent, drivershub_exe
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.fakediscord import FakeDiscord, User
from tests.fakediscord.server import API_PREFIX
from tests.faults import check
from tests.faults.proxy import Proxy

log = logging.getLogger("faults")
ROOT = Path(__file__).resolve().parents[2]
KIND = "member.rank_changed"  # a DM by default: "Your rank in {hub} is now {rank}"
TRIGGER = "member.rank_up"
HUB_NAME = "Fault Logistics"
DM_WINDOW_S = 2.0
READY_TIMEOUT_S = 45.0
RECOVERY_DEADLINE_S = 150.0
RESULTS: list[tuple[bool, str]] = []


def result(ok: bool, name: str, figures: str) -> None:
    RESULTS.append((ok, name))
    sys.stdout.write(f"{'PASS' if ok else 'FAIL'} {name}: {figures}\n")
    sys.stdout.flush()


def note(text: str) -> None:
    sys.stdout.write(f"     {text}\n")
    sys.stdout.flush()


class ProxiedDiscord(FakeDiscord):
    """The emulator, with the gateway URL it hands out pointing at the proxy."""

    proxy_port = 0

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.proxy_port or self.port}/gateway"

    @property
    def proxied_api_base(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}{API_PREFIX}"


# --- the database -------------------------------------------------------------------------


# --- the bot process ----------------------------------------------------------------------


class Bot:
    """`drivershub run` against the proxy; started, killed and restarted by the scenarios."""

    def __init__(self, fake: ProxiedDiscord, db_url: str, workdir: Path) -> None:
        self.fake, self.workdir = fake, workdir
        self.proc: asyncio.subprocess.Process | None = None
        self.logs: list[Path] = []
        config = workdir / "config.toml"
        config.write_text("# fault script: every setting comes from the environment\n")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DRIVERSHUB_")}
        self.env.update(
            DRIVERSHUB_CONFIG=str(config),
            DRIVERSHUB_DATA_DIR=str(workdir / "data"),
            DRIVERSHUB_DATABASE__URL=db_url,
            DRIVERSHUB_DATABASE__AUTO_MIGRATE="false",
            DRIVERSHUB_DISCORD__TOKEN=fake.token,
            DRIVERSHUB_DISCORD__API_BASE=fake.proxied_api_base,
            DRIVERSHUB_NOTIFICATIONS__DM_WINDOW_SECONDS=str(DM_WINDOW_S),
            DRIVERSHUB_WEB__HOST="127.0.0.1",
            DRIVERSHUB_WEB__PORT="0",
            DRIVERSHUB_METRICS__ENABLED="false",
            DRIVERSHUB_METRICS__LISTEN="",
            DRIVERSHUB_LOGGING__LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )

    async def migrate(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            drivershub_exe(), "migrate", cwd=self.workdir, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        if proc.returncode != 0:
            raise RuntimeError(f"drivershub migrate failed:\n{out.decode()}")

    async def start(self) -> float:
        """Start it and wait for its ready line; seconds it took."""
        started = time.monotonic()
        log_file = self.workdir / f"bot-{len(self.logs) + 1}.log"
        self.logs.append(log_file)
        with log_file.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                drivershub_exe(), "run", cwd=self.workdir, env=self.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )  # fmt: skip
        proc = self.proc
        await self.fake.wait_for(
            lambda: proc.returncode is not None or READY_LINE.search(log_file.read_text()),
            READY_TIMEOUT_S,
            "`drivershub run` to become ready",
        )
        if proc.returncode is not None:
            raise RuntimeError(f"drivershub run exited with {proc.returncode}: see {log_file}")
        return time.monotonic() - started

    def kill_now(self) -> None:
        """SIGKILL, synchronously (called from inside the emulator's request handler)."""
        if self.proc is not None and self.proc.returncode is None:
            os.kill(self.proc.pid, signal.SIGKILL)

    async def wait_dead(self) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), 30)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def problems(self) -> list[str]:
        lines = []
        for log_file in self.logs:
            text = log_file.read_text(errors="replace")
            lines += [f"{log_file.name}: {x}" for x in text.splitlines() if PROBLEM_LINE.search(x)]
        return lines


# --- emitting ------------------------------------------------------------------------------


async def make_users(fake: FakeDiscord, prefix: str, count: int) -> dict[int, User]:
    """Emulator users and their hub accounts (linked Discord ids): database id -> emulator user."""
    from models.users import User as Account

    people = {}
    for number in range(count):
        user = fake.user(f"{prefix}-{number:02d}")
        account = await Account.create(username=user.name, discord_id=user.id)
        people[account.id] = user
    return people


async def emit_dm(user_id: int, marker: str) -> None:
    from models.notifications.center import notify

    async with in_transaction():
        await notify([user_id], KIND, {"hub": HUB_NAME, "rank": marker, "previous": "-"})


async def emit_post(hub: Any, marker: str) -> None:
    from models.posts import ops as posts

    variables = {"hub": HUB_NAME, "member": marker, "mention": "", "rank": "Fault Driver"}
    async with in_transaction():
        await posts.emit(hub, TRIGGER, {**variables, "previous": "-", "points": "0"}, source=marker)


async def until(predicate, deadline_s: float, every: float = 0.25) -> float | None:
    """Seconds until `await predicate()` is true, or None at the deadline."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        if await predicate():
            return time.monotonic() - started
        await asyncio.sleep(every)
    return None


# --- 1. a long outage ----------------------------------------------------------------------


_POSTING: dict[str, tuple[Any, Any] | None] = {}


async def setup_posts(fake: FakeDiscord) -> tuple[Any, Any] | None:
    """Once: the hub the bot made for the guild, with a post destination for TRIGGER; None when
    hub posts are not available (models.posts.ops.emit missing)."""
    from models.hubs import Hub

    if "posting" in _POSTING:
        return _POSTING["posting"]
    _POSTING["posting"] = None
    try:
        from models.posts import PostDestination
        from models.posts import ops as posts
    except ImportError as exc:
        note(f"hub posts not available ({exc}): posts are not checked")
        return None
    if not hasattr(posts, "emit"):
        note("models.posts.ops has no emit(): posts are not checked")
        return None
    guild = next(iter(fake.guilds.values()))
    hub = await Hub.get(guild_id=guild.id)
    channel = guild.channel("hub-posts")
    await PostDestination.create(
        hub_id=hub.id, trigger=TRIGGER, channel_id=channel.id, content="{member} is now {rank}!"
    )
    _POSTING["posting"] = (hub, channel)
    return hub, channel


async def outage(fake: ProxiedDiscord, proxy: Proxy, bot: Bot, opts: argparse.Namespace) -> None:
    people = await make_users(fake, "driver", opts.users)
    ids = list(people)
    posting = await setup_posts(fake)
    emitted: dict[int, list[str]] = {uid: [] for uid in ids}
    posts_wanted: list[str] = []
    phases = f"refused {opts.refused:.0f} s, 503 {opts.s503:.0f} s, 502 {opts.s502:.0f} s"
    sys.stdout.write(
        f"\n[1] Discord down ({phases}); {opts.users} users x {opts.per_user} notifications"
        f" and {opts.per_user if posting else 0} hub posts emitted meanwhile\n"
    )
    started = time.monotonic()
    await proxy.down()

    async def emit_all() -> None:
        spacing = (opts.refused + opts.s503) / opts.per_user
        for n in range(opts.per_user):
            round_started = time.monotonic()
            for uid, user in people.items():
                marker = f"{user.name}-n{n:02d}"
                await emit_dm(uid, marker)
                emitted[uid].append(marker)
            if posting:
                posts_wanted.append(f"post-{n:03d}")
                await emit_post(posting[0], posts_wanted[-1])
            await asyncio.sleep(max(0.0, spacing - (time.monotonic() - round_started)))

    emitting = asyncio.create_task(emit_all())
    await asyncio.sleep(opts.refused)
    await proxy.up()
    fault = fake.fail("*", status=503, times=None)
    await asyncio.sleep(opts.s503)
    fake.faults.remove(fault)
    fault = fake.fail("*", status=502, times=None)
    await emitting
    await asyncio.sleep(max(0.0, started + opts.refused + opts.s503 + opts.s502 - time.monotonic()))
    fake.faults.remove(fault)
    recovered = time.monotonic()
    failures_seen = sum(r.status >= 500 for r in fake.requests)
    note(
        f"outage over after {recovered - started:.1f} s; the emulator answered {failures_seen}"
        f" requests with 5xx; emitting took {emitting_time(started, emitted)}"
    )

    async def delivered() -> bool:
        if await check.waiting_dms(ids) or await check.unfinished_items(ids):
            return False
        return posting is None or not await check.unposted(posting[0].id)

    took = await until(delivered, RECOVERY_DEADLINE_S)
    figures = await check.dm_figures(fake, people, emitted)
    recovery = f"{took:.1f} s" if took is not None else f"not within {RECOVERY_DEADLINE_S:.0f} s"
    report_dms("outage DMs", figures, recovery, took is not None)
    if posting is not None:
        await report_posts("outage hub posts", posting, posts_wanted, took is not None)


async def report_posts(
    name: str, posting: tuple[Any, Any], wanted: list[str], in_time: bool
) -> None:
    post = await check.post_figures(posting[1], wanted, posting[0].id)
    ok = post.lost == 0 and post.duplicates == 0 and not post.problems and in_time
    result(
        ok,
        name,
        f"emitted {post.emitted}, posted {post.emitted - post.lost} (channel holds {post.posted}),"
        f" duplicates {post.duplicates}, lost {post.lost},"
        f" out of order (no promise across posts) {post.out_of_order}",
    )
    for problem in post.problems[:10]:
        note(problem)


def emitting_time(started: float, emitted: dict[int, list[str]]) -> str:
    return f"{sum(map(len, emitted.values()))} notifications by {time.monotonic() - started:.0f} s"


def report_dms(
    name: str,
    figures: check.DmFigures,
    recovery: str,
    in_time: bool,
    since: str = "Discord came back",
) -> None:
    ok = (
        in_time
        and figures.lost == 0
        and figures.duplicates == 0
        and figures.out_of_order == 0
        and figures.stray == 0
        and figures.notes_in_dms == figures.emitted
        and not figures.problems
    )
    result(
        ok,
        name,
        f"emitted {figures.emitted}, DMs delivered {figures.dms} carrying"
        f" {figures.notes_in_dms} notifications, duplicates {figures.duplicates},"
        f" out of order {figures.out_of_order} users, lost {figures.lost}, stray {figures.stray},"
        f" failed items {figures.failed_items}, max attempts {figures.max_attempts};"
        f" all delivered {recovery} after {since}",
    )
    for problem in figures.problems[:12]:
        note(problem)
    if len(figures.problems) > 12:
        note(f"... {len(figures.problems) - 12} more")


# --- 2. the bot killed mid-batch -----------------------------------------------------------


async def crash(fake: ProxiedDiscord, bot: Bot, opts: argparse.Namespace) -> None:
    people = await make_users(fake, "crash", opts.crash_users)
    ids = list(people)
    by_discord = {user.id for user in people.values()}
    sys.stdout.write(
        f"\n[2] bot SIGKILLed mid-batch: {opts.crash_users} users x {opts.crash_per_user}"
        f" notifications; killed when Discord has stored DM #{opts.kill_at} of the batch but"
        " the bot has not recorded it; 1 more notification each while it is down\n"
    )
    sent = []
    original = fake.send_bot_message

    def send_and_maybe_kill(channel, body, files):
        message = original(channel, body, files)
        if channel.recipient is not None and channel.recipient.id in by_discord:
            if message not in sent:
                sent.append(message)
            if len(sent) == opts.kill_at:
                bot.kill_now()  # Discord keeps the message; the bot never hears back
        return message

    fake.send_bot_message = send_and_maybe_kill  # type: ignore[method-assign]
    emitted: dict[int, list[str]] = {uid: [] for uid in ids}
    posting = await setup_posts(fake)
    posts_wanted: list[str] = []
    try:
        for n in range(opts.crash_per_user):
            for uid, user in people.items():
                emitted[uid].append(f"{user.name}-n{n:02d}")
                await emit_dm(uid, emitted[uid][-1])
            if posting:
                posts_wanted.append(f"crash-post-{n:03d}")
                await emit_post(posting[0], posts_wanted[-1])
        code = await bot.wait_dead()
        killed = time.monotonic()
        note(f"bot exit code {code} after Discord stored {len(sent)} DMs of the batch")
        n = opts.crash_per_user
        for uid, user in people.items():  # the API keeps working while the bot is down
            emitted[uid].append(f"{user.name}-n{n:02d}")
            await emit_dm(uid, emitted[uid][-1])
        await asyncio.sleep(opts.down)
        ready = await bot.start()
        note(f"restarted {time.monotonic() - killed:.1f} s after the kill, ready in {ready:.1f} s")

        async def delivered() -> bool:
            if await check.waiting_dms(ids) or await check.unfinished_items(ids):
                return False
            return posting is None or not await check.unposted(posting[0].id)

        took = await until(delivered, RECOVERY_DEADLINE_S)
    finally:
        fake.send_bot_message = original  # type: ignore[method-assign]
    figures = await check.dm_figures(fake, people, emitted)
    recovery = f"{took:.1f} s" if took is not None else f"not within {RECOVERY_DEADLINE_S:.0f} s"
    report_dms("crash DMs", figures, recovery, took is not None, since="the restart")
    if posting is not None:
        await report_posts("crash hub posts", posting, posts_wanted, took is not None)


# --- 3. the give-up horizon ----------------------------------------------------------------


class _Refusing:
    """A bot whose every HTTP call fails as when Discord refuses connections."""

    class http:  # noqa: N801
        @staticmethod
        async def start_private_message(user_id: int) -> dict:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")


async def give_up_horizon(fake: FakeDiscord) -> None:
    from bot.delivery import DiscordDMSender
    from bot.outbox import MAX_ATTEMPTS, Worker
    from models.notifications.tables import Notification
    from models.outbox import OutboxItem, OutboxKind, OutboxStatus, backoff

    sys.stdout.write(
        "\n[3] a longer outage, time moved forward: the real DM worker against a Discord that"
        " refuses every connection\n"
    )
    people = await make_users(fake, "horizon", 1)
    (uid,) = people
    await emit_dm(uid, "horizon-00-n00")
    simulated = 0.0
    worker = Worker(OutboxKind.DISCORD_DM, DiscordDMSender(_Refusing()))  # type: ignore[arg-type]
    schedule = []
    for _ in range(MAX_ATTEMPTS + 2):
        item = await OutboxItem.filter(user_id=uid).order_by("id").first()
        assert item is not None
        if item.status != OutboxStatus.PENDING:
            break
        if item.attempts:
            simulated += backoff(item.attempts).total_seconds()
            schedule.append(round(simulated))
        # Time moves on: the item is due now.
        await OutboxItem.filter(id=item.id).update(due_at=item.due_at - timedelta(days=1))
        await worker.run_once()
    item = await OutboxItem.filter(user_id=uid).order_by("id").first()
    assert item is not None
    stuck = await Notification.filter(user_id=uid, dm_item_id=item.id).count()
    gave_up = item.status == OutboxStatus.FAILED
    last_wait = backoff(item.attempts - 1).total_seconds()
    result(
        not gave_up,
        "long outage (simulated clock)",
        f"attempts at +{schedule} s after the first failure; the item is {item.status} after"
        f" {item.attempts} attempts, {simulated / 60:.1f} min into the outage; {stuck}"
        f" notification(s) bound to it are never DMed (lost) if Discord is down that long;"
        f" the last retry before giving up waited {last_wait:.0f} s",
    )


# --- main ----------------------------------------------------------------------------------


async def run(opts: argparse.Namespace) -> None:
    from core.db import close_database, open_database
    from models.notifications.center import configure as configure_notifications

    db_url, admin_url = await _create_pg_database(opts.pg)
    workdir = Path(tempfile.mkdtemp(prefix="drivershub-faults-"))
    sys.stdout.write(
        f"PostgreSQL {urlsplit(db_url).path.strip('/')} (dropped at the end); logs in {workdir}\n"
    )
    bot = None
    try:
        async with ProxiedDiscord() as fake:
            guild = fake.guild(HUB_NAME, channels=("general", "hub-posts"))
            del guild
            proxy = Proxy(fake.port)
            await proxy.up()
            fake.proxy_port = proxy.port
            bot = Bot(fake, db_url, workdir)
            await bot.migrate()
            await open_database(db_url)
            # This process plays the API, which decides the DM window when it emits.
            configure_notifications(dm_window_seconds=DM_WINDOW_S, retention_days=90)
            try:
                ready = await bot.start()
                note(f"bot ready in {ready:.1f} s (DM window {DM_WINDOW_S:.0f} s)")
                if "outage" in opts.only:
                    await outage(fake, proxy, bot, opts)
                if "crash" in opts.only:
                    await crash(fake, bot, opts)
                await bot.stop()
                if "horizon" in opts.only:
                    await give_up_horizon(fake)
                rejected = fake.take_errors()
                result(not rejected, "emulator", f"{len(rejected)} requests Discord would reject")
                for line in rejected[:5]:
                    note(line)
                problems = bot.problems()
                logs = ", ".join(map(str, bot.logs))
                note(f"bot logs: {len(problems)} ERROR/Traceback lines ({logs})")
                for line in problems[:8]:
                    note(line[:200])
            finally:
                await close_database()
                await proxy.down()
    finally:
        if bot is not None:
            await bot.stop()
        if not opts.keep_db:
            await _drop_pg_database(db_url, admin_url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "DRIVERSHUB_FAULTS_PG", "postgres://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--only", nargs="+", default=["outage", "crash", "horizon"])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--per-user", type=int, default=20)
    parser.add_argument("--refused", type=float, default=12.0, help="seconds refusing connections")
    parser.add_argument("--s503", type=float, default=10.0, help="seconds answering 503")
    parser.add_argument("--s502", type=float, default=20.0, help="seconds answering 502")
    parser.add_argument("--crash-users", type=int, default=20)
    parser.add_argument("--crash-per-user", type=int, default=10)
    parser.add_argument("--kill-at", type=int, default=5)
    parser.add_argument("--down", type=float, default=2.0, help="seconds the killed bot stays down")
    parser.add_argument("--keep-db", action="store_true")
    opts = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    started = time.monotonic()
    asyncio.run(run(opts))
    failed = [name for ok, name in RESULTS if not ok]
    which = f": failed {', '.join(failed)}" if failed else ""
    sys.stdout.write(
        f"\n{'FAIL' if failed else 'PASS'} faults: {len(RESULTS) - len(failed)}/{len(RESULTS)}"
        f" checks passed in {time.monotonic() - started:.0f} s{which}\n"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
