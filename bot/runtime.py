"""Start-up and shut-down: resources opened in order and closed in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import yarl
from aiohttp import web
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.bot import DriversHubBot
from bot.delivery import discord_dm_worker
from bot.discord_actions import DiscordActionWorker
from bot.email import email_worker
from bot.outbox import Worker
from core.backup import using_data_dir
from core.config import Settings
from core.db import close_database, open_database
from models import accounts, encryption, mfa, ratelimit
from models.announcements import ops as announcements
from models.auth import TokenConfig, configure_tokens, tickets
from models.cache import close_cache, configure_cache
from models.downloads import ops as downloads
from models.events import reminders as event_reminders
from models.keys import load_keyring
from models.notifications import broadcast, digest, live
from models.notifications import center as notification_center
from models.tracker import processing as tracker_worker
from web.app import create_app, no_gateway
from web.metrics import metrics_app

log = logging.getLogger(__name__)
DISCORD_API = "https://discord.com/api/v10"


@dataclass
class Runtime:
    """What a running process holds; tests reach the bot and the API through it."""

    settings: Settings
    bot: DriversHubBot | None = None
    runners: list[web.AppRunner] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def web_url(self) -> str:
        """The API's base URL (the first site's actual port, also when configured as 0)."""
        server = self.runners[0].addresses[0]
        return f"http://{server[0]}:{server[1]}"

    async def wait(self) -> None:
        """Run until a background task ends (the bot failing for good) or we are cancelled."""
        if not self.tasks:
            await asyncio.Event().wait()
        done, _ = await asyncio.wait(self.tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()


def setup_tokens(settings: Settings) -> None:
    """Load (or create) the signing keys and configure tokens and login throttling."""
    ratelimit.configure_account_limit(
        settings.rate_limit.account_failures, settings.rate_limit.account_window
    )
    config = settings.auth
    secret = config.private_key.get_secret_value() if config.private_key else None
    keyring = load_keyring(
        settings.data_dir / "keys", config.algorithm, config.access_token_ttl, secret
    )
    configure_tokens(
        TokenConfig(
            issuer=config.issuer,
            audience=config.audience,
            access_ttl=config.access_token_ttl,
            refresh_ttl=config.refresh_token_ttl,
            keyring=keyring,
            reauth_window=config.reauth_window,
            mfa_refresh_after=config.mfa_refresh_after,
        )
    )


ENCRYPTION_KEYS = "encryption-keys"  # the directory of the data directory with generated keys


def setup_encryption(settings: Settings) -> None:
    """Load (or create) the keys that seal secrets at rest, such as TOTP secrets."""
    configured = settings.auth.encryption_key
    sealer = encryption.load_sealer(
        settings.data_dir / ENCRYPTION_KEYS,
        configured.get_secret_value() if configured else None,
    )
    encryption.configure_encryption(sealer)


async def seal_stored_secrets() -> None:
    """Seal what older versions stored in the clear, and what an older key sealed."""
    changed = await mfa.seal_totp_secrets()
    if changed:
        kid = encryption.sealer().active_kid
        log.info("sealed %d TOTP secrets with encryption key %s", changed, kid)


def init_sentry(settings: Settings) -> None:
    if settings.sentry.dsn is None:
        return
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry.dsn.get_secret_value(),
        environment=settings.sentry.environment,
        traces_sample_rate=settings.sentry.traces_sample_rate,
        # Personal data (IPs, cookies, user ids) stays out: the SDK's default, not repeated here
        # because recent SDKs deprecate the option in favour of `data_collection`.
    )
    log.info("error reporting to Sentry is on")


async def _start_site(
    app: web.Application, host: str, port: int, *, reuse_port: bool, grace: float
) -> web.AppRunner:
    runner = web.AppRunner(app, shutdown_timeout=grace, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
    return runner


async def _start_web(rt: Runtime, *, reuse_port: bool) -> None:
    settings = rt.settings
    gateway_state = rt.bot.gateway_state if rt.bot is not None else no_gateway
    app = create_app(settings, gateway_state=gateway_state)
    grace = settings.web.shutdown_timeout
    runner = await _start_site(
        app, settings.web.host, settings.web.port, reuse_port=reuse_port, grace=grace
    )
    rt.runners.append(runner)
    log.info("API listening on %s/api/v1", rt.web_url)
    listen = settings.metrics.listen
    if settings.metrics.enabled and listen:
        host, _, port = listen.rpartition(":")
        rt.runners.append(
            await _start_site(metrics_app(), host, int(port), reuse_port=reuse_port, grace=1)
        )
        log.info("metrics on http://%s/metrics", listen)


def _start_workers(rt: Runtime) -> None:
    """Background workers: outbox delivery loops, and housekeeping in bot processes."""
    for worker in outbox_workers(rt.settings, rt.bot):
        rt.tasks.append(asyncio.create_task(worker.run_forever(), name=f"outbox-{worker.kind}"))
    # Every process fans out broadcasts: the one where a broadcast committed starts at once.
    rt.tasks.append(asyncio.create_task(broadcast.run_forever(), name="broadcast-fan-out"))
    # Old notifications go in every process (API-only deployments have no bot process).
    purge_notifications = every(HOUSEKEEPING_INTERVAL, notification_center.purge_expired)
    rt.tasks.append(asyncio.create_task(purge_notifications, name="purge-notifications"))
    purge_tickets = every(HOUSEKEEPING_INTERVAL, tickets.purge_tickets)
    rt.tasks.append(asyncio.create_task(purge_tickets, name="purge-tickets"))
    # Event reminders (sent once across processes: a lease) and ended dates' next mirror.
    events_due = every(EVENTS_INTERVAL, event_reminders.run_due)
    rt.tasks.append(asyncio.create_task(events_due, name="event-reminders"))
    # Scheduled announcements go out once (claimed with a conditional update).
    announcements_due = every(EVENTS_INTERVAL, announcements.publish_due)
    rt.tasks.append(asyncio.create_task(announcements_due, name="scheduled-announcements"))
    # Stored tracker deliveries become jobs (leases: any number of processes may run it).
    rt.tasks.append(asyncio.create_task(tracker_worker.run_forever(), name="tracker-intake"))
    purge_links = every(HOUSEKEEPING_INTERVAL, downloads.purge_links)
    rt.tasks.append(asyncio.create_task(purge_links, name="purge-download-links"))
    if rt.bot is not None:  # one kind of process runs housekeeping, not every web worker
        grace = rt.settings.auth.account_deletion_grace_days
        purge = every(HOUSEKEEPING_INTERVAL, lambda: accounts.purge_deleted_accounts(grace))
        rt.tasks.append(asyncio.create_task(purge, name="purge-deleted-accounts"))
        # Notifications left waiting for a DM without one (see models.notifications.digest).
        sweep = every(DIGEST_SWEEP_INTERVAL, digest.sweep)
        rt.tasks.append(asyncio.create_task(sweep, name="dm-digest-sweep"))


HOUSEKEEPING_INTERVAL = 3600.0
EVENTS_INTERVAL = 30.0
DIGEST_SWEEP_INTERVAL = 60.0


async def every(seconds: float, job: Callable[[], Awaitable[object]]) -> None:
    """Run `job` now and then every `seconds`; a failure is logged, the loop goes on."""
    while True:
        try:
            await job()
        except Exception:  # housekeeping must never take the process down
            log.exception("periodic job failed; retrying in %.0f s", seconds)
        await asyncio.sleep(seconds)


def outbox_workers(
    settings: Settings, bot: DriversHubBot | None
) -> list[Worker | DiscordActionWorker]:
    """The delivery workers this process can run (senders register here)."""
    workers: list[Worker | DiscordActionWorker] = []
    if bot is not None:
        workers.append(discord_dm_worker(bot))
        workers.append(DiscordActionWorker(bot))
    if settings.smtp.host:
        workers.append(email_worker(settings.smtp))
    return workers


async def _start_bot(rt: Runtime) -> None:
    settings = rt.settings
    assert rt.bot is not None
    assert settings.discord.token is not None
    await rt.bot.login(settings.discord.token.get_secret_value())
    if settings.discord.api_base != DISCORD_API:
        # Another Discord (the emulator): every gateway connection must go there too.
        _, url, _ = await rt.bot.http.get_bot_gateway()
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
    rt.tasks.append(asyncio.create_task(rt.bot.connect(), name="discord-gateway"))


@contextlib.asynccontextmanager
async def _resources(settings: Settings, *, own: bool) -> AsyncIterator[None]:
    """The database and the cache, unless the caller (a test session) already owns them."""
    if not own:
        yield
        return
    migrate = settings.database.should_auto_migrate
    await open_database(settings.database.url, apply_migrations=migrate)
    try:
        if migrate:  # a lazy data migration: see models.mfa.seal_totp_secrets
            await seal_stored_secrets()
        configure_cache(settings.cache.url, settings.cache.namespace)
        # Wake-ups of notification streams between processes (Redis only).
        await live.start(settings.cache.url, settings.cache.namespace)
        yield
    finally:
        await live.stop()
        await close_cache()
        await close_database()


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    *,
    bot: bool = True,
    reuse_port: bool = False,
    own_resources: bool = True,
    bot_class: type[DriversHubBot] = DriversHubBot,
) -> AsyncIterator[Runtime]:
    """Open everything in order (database, cache, web, bot) and close it in reverse."""
    rt = Runtime(settings)
    setup_tokens(settings)
    setup_encryption(settings)
    notification_center.configure(
        dm_window_seconds=settings.notifications.dm_window_seconds,
        retention_days=settings.notifications.retention_days,
    )
    async with _resources(settings, own=own_resources):
        if bot and settings.discord.token is not None:
            Route.BASE = settings.discord.api_base
            rt.bot = bot_class(settings)
        elif bot:
            log.info("no Discord token configured: running the API and workers without the bot")
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(_stop_bot, rt)
            stack.push_async_callback(_stop_web, rt)
            await _start_web(rt, reuse_port=reuse_port)
            if rt.bot is not None:
                await _start_bot(rt)
            _start_workers(rt)
            yield rt


async def _stop_web(rt: Runtime) -> None:
    # The web server stops first, so no request runs against a closing bot or database.
    live.hang_up()  # notification streams end now, not after the shutdown timeout
    for runner in rt.runners:
        await runner.cleanup()


async def _stop_bot(rt: Runtime) -> None:
    if rt.bot is not None:
        await rt.bot.close()
    for task in rt.tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def _freeze_startup_heap() -> None:
    """Keep what start-up built (modules, models, the app) out of later GC scans.

    Without this every full collection walks ~100k long-lived objects and stops the loop for
    40-120 ms, which is what the p99 latency of the API was made of.
    """
    gc.collect()
    gc.freeze()


async def serve(settings: Settings, *, bot: bool = True, reuse_port: bool = False) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main_task.cancel)
    try:
        # Held until the process exits: `drivershub restore` must not replace its files.
        with using_data_dir(settings):
            async with running(settings, bot=bot, reuse_port=reuse_port) as rt:
                _freeze_startup_heap()
                await rt.wait()
    except asyncio.CancelledError:
        log.info("shut down")
