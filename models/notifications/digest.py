"""Discord DMs of notifications: every notification waiting for a DM goes out in one message.

`notify` marks a notification WAITING and makes sure a DM outbox item (template DIGEST) is due
`Limits.dm_window` later. When the bot sends that item it first *takes* the waiting
notifications (a conditional update binds them to the item), then renders them. A retry of
the same item renders the same notifications again, so its text and nonce are the same and
Discord drops the repeat; nothing is sent twice and nothing waiting is left behind:

- a user's items are sent oldest first (a newer item waits while an older one is pending);
- after an item is sent, notifications that arrived meanwhile get an item of their own;
- `sweep` gives an item to any notification left waiting without one (a crash between the
  two writes, or an item taken at the very moment a notification was added).
"""

from __future__ import annotations

from datetime import timedelta

from tortoise.transactions import in_transaction

from models import outbox
from models.auth import now
from models.i18n import N_, translate
from models.notifications.center import DIGEST, Limits, digest_for, render
from models.notifications.tables import DmState, Notification
from models.outbox import OutboxItem, OutboxKind, OutboxStatus
from models.users import User

MESSAGE_LIMIT = 2000  # Discord's limit on a message's content
SHOWN = 10  # notifications written out in one DM; the rest are counted


class NotYet(outbox.Postpone):
    """An older DM of the same user is still pending: send this one after it."""


async def take(item: OutboxItem) -> list[Notification]:
    """The notifications `item` carries, binding the waiting ones on its first attempt."""
    older = await OutboxItem.filter(
        kind=OutboxKind.DISCORD_DM,
        template=DIGEST,
        user_id=item.user_id,
        status=OutboxStatus.PENDING,
        id__lt=item.id,
    ).exists()
    if older:
        raise NotYet(max(1.0, Limits.dm_window.total_seconds() / 2))
    taken = await Notification.filter(dm_item_id=item.id).order_by("id")
    if taken:
        # A retry (the first try may have reached Discord before a crash): exactly the
        # same notifications, so the same text and nonce; later ones wait for the next DM.
        return taken
    await Notification.filter(user_id=item.user_id, dm_state=DmState.WAITING).update(
        dm_state=DmState.TAKEN, dm_item_id=item.id
    )
    return await Notification.filter(dm_item_id=item.id).order_by("id")


async def text(item: OutboxItem, notes: list[Notification]) -> str:
    """The DM: each notification's title and body in the user's language, oldest first."""
    user = await User.get_or_none(id=item.user_id) if item.user_id else None
    locale = user.locale if user else None
    parts = []
    for note in notes[:SHOWN]:
        title, body = render(note.kind, note.data, locale)
        parts.append(f"**{title}**\n{body}".strip())
    if len(notes) > SHOWN:
        more = translate(N_("…and {count} more in your notifications."), locale)
        parts.append(more.format(count=len(notes) - SHOWN))
    message = "\n\n".join(parts)
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "…"


async def follow_up(item: OutboxItem) -> None:
    """After `item` was sent: notifications that arrived meanwhile get their own DM."""
    if item.user_id is None:
        return
    await _ensure_item(item.user_id, item.address, sent=item.id)


async def _ensure_item(user_id: int, address: str, sent: int | None = None) -> None:
    if not await Notification.filter(user_id=user_id, dm_state=DmState.WAITING).exists():
        return
    await digest_for(user_id, address, exclude=sent)


async def sweep() -> int:
    """Give a DM item to users whose waiting notifications have none (see the module doc)."""
    stale = now() - 2 * Limits.dm_window - timedelta(seconds=30)
    users = (
        await Notification.filter(dm_state=DmState.WAITING, created_at__lt=stale)
        .distinct()
        .values_list("user_id", flat=True)
    )
    made = 0
    for user_id in users:
        person = await User.get_or_none(id=user_id)
        async with in_transaction():
            if person is None or person.discord_id is None:
                await Notification.filter(user_id=user_id, dm_state=DmState.WAITING).update(
                    dm_state=DmState.NONE
                )
                continue
            await _ensure_item(user_id, str(person.discord_id))
            made += 1
    return made
