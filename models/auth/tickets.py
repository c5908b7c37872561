"""One-time tickets: e-mail verification, password reset, login links, MFA challenges."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model

from models.auth.common import hash_secret, new_secret, now
from models.errors import Unauthorized
from models.i18n import N_


class Ticket(Model):
    """A single-use, expiring secret: e-mail verification, password reset, login links."""

    id = fields.BigIntField(primary_key=True)
    purpose = fields.CharField(max_length=32)
    token_hash = fields.CharField(max_length=64, unique=True)
    user = fields.ForeignKeyField("drivershub.User", related_name="tickets")
    data = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "tickets"


async def issue_ticket(
    user_id: int,
    purpose: str,
    ttl: int,
    data: dict[str, Any] | None = None,
    *,
    since: datetime | None = None,
) -> str:
    """A new ticket valid for `ttl` seconds from `since` (default: now); only its hash is kept."""
    secret = new_secret()
    await Ticket.create(
        user_id=user_id,
        purpose=purpose,
        token_hash=hash_secret(secret),
        data=data or {},
        expires_at=(since or now()) + timedelta(seconds=ttl),
    )
    return secret


async def consume_ticket(secret: str, purpose: str) -> Ticket:
    """Use a ticket once; a used, expired or unknown one is refused the same way."""
    ticket = await Ticket.get_or_none(token_hash=hash_secret(secret), purpose=purpose)
    refused = Unauthorized(N_("This link is invalid or has expired."), code="invalid_ticket")
    if ticket is None or ticket.used_at is not None or ticket.expires_at <= now():
        raise refused
    # A conditional update: of two concurrent uses exactly one wins, on every database.
    won = await Ticket.filter(id=ticket.id, used_at__isnull=True).update(used_at=now())
    if not won:
        raise refused
    return ticket


async def purge_tickets() -> int:
    """Delete tickets that can no longer be used (expired, or used an hour ago or more);
    live-stream reconnects and e-mail links make one each. How many were deleted."""
    current = now()
    return await Ticket.filter(
        Q(expires_at__lt=current) | Q(used_at__lt=current - timedelta(hours=1))
    ).delete()
