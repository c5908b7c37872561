"""`drivershub`: run the bot and the API, migrate, and operator commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from core.config import ConfigError, Settings, effective_config, load_settings
from core.logs import setup_logging

log = logging.getLogger("drivershub")
EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drivershub", description=__doc__)
    parser.add_argument("--config", help="path to config.toml (default: ./config.toml)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="bot + API + workers in one process")
    sub.add_parser("web", help="API only; WEB_CONCURRENCY processes share the port")
    sub.add_parser("migrate", help="apply database migrations")
    make = sub.add_parser("makemigrations", help="write migrations for model changes")
    make.add_argument("--name", help="a name for the migration file")
    sub.add_parser("check-config", help="print the effective configuration, secrets masked")
    sub.add_parser("messages", help="update the translation catalogs from the source")
    sub.add_parser("rotate-keys", help="add a new token signing key (old ones stay valid)")
    create = sub.add_parser("create-hub", help="create a hub without a Discord guild")
    create.add_argument("name")
    create.add_argument("--slug")
    promote = sub.add_parser("promote", help="make a user a platform superuser")
    promote.add_argument("user", help="user id, e-mail, Discord id or username")
    promote.add_argument("--revoke", action="store_true", help="remove superuser instead")
    update = sub.add_parser("update-hub", help="change a hub's settings as the operator")
    update.add_argument("slug")
    update.add_argument("changes", help='JSON, e.g. \'{"language": "de"}\'')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.config:
        os.environ["DRIVERSHUB_CONFIG"] = args.config
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"drivershub: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(settings.logging.level, settings.logging.format)
    command = COMMANDS[args.command]
    try:
        return command(settings, args) or 0
    except KeyboardInterrupt:
        return 130


def _run(settings: Settings, args: argparse.Namespace) -> int:
    import discord

    from bot.runtime import init_sentry, serve

    init_sentry(settings)
    try:
        asyncio.run(serve(settings))
    except discord.LoginFailure:
        print(
            "drivershub: configuration error: discord.token: Discord refused the token",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    except discord.PrivilegedIntentsRequired:
        print(
            "drivershub: configuration error: discord.members_intent: enable the Server"
            " Members Intent in the Developer Portal, or set members_intent = false",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return 0


def _web(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import init_sentry, serve, setup_tokens

    workers = _concurrency()
    if workers is None:
        return EXIT_CONFIG
    if workers <= 1:
        init_sentry(settings)
        asyncio.run(serve(settings, bot=False))
        return 0
    if settings.database.should_auto_migrate:
        _with_db(settings, lambda: asyncio.sleep(0), migrate=True)
    setup_tokens(settings)  # create the signing key once, before the workers share it
    return _supervise(workers)


def _concurrency() -> int | None:
    """How many web processes to run (WEB_CONCURRENCY), or None after saying why not."""
    raw = os.environ.get("WEB_CONCURRENCY", "1")
    try:
        workers = int(raw)
    except ValueError:
        workers = 0
    if workers < 1:
        print(
            f"drivershub: configuration error: WEB_CONCURRENCY must be a positive integer,"
            f" not {raw!r}",
            file=sys.stderr,
        )
        return None
    return workers


def _web_worker() -> None:
    os.environ["DRIVERSHUB_DATABASE__AUTO_MIGRATE"] = "false"  # the parent migrated
    from bot.runtime import init_sentry, serve

    settings = load_settings()
    setup_logging(settings.logging.level, settings.logging.format)
    init_sentry(settings)
    asyncio.run(serve(settings, bot=False, reuse_port=True))


def _supervise(workers: int) -> int:
    """Start worker processes sharing the port (SO_REUSEPORT) and stop them on SIGTERM.

    If a worker dies on its own, the others are stopped too and the exit code is 1, so the
    service manager (systemd, Docker, Kubernetes) restarts a whole service instead of
    leaving it running at part capacity.
    """
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_web_worker, name=f"web-{i}") for i in range(workers)]
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive():
                process.terminate()

    # Handlers first: a SIGTERM during start-up must not orphan the workers already started.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    started = []
    for process in processes:
        if not stopping:
            process.start()
            started.append(process)
    log.info("started %d web workers", len(started))
    if started:
        multiprocessing.connection.wait([p.sentinel for p in started])
    crashed = not stopping
    if crashed:
        log.error("a web worker stopped unexpectedly: stopping the others")
        stop(signal.SIGTERM, None)
    for process in started:
        process.join()
    failed = crashed or any(p.exitcode != 0 for p in started)
    return 1 if failed else 0


def _with_db(settings: Settings, action: Callable[[], Awaitable[Any]], *, migrate: bool) -> Any:
    from core.db import close_database, open_database

    async def body() -> Any:
        await open_database(settings.database.url, apply_migrations=migrate)
        try:
            return await action()
        finally:
            await close_database()

    return asyncio.run(body())


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    _with_db(settings, lambda: asyncio.sleep(0), migrate=True)
    print("migrations applied")
    return 0


def _makemigrations(settings: Settings, args: argparse.Namespace) -> int:
    from core.db import make_migrations

    paths = asyncio.run(make_migrations(args.name))
    print("\n".join(str(p) for p in paths) or "no changes")
    return 0


def _check_config(settings: Settings, args: argparse.Namespace) -> int:
    print(json.dumps(effective_config(settings), indent=2))
    return 0


def _messages(settings: Settings, args: argparse.Namespace) -> int:
    from bot.messages import update_catalogs

    missing = update_catalogs()
    for language, ids in missing.items():
        for message in ids:
            print(f"{language}: untranslated: {message}")
    return 1 if any(missing.values()) else 0


def _rotate_keys(settings: Settings, args: argparse.Namespace) -> int:
    from models.keys import rotate

    if settings.auth.private_key is not None:
        print("drivershub: the signing key comes from [auth] private_key; rotate it there")
        return 1
    path = rotate(settings.data_dir / "keys", settings.auth.algorithm)
    print(f"new signing key {path.name}; running processes pick it up within seconds")
    return 0


def _operator(settings: Settings, action: Callable[[], Awaitable[str]]) -> int:
    """Run an operator action against a migrated database; domain errors print cleanly."""
    from models.errors import DomainError

    try:
        print(_with_db(settings, action, migrate=settings.database.should_auto_migrate))
    except DomainError as exc:
        print(f"drivershub: {exc}", file=sys.stderr)
        return 1
    return 0


def _create_hub(settings: Settings, args: argparse.Namespace) -> int:
    from models import hubs
    from models.actor import SYSTEM

    async def action() -> str:
        hub = await hubs.create_hub(SYSTEM, args.name, args.slug)
        return f"created hub {hub.slug}"

    return _operator(settings, action)


def _promote(settings: Settings, args: argparse.Namespace) -> int:
    from models import users
    from models.actor import SYSTEM

    async def action() -> str:
        user = await users.set_superuser(SYSTEM, args.user, not args.revoke)
        return f"{user.username} is {'now' if user.is_superuser else 'no longer'} a superuser"

    return _operator(settings, action)


def _update_hub(settings: Settings, args: argparse.Namespace) -> int:
    from models import hubs
    from models.actor import SYSTEM
    from models.validation import validate_json

    async def action() -> str:
        change = validate_json(hubs.HubUpdate, args.changes)
        hub = await hubs.update_hub(SYSTEM, await hubs.get_hub(args.slug), change)
        return json.dumps((await hubs.hub_info(hub)).model_dump(mode="json"), indent=2)

    return _operator(settings, action)


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int | None]] = {
    "run": _run,
    "web": _web,
    "migrate": _migrate,
    "makemigrations": _makemigrations,
    "check-config": _check_config,
    "messages": _messages,
    "rotate-keys": _rotate_keys,
    "create-hub": _create_hub,
    "promote": _promote,
    "update-hub": _update_hub,
}

if __name__ == "__main__":
    sys.exit(main())
