"""The outbox: side effects (e-mails, Discord messages) written in the same transaction as the
change that causes them, delivered later by a worker, never lost, never sent twice."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.auth import now


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


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    seconds = retry_after if retry_after is not None else min(2**attempts, 3600)
    return timedelta(seconds=seconds)


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


async def mark_failed(item: OutboxItem, error: str) -> None:
    await OutboxItem.filter(id=item.id).update(
        status=OutboxStatus.FAILED,
        attempts=item.attempts + 1,
        last_error=error[:500],
        claimed_until=None,
    )
