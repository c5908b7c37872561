"""The Discord-actions outbox: changes the bot makes in a Discord server (give or take a role,
set a nickname, post a message), written in the transaction of the hub change that causes them
and carried out later by the bot process that serves the guild.

- Rows carry the guild, so with several shards each bot process claims its own guilds' rows.
- Actions on the same target (a member's role, a member's nickname, a hub post's message) are
  keyed: a newer action supersedes a pending older one, and opposite ones cancel out (give
  then take the same role before the bot got to it: no call at all). Only actions never
  tried are replaced: one that was tried may have reached Discord, so it runs again first.
- A claim is a lease taken with a conditional update, safe on SQLite and PostgreSQL alike.
- What the bot does is idempotent in Discord (PUT/DELETE of a member's role, PATCH of a
  nickname), and the sender first checks the bot's member cache, so a crash between the call
  and the record repeats no effect. A message is sent with a nonce Discord deduplicates
  (`enforce_nonce`), and a hub post's message id is recorded, so it is edited, not sent again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model

from models import audit
from models.actor import SYSTEM
from models.auth import now
from models.outbox import MAX_BACKOFF

if TYPE_CHECKING:
    from models.hubs import Hub


class ActionKind(StrEnum):
    ADD_ROLE = "add_role"
    REMOVE_ROLE = "remove_role"
    NICKNAME = "nickname"
    # A message in a channel: the audit log forwarded to staff, or a hub post (payload
    # "post": its PostedMessage), which is sent, or edited once it has a message.
    POST = "post"
    DELETE_POST = "delete_post"  # delete a hub post's message


# Give and take of the same role cancel out while neither has been sent.
OPPOSITE = {
    ActionKind.ADD_ROLE: ActionKind.REMOVE_ROLE,
    ActionKind.REMOVE_ROLE: ActionKind.ADD_ROLE,
}


# A failed try of these may still have reached Discord (a message sent, its answer lost), so a
# retry is never skipped for a newer action on the same target: it learns the message id.
MAY_HAVE_REACHED = frozenset({ActionKind.POST})


class ActionStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # a permanent error (e.g. 403): tried once, surfaced in the audit log
    CANCELLED = "cancelled"  # superseded or cancelled out by a later action on the same target


class DiscordAction(Model):
    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="discord_actions")
    guild_id = fields.BigIntField()
    kind = fields.CharEnumField(ActionKind, max_length=16)
    # What the action is about; actions with the same key replace each other (empty: none).
    target_key = fields.CharField(max_length=96, default="")
    discord_user_id = fields.BigIntField(null=True)
    role_id = fields.BigIntField(null=True)
    channel_id = fields.BigIntField(null=True)
    payload = fields.JSONField(default=dict)  # nickname, message content, audit reason
    status = fields.CharEnumField(ActionStatus, default=ActionStatus.PENDING, max_length=16)
    attempts = fields.IntField(default=0)
    due_at = fields.DatetimeField()
    claimed_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    done_at = fields.DatetimeField(null=True)

    class Meta:
        table = "discord_actions"
        indexes = (("status", "guild_id", "due_at"), ("guild_id", "target_key", "status"))


def _untried() -> Q:
    """Never claimed by a bot: it cannot have reached Discord, so a newer action may replace
    it. (A tried one may have: a post sent just before a crash must learn its message id,
    through its nonce, before an edit or delete of it runs.)"""
    return Q(claimed_until__isnull=True, attempts=0)


def role_key(discord_user_id: int, role_id: int) -> str:
    return f"role:{discord_user_id}:{role_id}"


async def enqueue(
    hub_id: int,
    guild_id: int,
    kind: ActionKind,
    *,
    target_key: str = "",
    discord_user_id: int | None = None,
    role_id: int | None = None,
    channel_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> DiscordAction | None:
    """Queue an action; call inside the transaction of the change that causes it.

    Returns None when nothing needs sending: the same action is already waiting, or this one
    cancels out a waiting opposite one.
    """
    if target_key:
        waiting = await DiscordAction.filter(
            _untried(), guild_id=guild_id, target_key=target_key, status=ActionStatus.PENDING
        ).order_by("-id")
        if waiting:
            latest = waiting[0]
            same = latest.kind == kind and latest.payload == (payload or {})
            # Everything older than the latest was superseded already; cancel what is left.
            ids = [row.id for row in (waiting[1:] if same else waiting)]
            # Conditional: a row a bot claimed meanwhile is in flight and is not cancelled;
            # then this action cannot count on it having cancelled out, and is queued.
            cancelled = await DiscordAction.filter(
                _untried(), id__in=ids, status=ActionStatus.PENDING
            ).update(status=ActionStatus.CANCELLED)
            if cancelled == len(ids) and (same or OPPOSITE.get(latest.kind) == kind):
                return None
    return await DiscordAction.create(
        hub_id=hub_id,
        guild_id=guild_id,
        kind=kind,
        target_key=target_key,
        discord_user_id=discord_user_id,
        role_id=role_id,
        channel_id=channel_id,
        payload=payload or {},
        due_at=now(),
    )


async def enqueue_role(
    hub_id: int, guild_id: int, discord_user_id: int, role_id: int, *, add: bool, reason: str = ""
) -> DiscordAction | None:
    """Give (`add`) or take a Discord role of a member of the guild."""
    return await enqueue(
        hub_id,
        guild_id,
        ActionKind.ADD_ROLE if add else ActionKind.REMOVE_ROLE,
        target_key=role_key(discord_user_id, role_id),
        discord_user_id=discord_user_id,
        role_id=role_id,
        payload={"reason": reason[:400]} if reason else {},
    )


async def follow_role(
    hub: Hub, discord_user_id: int | None, role_id: int, *, add: bool, reason: str = ""
) -> DiscordAction | None:
    """A hub change a member's Discord role follows (hub roles, ranks): queued, or nothing
    for a hub without a Discord server or a user without a Discord account."""
    if hub.guild_id is None or discord_user_id is None:
        return None
    return await enqueue_role(
        hub.id, hub.guild_id, discord_user_id, role_id, add=add, reason=reason
    )


async def recently_sent(guild_id: int, target_key: str, kind: ActionKind, within: float) -> bool:
    """Whether this very action is waiting or was carried out in the last `within` seconds.

    The bot sees its own role changes come back as member updates: those are not hand-made.
    """
    return await DiscordAction.filter(
        Q(status=ActionStatus.PENDING)
        | Q(status=ActionStatus.DONE, done_at__gte=now() - timedelta(seconds=within)),
        guild_id=guild_id,
        target_key=target_key,
        kind=kind,
    ).exists()


async def claim_due(
    guild_ids: Iterable[int], limit: int = 20, lease: int = 60
) -> list[DiscordAction]:
    """Claim due actions of these guilds (the ones this bot process serves), oldest first.

    Only the oldest waiting action of each target is claimed, so a retried older action never
    lands after a newer one on the same target.
    """
    guilds = list(guild_ids)
    if not guilds:
        return []
    current = now()
    candidates = (
        await DiscordAction.filter(
            status=ActionStatus.PENDING, guild_id__in=guilds, due_at__lte=current
        )
        .order_by("id")
        .limit(limit * 3)
    )
    claimed: list[DiscordAction] = []
    seen: set[tuple[int, str]] = set()
    for action in candidates:
        key = (action.guild_id, action.target_key)
        if action.target_key and key in seen:
            continue
        seen.add(key)
        if action.claimed_until is not None and action.claimed_until > current:
            continue
        until = current + timedelta(seconds=lease)
        won = await DiscordAction.filter(
            id=action.id, status=ActionStatus.PENDING, claimed_until=action.claimed_until
        ).update(claimed_until=until, attempts=action.attempts + 1)
        if won:
            action.claimed_until, action.attempts = until, action.attempts + 1
            claimed.append(action)
        if len(claimed) >= limit:
            break
    return claimed


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    # Capped as the outbox's waits are: after an outage, actions resume within 5 minutes.
    wait = retry_after if retry_after is not None else min(2**attempts, MAX_BACKOFF)
    return timedelta(seconds=wait)


async def mark_done(action: DiscordAction) -> None:
    await DiscordAction.filter(id=action.id).update(
        status=ActionStatus.DONE, done_at=now(), claimed_until=None, last_error=""
    )


async def mark_retry(action: DiscordAction, error: str, retry_after: float | None = None) -> None:
    if (
        action.target_key
        and action.kind not in MAY_HAVE_REACHED
        and await DiscordAction.filter(
            guild_id=action.guild_id,
            target_key=action.target_key,
            status=ActionStatus.PENDING,
            id__gt=action.id,
        ).exists()
    ):
        # A newer action on the same target waits: it decides the outcome, this one is moot.
        await DiscordAction.filter(id=action.id).update(
            status=ActionStatus.CANCELLED, last_error=error[:500], claimed_until=None
        )
        return
    await DiscordAction.filter(id=action.id).update(
        last_error=error[:500],
        due_at=now() + backoff(action.attempts, retry_after),
        claimed_until=None,
    )


async def mark_failed(action: DiscordAction, error: str) -> None:
    """A permanent failure: not retried, and staff read why in the hub's audit log."""
    await DiscordAction.filter(id=action.id).update(
        status=ActionStatus.FAILED, last_error=error[:500], claimed_until=None, done_at=now()
    )
    details: dict[str, Any] = {"kind": str(action.kind), "error": error[:500]}
    for name in ("discord_user_id", "role_id", "channel_id"):
        value = getattr(action, name)
        if value is not None:
            details[name] = str(value)
    if action.kind in (ActionKind.POST, ActionKind.DELETE_POST) and "post" in action.payload:
        from models.posts.delivery import failed

        await failed(action, error)  # the destination shows staff why
    await audit.record(
        SYSTEM,
        "discord.action_failed",
        hub_id=action.hub_id,
        target=str(action.id),
        details=details,
        # A failed post to an audit channel is not posted there again (it would fail again).
        forward=action.kind != ActionKind.POST or "post" in action.payload,
    )
