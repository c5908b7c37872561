"""The outbox: side effects (e-mails, Discord messages) written in the same transaction as the
change that causes them, delivered later by a worker, never lost, never sent twice."""

from __future__ import annotations

import math
from datetime import timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from tortoise import fields
from tortoise.models import Model

from models.auth import issue_ticket, now


class OutboxKind(StrEnum):
    EMAIL = "email"
    DISCORD_DM = "discord_dm"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # a permanent error; not retried


class OutboxItem(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(OutboxKind, max_length=16)
    # Rendered at send time in the recipient's language from `template` and `params`.
    template = fields.CharField(max_length=64)
    params = fields.JSONField(default=dict)
    user = fields.ForeignKeyField("drivershub.User", related_name="outbox", null=True)
    address = fields.CharField(max_length=254, default="")  # e-mail address or Discord id
    status = fields.CharEnumField(OutboxStatus, default=OutboxStatus.PENDING, max_length=16)
    attempts = fields.IntField(default=0)
    due_at = fields.DatetimeField(db_index=True)
    # A lease, not a lock: a worker owns the row until then (safe on SQLite and PostgreSQL).
    claimed_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=500, default="")
    result = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox"


async def enqueue(
    kind: OutboxKind,
    template: str,
    *,
    params: dict[str, Any] | None = None,
    user_id: int | None = None,
    address: str = "",
    delay: timedelta | None = None,
) -> OutboxItem:
    """Queue a side effect; call inside the transaction of the change that causes it."""
    return await OutboxItem.create(
        kind=kind,
        template=template,
        params=params or {},
        user_id=user_id,
        address=address,
        due_at=now() + (delay or timedelta()),
    )


# A one-time link is minted when its message is sent, never stored: no outbox row (nor a backup
# or a dump of the table) holds a ticket that logs in or resets a password. The row keeps what
# minting needs; the link expires as if it had been minted when the row was queued.
ONE_TIME_LINK = "one_time_link"


def one_time_link(
    param: str,
    url: str,
    purpose: str,
    ttl: int,
    *,
    query: str = "ticket",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Params asking the sender for `url` with a fresh `purpose` ticket in `param`.

    The sender also sets `minutes` to the link's remaining lifetime.
    """
    link = {"param": param, "url": url, "query": query, "purpose": purpose, "ttl": ttl}
    return {ONE_TIME_LINK: {**link, "data": data or {}}}


class Undeliverable(Exception):
    """The item can never be delivered: senders give up on it instead of retrying."""


class Postpone(Exception):
    """Not the item's turn yet (e.g. an older message to the same person is pending): try
    again after `seconds`, without counting an attempt."""

    def __init__(self, seconds: float = 1.0) -> None:
        super().__init__(f"postponed {seconds} s")
        self.seconds = seconds


async def render_params(item: OutboxItem) -> dict[str, Any]:
    """The params to render `item` with, a one-time link minted now for the item's user.

    A retry mints another ticket: the one sent before may have arrived, so it stays valid.
    """
    params = dict(item.params)
    link = params.pop(ONE_TIME_LINK, None)
    if link is None:
        return params
    remaining = (item.created_at + timedelta(seconds=link["ttl"]) - now()).total_seconds()
    if remaining <= 0 or item.user_id is None:
        raise Undeliverable("the link expired before it could be sent")
    ticket = await issue_ticket(
        item.user_id, link["purpose"], link["ttl"], link["data"], since=item.created_at
    )
    params[link["param"]] = f"{link['url']}?{urlencode({link['query']: ticket})}"
    params["minutes"] = max(1, math.ceil(remaining / 60))
    return params


async def claim_due(kind: OutboxKind, limit: int = 20, lease: int = 60) -> list[OutboxItem]:
    """Claim due rows with a conditional update, so two workers never take the same row."""
    current = now()
    candidates = (
        await OutboxItem.filter(kind=kind, status=OutboxStatus.PENDING, due_at__lte=current)
        .order_by("due_at", "id")
        .limit(limit * 2)
    )
    claimed = []
    for item in candidates:
        if item.claimed_until is not None and item.claimed_until > current:
            continue
        until = current + timedelta(seconds=lease)
        won = await OutboxItem.filter(id=item.id, claimed_until=item.claimed_until).update(
            claimed_until=until
        )
        if won:
            item.claimed_until = until
            claimed.append(item)
        if len(claimed) >= limit:
            break
    return claimed


# The longest wait between two tries: after an outage, delivery resumes within this.
MAX_BACKOFF = 300


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    seconds = retry_after if retry_after is not None else min(2**attempts, MAX_BACKOFF)
    return timedelta(seconds=seconds)


async def renew(item: OutboxItem, lease: int = 60) -> bool:
    """Extend the worker's lease on `item` before sending it; False if another worker took
    it over (the lease ran out and it claimed the row)."""
    until = now() + timedelta(seconds=lease)
    won = await OutboxItem.filter(id=item.id, claimed_until=item.claimed_until).update(
        claimed_until=until
    )
    if won:
        item.claimed_until = until
    return bool(won)


async def mark_sent(item: OutboxItem, result: dict[str, Any] | None = None) -> None:
    await OutboxItem.filter(id=item.id).update(
        status=OutboxStatus.SENT, sent_at=now(), result=result or {}, claimed_until=None
    )


async def mark_retry(item: OutboxItem, error: str, retry_after: float | None = None) -> None:
    attempts = item.attempts + 1
    await OutboxItem.filter(id=item.id).update(
        attempts=attempts,
        last_error=error[:500],
        due_at=now() + backoff(attempts, retry_after),
        claimed_until=None,
    )


async def postpone(item: OutboxItem, seconds: float) -> None:
    await OutboxItem.filter(id=item.id).update(
        due_at=now() + timedelta(seconds=seconds), claimed_until=None
    )


async def mark_failed(item: OutboxItem, error: str) -> None:
    await OutboxItem.filter(id=item.id).update(
        status=OutboxStatus.FAILED,
        attempts=item.attempts + 1,
        last_error=error[:500],
        claimed_until=None,
    )
