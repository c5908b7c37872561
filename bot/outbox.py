"""Delivery of the outbox: claim due rows, send them, record the outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from models import outbox
from models.outbox import OutboxItem, OutboxKind

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """A temporary failure (rate limit, 5xx, network): try again after a backoff."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentFailure(outbox.Undeliverable):
    """The item can never be delivered (no such address, DMs closed): do not retry."""


# A sender delivers one item and returns what to record (e.g. the Discord message id).
Sender = Callable[[OutboxItem], Awaitable[dict[str, Any]]]
MAX_ATTEMPTS = 10  # unexpected errors (a bug): tried this often, then given up
# Temporary failures (Discord or the mail server away, rate limits) are retried, whatever
# their number, until the item is this old: an outage of hours loses nothing.
MAX_AGE = timedelta(hours=24)


@dataclass
class Worker:
    kind: OutboxKind
    send: Sender
    interval: float = 1.0
    batch: int = 20

    async def run_once(self) -> int:
        """Deliver what is due now; return how many items were handled."""
        items = await outbox.claim_due(self.kind, limit=self.batch)
        for item in items:
            # A slow batch (Discord retrying inside discord.py) outlasts the first items'
            # lease: each item's lease is renewed right before it is sent, and an item
            # another worker took over meanwhile is left to it.
            if await outbox.renew(item):
                await self._deliver(item)
        return len(items)

    async def _deliver(self, item: OutboxItem) -> None:
        try:
            result = await self.send(item)
        except outbox.Postpone as exc:
            await outbox.postpone(item, exc.seconds)
        except RetryLater as exc:
            if outbox.now() - item.created_at >= MAX_AGE:
                await outbox.mark_failed(item, f"gave up after {MAX_AGE}: {exc}")
            else:
                await outbox.mark_retry(item, str(exc), exc.retry_after)
        except outbox.Undeliverable as exc:  # PermanentFailure, or an expired link
            log.info("outbox item %s cannot be delivered: %s", item.id, exc)
            await outbox.mark_failed(item, str(exc))
        except Exception as exc:  # a bug in a sender must not stop delivery of other items
            log.exception("outbox item %s failed unexpectedly", item.id)
            if item.attempts + 1 >= MAX_ATTEMPTS:
                await outbox.mark_failed(item, f"gave up: {exc!r}")
            else:
                await outbox.mark_retry(item, repr(exc))
        else:
            await outbox.mark_sent(item, result)

    async def run_forever(self) -> None:
        while True:
            try:
                handled = await self.run_once()
            except Exception:  # the database may be briefly unavailable; keep going
                log.exception("outbox worker for %s failed; retrying", self.kind)
                handled = 0
            if not handled:
                await asyncio.sleep(self.interval)
