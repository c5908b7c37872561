"""A notification for every member of a hub, or of one of its roles (e.g. 10,000 people).

`broadcast` only writes a `Broadcast` row in the caller's transaction. A worker in every
process (`fan_out`) claims pending broadcasts with a lease and writes the notifications in
batches, each batch in one transaction that also moves the broadcast's cursor (the last
member id done): a batch is written whole or not at all, so after a crash the next claim
goes on from the cursor and nobody gets a second copy ((broadcast, user) is also unique).
Between batches the loop yields, so requests keep being answered while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import audit, plugins, sql
from models.actor import Actor
from models.auth import now
from models.commit import after_commit
from models.errors import NotFound
from models.hubs import Hub
from models.i18n import N_
from models.members.tables import MemberRole, MemberState, Role
from models.notifications import live
from models.notifications.center import (
    DIGEST,
    KEY,
    Limits,
    _wanted,
    choices,
    untried_digests,
)
from models.notifications.tables import (
    Broadcast,
    BroadcastStatus,
    DmState,
    Notification,
)
from models.outbox import OutboxItem, OutboxKind
from models.text import Text
from models.users import User

log = logging.getLogger(__name__)

BATCH = 1000  # members per transaction
LEASE = timedelta(seconds=60)
# Set when a broadcast commits in this process, so its fan-out starts at once (made by the
# worker, in its own loop).
_pending: asyncio.Event | None = None


def _wake() -> None:
    if _pending is not None:
        _pending.set()


async def broadcast(
    hub: Hub, kind: str, data: Mapping[str, Any] | None = None, *, role_id: int | None = None
) -> Broadcast:
    """Tell every member of `hub` (with `role_id`: those holding that hub role); call inside
    the transaction of the change that causes it. The fan-out runs after the commit."""
    if kind not in plugins.notification_kinds():
        raise ValueError(f"no package declares the notification kind {kind!r}")
    if role_id is not None and not await Role.filter(id=role_id, hub_id=hub.id).exists():
        raise ValueError(f"role {role_id} is not a role of hub {hub.id}")
    row = await Broadcast.create(hub_id=hub.id, kind=kind, data=dict(data or {}), role_id=role_id)
    after_commit(_wake)
    return row


# Staff notices: a text staff write once for every member (or a role), shown as written.

NOTICE = "hub.notice"
SEND_NOTICES = "send_notices"


class NoticeInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Text(200) = Field(min_length=1)  # type: ignore[valid-type]
    text: Text(2000) = Field(min_length=1)  # type: ignore[valid-type]
    role_id: int | None = Field(
        default=None, gt=0, lt=2**63, description="Only members holding this hub role."
    )


class NoticeView(BaseModel):
    id: int
    role_id: int | None
    status: str = Field(description="pending while it is being delivered, then done.")
    delivered: int = Field(description="Members it was shown to so far.")
    created_at: datetime


def notice_view(row: Broadcast) -> NoticeView:
    return NoticeView(
        id=row.id,
        role_id=row.role_id,
        status=str(row.status),
        delivered=row.delivered,
        created_at=row.created_at,
    )


async def send_notice(actor: Actor, hub: Hub, data: NoticeInput) -> Broadcast:
    """Notify every member of the hub (or of one role) of a text staff wrote."""
    await plugins.enter(actor, hub, KEY, SEND_NOTICES, write=True)
    if data.role_id is not None and not await Role.filter(id=data.role_id, hub_id=hub.id).exists():
        raise NotFound(N_("That role does not exist."), code="role_not_found")
    async with in_transaction():
        row = await broadcast(
            hub,
            NOTICE,
            {"hub": hub.name, "title": data.title, "text": data.text},
            role_id=data.role_id,
        )
        await audit.record(
            actor,
            "notifications.notice",
            hub=hub,
            target=str(row.id),
            details={"title": data.title, "role_id": data.role_id},
        )
    return row


async def notice(actor: Actor, hub: Hub, notice_id: int) -> Broadcast:
    """A notice of this hub (how far its delivery got)."""
    await plugins.enter(actor, hub, KEY, SEND_NOTICES, write=False)
    row = await Broadcast.get_or_none(id=notice_id, hub_id=hub.id, kind=NOTICE)
    if row is None:
        raise NotFound(N_("That notice does not exist."), code="notice_not_found")
    return row


async def _claim() -> Broadcast | None:
    current = now()
    candidates = (
        await Broadcast.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=current),
            status=BroadcastStatus.PENDING,
        )
        .order_by("id")
        .limit(5)
    )
    for row in candidates:
        won = await Broadcast.filter(id=row.id, claimed_until=row.claimed_until).update(
            claimed_until=current + LEASE
        )
        if won:
            return row
    return None


async def fan_out() -> int:
    """Deliver every pending broadcast this process can claim; notifications written."""
    written = 0
    while (row := await _claim()) is not None:
        written += await _deliver(row)
    return written


async def _deliver(row: Broadcast) -> int:
    written = 0
    role = await Role.get_or_none(id=row.role_id) if row.role_id is not None else None
    while True:
        try:
            async with in_transaction():
                done, users = await _batch(row, role)
        except LeaseLost:
            log.warning("broadcast %s was taken over by another process", row.id)
            return written
        written += len(users)
        if users:
            live.wake(users)  # committed above: streams may read them now
        if done:
            return written
        # Renew the lease between batches (a long broadcast is still ours) and let the
        # loop answer what else is waiting.
        await Broadcast.filter(id=row.id).update(claimed_until=now() + LEASE)
        await asyncio.sleep(0)


MEMBERS_SQL = (
    "SELECT id, user_id, discord_role_ids FROM members WHERE hub_id = ? AND state = ?"
    " AND id > ? ORDER BY id LIMIT ?"
)


async def _batch(row: Broadcast, role: Role | None) -> tuple[bool, list[int]]:
    """One batch in the caller's transaction: its notifications, the cursor moved on."""
    members = await sql.fetch(MEMBERS_SQL, [row.hub_id, str(MemberState.MEMBER), row.cursor, BATCH])
    if not members:
        await Broadcast.filter(id=row.id).update(
            status=BroadcastStatus.DONE, done_at=now(), claimed_until=None
        )
        return True, []
    chosen = members if row.role_id is None else await _holding(members, role)
    users = await _write(row, [m["user_id"] for m in chosen])
    last = len(members) < BATCH
    changes: dict[str, Any] = {"cursor": members[-1]["id"], "delivered": row.delivered + len(users)}
    if last:
        changes.update(status=BroadcastStatus.DONE, done_at=now(), claimed_until=None)
    # Conditional on the cursor read: if another process took the broadcast over (our lease
    # ran out), this batch is rolled back instead of written twice.
    if not await Broadcast.filter(id=row.id, cursor=row.cursor).update(**changes):
        raise LeaseLost(row.id)
    row.cursor, row.delivered = changes["cursor"], changes["delivered"]
    return last, users


