"""`drivershub`: run the bot and the API, migrate, and operator commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from core.backup import DataDirInUse, using_data_dir
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
    sub.add_parser(
        "rotate-encryption-key",
        help="add a key for secrets at rest and re-seal every secret with it",
    )
    create = sub.add_parser("create-hub", help="create a hub without a Discord guild")
    create.add_argument("name")
    create.add_argument("--slug")
    verify = sub.add_parser(
        "verify-email", help="mark a user's e-mail address verified (no mail server needed)"
    )
    verify.add_argument("user", help="user id, e-mail, Discord id or username")
    promote = sub.add_parser("promote", help="make a user a platform superuser")
    promote.add_argument("user", help="user id, e-mail, Discord id or username")
    promote.add_argument("--revoke", action="store_true", help="remove superuser instead")
    update = sub.add_parser("update-hub", help="change a hub's settings as the operator")
    update.add_argument("slug")
    update.add_argument("changes", help='JSON, e.g. \'{"language": "de"}\'')
    backup = sub.add_parser("backup", help="copy the SQLite database and data directory, live")
    backup.add_argument("path", help="the archive to write (.tar.gz), or a directory for one")
    restore = sub.add_parser("restore", help="bring back a backup (the hub must be stopped)")
    restore.add_argument("path", help="an archive written by `drivershub backup`")
    _admin_parsers(sub)
    return parser


def _admin_parsers(sub: argparse._SubParsersAction) -> None:
    """Managing users and looking over hubs, as the API's superuser routes do."""
    users = sub.add_parser("users", help="list users (all, or those --search finds)")
    users.add_argument("--search", metavar="Q", help="part of a name or e-mail, or an id")
    for name, help_text in (
        ("deactivate", "refuse a user's logins and end their sessions"),
        ("reactivate", "let a deactivated user log in again"),
        ("reset-mfa", "turn off a user's two-factor authentication"),
        ("delete-user", "erase a user's account now"),
    ):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("user", help="user id, e-mail, Discord id or username")
    sub.choices["delete-user"].add_argument(
        "--yes", action="store_true", help="confirm: the erasure cannot be undone"
    )
    unlink = sub.add_parser("unlink", help="disconnect a wrongly linked Discord or Steam account")
    unlink.add_argument("user", help="user id, e-mail, Discord id or username")
    unlink.add_argument("provider", choices=["discord", "steam"])
    sub.add_parser("hubs", help="list every hub with its state")
    rebuild = sub.add_parser(
        "rebuild-points", help="recompute point totals, period sums and ranks from the ledger"
    )
    rebuild.add_argument("slug", nargs="?", help="one hub (default: every hub)")
    replay = sub.add_parser(
        "tracker-replay", help="process a hub's failed tracker deliveries again (after a fix)"
    )
    replay.add_argument("slug")
    backfill = sub.add_parser(
        "tracker-backfill", help="store and process tracker payloads from a file (no doubles)"
    )
    backfill.add_argument("slug")
    backfill.add_argument("kind", choices=["tracksim", "trucky", "custom"])
    backfill.add_argument("file", help="a JSON array of webhook bodies, or one body per line")


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
    except DataDirInUse as exc:  # a restore holds the data directory
        print(f"drivershub: {exc}", file=sys.stderr)
        return 1
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
    from bot.runtime import init_sentry, serve, setup_encryption, setup_tokens
    from web.metrics import shared_metrics_dir

    workers = _concurrency()
    if workers is None:
        return EXIT_CONFIG
    if workers <= 1:
        init_sentry(settings)
        asyncio.run(serve(settings, bot=False))
        return 0
    if settings.database.should_auto_migrate:
        _with_db(settings, lambda: asyncio.sleep(0), migrate=True)
    # Create the signing and encryption keys once, before the workers share them.
    setup_tokens(settings)
    setup_encryption(settings)
    with shared_metrics_dir():  # so that whichever worker is scraped reports them all
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
    from web.metrics import worker_exited

    # 'spawn': a worker imports prometheus-client anew, so it sees PROMETHEUS_MULTIPROC_DIR.
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
        worker_exited(process.pid)
    failed = crashed or any(p.exitcode != 0 for p in started)
    return 1 if failed else 0


def _with_db(settings: Settings, action: Callable[[], Awaitable[Any]], *, migrate: bool) -> Any:
    from core.db import close_database, open_database

    if migrate:
        from bot.runtime import setup_encryption

        setup_encryption(settings)

    async def body() -> Any:
        await open_database(settings.database.url, apply_migrations=migrate)
        try:
            if migrate:  # a lazy data migration: see models.mfa.seal_totp_secrets
                from bot.runtime import seal_stored_secrets

                await seal_stored_secrets()
            return await action()
        finally:
            await close_database()

    with using_data_dir(settings):  # a restore must not replace the database under us
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


