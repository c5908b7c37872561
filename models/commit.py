"""Work to do once the current transaction has committed (and only then).

Notifications are written inside the transaction of the change that causes them; telling a
live stream or a worker about them before the commit would send readers looking for rows
they cannot see yet, and after a rollback, for rows that never existed. `after_commit`
holds a callback until the outermost transaction commits (a rollback drops it); outside a
transaction it runs at once.

Tortoise has no commit hook, so the two transaction wrappers it uses (asyncpg and SQLite)
get one here, in one place: their `commit` runs the held callbacks after it succeeds.
Savepoints (nested blocks) release through the same wrapper object, so callbacks wait for
the outer commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from tortoise import connections
from tortoise.backends.asyncpg.client import TransactionWrapper as _AsyncpgTransaction
from tortoise.backends.sqlite.client import SqliteTransactionWrapper as _SqliteTransaction

log = logging.getLogger(__name__)
Callback = Callable[[], Any]  # a plain function, or one returning an awaitable
_HOOKS = "_drivershub_after_commit"
_background: set[asyncio.Task[Any]] = set()


def _run(callback: Callback) -> None:
    try:
        result = callback()
    except Exception:  # a wake-up that fails must not fail the change that committed
        log.exception("after-commit callback failed")
        return
    if asyncio.iscoroutine(result):
        task = asyncio.ensure_future(result)
        _background.add(task)
        task.add_done_callback(_finished)


def _finished(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("after-commit callback failed", exc_info=task.exception())


def after_commit(callback: Callback) -> None:
    """Run `callback` when the current transaction commits; now, outside one."""
    connection = connections.get("default")
    if not isinstance(connection, _AsyncpgTransaction | _SqliteTransaction):
        _run(callback)
        return
    # A nested block's wrapper points at its parent: the hooks belong to the outermost one.
    while isinstance(
        getattr(connection, "_parent", None), _AsyncpgTransaction | _SqliteTransaction
    ):
        connection = connection._parent  # type: ignore[attr-defined]
    hooks = connection.__dict__.setdefault(_HOOKS, [])
    hooks.append(callback)


def _with_hooks(commit: Callable[[Any], Any]) -> Callable[[Any], Any]:
    async def committed(self: Any) -> None:
        await commit(self)
        for callback in self.__dict__.pop(_HOOKS, []):
            _run(callback)

    committed.__wrapped__ = commit  # type: ignore[attr-defined]
    return committed


for _wrapper in (_AsyncpgTransaction, _SqliteTransaction):
    if not hasattr(_wrapper.commit, "__wrapped__"):
        _wrapper.commit = _with_hooks(_wrapper.commit)  # type: ignore[method-assign]