class LeaseLost(Exception):
    """Another process moved the broadcast on: this one stops delivering it."""


async def _holding(members: list[dict[str, Any]], role: Role | None) -> list[dict[str, Any]]:
    """The members of a batch holding the role: given in the hub, or through its Discord role."""
    if role is None:  # the role was deleted since: nobody holds it
        return []
    ids = [m["id"] for m in members]
    given = set(
        await MemberRole.filter(role_id=role.id, member_id__in=ids).values_list(
            "member_id", flat=True
        )
    )
    linked = role.discord_role_id

    def holds(member: dict[str, Any]) -> bool:
        if member["id"] in given:
            return True
        discord_roles = sql.as_json(member["discord_role_ids"]) or []
        return linked is not None and linked in {int(r) for r in discord_roles}

    return [m for m in members if holds(m)]


async def _write(row: Broadcast, user_ids: Iterable[int]) -> list[int]:
    """The notifications of one batch, with preferences applied, and their DM items."""
    spec = plugins.notification_kinds().get(row.kind)
    users = list(dict.fromkeys(user_ids))
    if spec is None or not users:
        return []
    chosen = await choices(users, row.kind)
    active = User.filter(id__in=users, is_active=True).values_list("id", "discord_id")
    discord_ids = dict(await active)
    notes, dm_users, shown = [], {}, []
    for user_id in users:
        if user_id not in discord_ids:
            continue
        wanted = _wanted(spec, chosen.get(user_id, {}))
        dm = wanted["discord"] and discord_ids[user_id] is not None
        if not (wanted["in_app"] or dm):
            continue  # e-mail is not offered for broadcasts (see the README)
        notes.append(
            Notification(
                user_id=user_id,
                hub_id=row.hub_id,
                kind=row.kind,
                data=row.data,
                in_app=wanted["in_app"],
                dm_state=DmState.WAITING if dm else DmState.NONE,
                broadcast_id=row.id,
            )
        )
        if wanted["in_app"]:
            shown.append(user_id)
        if dm:
            dm_users[user_id] = discord_ids[user_id]
    await Notification.bulk_create(notes, batch_size=500)
    await _digests(dm_users)
    return shown


async def _digests(dm_users: Mapping[int, int]) -> None:
    """A DM item for each user who has no untried one (as `center.digest_for`, batched)."""
    if not dm_users:
        return
    current = now()
    covered = set(await untried_digests(list(dm_users)).values_list("user_id", flat=True))
    due = current + Limits.dm_window
    items = [
        OutboxItem(
            kind=OutboxKind.DISCORD_DM,
            template=DIGEST,
            params={},
            user_id=user_id,
            address=str(discord_id),
            due_at=due,
        )
        for user_id, discord_id in dm_users.items()
        if user_id not in covered
    ]
    await OutboxItem.bulk_create(items, batch_size=500)


async def run_forever(interval: float = 5.0) -> None:
    """The fan-out worker: woken by a broadcast committed here, else every `interval`
    (broadcasts made by other processes, and ones a crashed process left half done)."""
    global _pending
    _pending = pending = asyncio.Event()
    while True:
        pending.clear()
        try:
            await fan_out()
        except Exception:  # the database may be briefly away; keep going
            log.exception("broadcast fan-out failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pending.wait(), interval)