def _rotate_encryption_key(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import ENCRYPTION_KEYS, seal_stored_secrets, setup_encryption
    from models import encryption

    if settings.auth.encryption_key is None:
        path = encryption.add_key(settings.data_dir / ENCRYPTION_KEYS)
        print(f"new encryption key {path.name}; running processes pick it up within seconds")
    setup_encryption(settings)

    async def action() -> str:
        await seal_stored_secrets()
        kid = encryption.sealer().active_kid
        return f"every stored secret is sealed with encryption key {kid}"

    return _operator(settings, action)


def _operator(
    settings: Settings, action: Callable[[], Awaitable[str]], hints: dict[str, str] | None = None
) -> int:
    """Run an operator action against a migrated database; domain errors print cleanly.

    `hints` adds what the operator can do about an error, by its code, to the same line.
    """
    from models.errors import DomainError

    try:
        print(_with_db(settings, action, migrate=settings.database.should_auto_migrate))
    except DomainError as exc:
        hint = (hints or {}).get(exc.code)
        print(f"drivershub: {exc}" + (f" {hint}" if hint else ""), file=sys.stderr)
        return 1
    return 0


def _create_hub(settings: Settings, args: argparse.Namespace) -> int:
    from models import hubs
    from models.actor import SYSTEM

    async def action() -> str:
        hub = await hubs.create_hub(SYSTEM, args.name, args.slug)
        return f"created hub {hub.slug}"

    return _operator(settings, action, {"slug_taken": "Choose another one with --slug."})


def _promote(settings: Settings, args: argparse.Namespace) -> int:
    from models import users
    from models.actor import SYSTEM

    async def action() -> str:
        user = await users.set_superuser(SYSTEM, args.user, not args.revoke)
        return f"{user.username} is {'now' if user.is_superuser else 'no longer'} a superuser"

    return _operator(settings, action)


def _verify_email(settings: Settings, args: argparse.Namespace) -> int:
    from models import users
    from models.actor import SYSTEM

    async def action() -> str:
        user = await users.mark_email_verified(SYSTEM, args.user)
        return f"{user.username}'s e-mail address {user.email} is verified"

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


def _sqlite_backup(settings: Settings, work: Callable[[], str]) -> int:
    """Run a backup or restore; on PostgreSQL say which of its own tools to use instead."""
    from core import backup

    if not settings.database.is_sqlite:
        print(backup.postgres_hint(settings.data_dir), file=sys.stderr)
        return 1
    try:
        print(work())
    except backup.BackupError as exc:
        print(f"drivershub: {exc}", file=sys.stderr)
        return 1
    return 0


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from core import backup

    def work() -> str:
        return f"backup written to {backup.backup(settings, Path(args.path))}"

    return _sqlite_backup(settings, work)


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    from core import backup

    def work() -> str:
        manifest, replaced = backup.restore(settings, Path(args.path))
        lines = [f"restored the backup of {manifest.get('created_at', 'unknown date')}"]
        if replaced is not None:
            lines.append(f"the database it replaced is kept as {replaced}")
        return "\n".join(lines)

    return _sqlite_backup(settings, work)


# Administration: the same operations as the API's superuser routes, as the system.


def _users(settings: Settings, args: argparse.Namespace) -> int:
    from models import accounts
    from models.actor import SYSTEM
    from models.pagination import MAX_LIMIT
    from models.validation import validate

    async def action() -> str:
        query = validate(accounts.UserQuery, {"q": args.search, "limit": MAX_LIMIT})
        found = await _every_page(lambda q: accounts.list_users(SYSTEM, q), query)
        if not found:
            return "no users found"
        return "\n".join(["id\tusername\temail\tdiscord\tsteam\tflags", *map(_user_row, found)])

    return _operator(settings, action)


def _user_row(user: Any) -> str:
    flags = [
        name
        for name, on in (
            ("inactive", not user.is_active),
            ("superuser", user.is_superuser),
            ("mfa", user.mfa_enabled),
            ("unverified", user.email is not None and not user.is_verified),
            ("deleting", user.deletion_requested_at is not None),
        )
        if on
    ]
    cells = (user.id, user.username, user.email, user.discord_id, user.steam_id)
    return "\t".join([*(str(c) if c else "-" for c in cells), ",".join(flags) or "-"])


async def _every_page(fetch: Callable[[Any], Awaitable[Any]], query: Any) -> list[Any]:
    """Walk a paginated list to its end."""
    items: list[Any] = []
    while True:
        page = await fetch(query)
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        query = query.model_copy(update={"cursor": page.next_cursor})


UserOp = Callable[[Any, int], Awaitable[Any]]


def _user_action(settings: Settings, args: argparse.Namespace, op: UserOp, done: str) -> int:
    """Run `op(SYSTEM, user_id)` on the user named on the command line."""
    from models import users
    from models.actor import SYSTEM

    async def action() -> str:
        user = await users.find_user(args.user)
        await op(SYSTEM, user.id)
        return done.format(name=user.username, id=user.id)

    return _operator(settings, action)


def _deactivate(settings: Settings, args: argparse.Namespace) -> int:
    from models import admin

    done = "{name} is deactivated: logins are refused and their sessions have ended"
    return _user_action(settings, args, admin.deactivate, done)


def _reactivate(settings: Settings, args: argparse.Namespace) -> int:
    from models import admin

    return _user_action(settings, args, admin.reactivate, "{name} can log in again")


def _reset_mfa(settings: Settings, args: argparse.Namespace) -> int:
    from models import admin

    done = "two-factor authentication is off for {name}; they may set it up again"
    return _user_action(settings, args, admin.reset_mfa, done)


def _unlink(settings: Settings, args: argparse.Namespace) -> int:
    from models import admin
    from models.identities import Provider

    async def op(actor: Any, user_id: int) -> object:
        return await admin.unlink_identity(actor, user_id, Provider(args.provider))

    done = f"{{name}}'s {args.provider} account is disconnected; its sessions have ended"
    return _user_action(settings, args, op, done)


def _delete_user(settings: Settings, args: argparse.Namespace) -> int:
    if not args.yes:
        print(
            "drivershub: delete-user erases the account for good. Check who it is with"
            f" `drivershub users --search {shlex.quote(args.user)}`, then add --yes.",
            file=sys.stderr,
        )
        return 1
    from models import admin

    return _user_action(settings, args, admin.delete_user, "{name} (id {id}) is erased")


def _hubs(settings: Settings, args: argparse.Namespace) -> int:
    from models import admin
    from models.actor import SYSTEM
    from models.pagination import MAX_LIMIT, PageQuery

    async def action() -> str:
        query = PageQuery(limit=MAX_LIMIT)
        found = await _every_page(lambda q: admin.list_hubs(SYSTEM, q), query)
        if not found:
            return "no hubs yet"
        return "\n".join(["id\tslug\tname\tstate\tguild\tmembers\tplugins", *map(_hub_row, found)])

    return _operator(settings, action)


def _hub_row(hub: Any) -> str:
    state = f"{'active' if hub.active else 'inactive'},{'public' if hub.public else 'private'}"
    cells = (hub.id, hub.slug, hub.name, state, hub.guild_id or "-", hub.members)
    return "\t".join([*map(str, cells), ",".join(hub.plugins) or "-"])


def _rebuild_points(settings: Settings, args: argparse.Namespace) -> int:
    from models.hubs import Hub, get_hub
    from models.points.reads import rebuild

    async def action() -> str:
        found = [await get_hub(args.slug)] if args.slug else await Hub.all().order_by("id")
        lines = [f"{hub.slug}: {await rebuild(hub)} ledger rows read" for hub in found]
        return "\n".join(lines) or "no hubs yet"

    return _operator(settings, action)


def _tracker_replay(settings: Settings, args: argparse.Namespace) -> int:
    from models.hubs import get_hub
    from models.tracker import ops

    async def action() -> str:
        hub = await get_hub(args.slug)
        return f"{await ops.replay_failed(hub)} failed deliveries made a job now"

    return _operator(settings, action)


def _tracker_backfill(settings: Settings, args: argparse.Namespace) -> int:
    from models.hubs import get_hub
    from models.tracker import ops

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"drivershub: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1

    async def action() -> str:
        counts = await ops.backfill(await get_hub(args.slug), args.kind, text)
        return ", ".join(f"{n} {what}" for what, n in counts.items())

    return _operator(settings, action)


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int | None]] = {
    "run": _run,
    "web": _web,
    "migrate": _migrate,
    "makemigrations": _makemigrations,
    "check-config": _check_config,
    "messages": _messages,
    "rotate-keys": _rotate_keys,
    "rotate-encryption-key": _rotate_encryption_key,
    "create-hub": _create_hub,
    "promote": _promote,
    "verify-email": _verify_email,
    "update-hub": _update_hub,
    "backup": _backup,
    "restore": _restore,
    "users": _users,
    "deactivate": _deactivate,
    "reactivate": _reactivate,
    "reset-mfa": _reset_mfa,
    "unlink": _unlink,
    "delete-user": _delete_user,
    "hubs": _hubs,
    "rebuild-points": _rebuild_points,
    "tracker-replay": _tracker_replay,
    "tracker-backfill": _tracker_backfill,
}

if __name__ == "__main__":
    sys.exit(main())
