"""What the bot reads and records while it carries out a hub post (bot/discord_actions.py).

The message id is recorded as soon as Discord answers, so a later action on the same record
(an edit, a delete, or this action retried after a crash) edits or deletes that message
instead of posting another one.
"""

from __future__ import annotations

from dataclasses import dataclass

from models import encryption
from models.discord_actions import DiscordAction
from models.posts.schemas import parse_webhook
from models.posts.tables import PostDestination, PostedMessage, PostState
from models.posts.templates import cut

ERROR_LENGTH = 500


@dataclass(frozen=True)
class Delivery:
    record: PostedMessage
    destination: PostDestination
    webhook: tuple[int, str] | None  # the webhook's id and token; None: a channel post

    @property
    def message_id(self) -> int | None:
        return self.record.message_id


async def delivery_of(action: DiscordAction) -> Delivery | None:
    """The record an action is about, with its destination; None when it is gone (the
    destination was deleted, or the hub with it)."""
    record = await PostedMessage.get_or_none(id=action.payload.get("post")).select_related(
        "destination"
    )
    if record is None:
        return None
    row = record.destination
    webhook = parse_webhook(encryption.unseal(row.webhook_url)) if row.webhook_url else None
    return Delivery(record, row, webhook)


async def posted(delivery: Delivery, message_id: int, channel_id: int | None) -> None:
    """Discord has the message: later actions edit or delete this one."""
    await PostedMessage.filter(id=delivery.record.id).update(
        message_id=message_id, channel_id=channel_id, state=PostState.POSTED
    )
    if delivery.destination.last_error:  # it works again
        await PostDestination.filter(id=delivery.destination.id).update(last_error="")


async def continued(delivery: Delivery, message_ids: list[int]) -> None:
    """The messages that carry on the post's text now (recorded as each is sent)."""
    await PostedMessage.filter(id=delivery.record.id).update(extra_message_ids=message_ids)
    delivery.record.extra_message_ids = message_ids


async def not_crossposted(delivery: Delivery, error: str) -> None:
    """The post is in the channel but not published to following servers: staff see why on
    the destination (the post itself is not retried for it)."""
    text = f"not published to following servers: {error}"
    await PostDestination.filter(id=delivery.destination.id).update(
        last_error=cut(text, ERROR_LENGTH)
    )


async def gone(delivery: Delivery) -> None:
    """The message is not in Discord (deleted by us or by someone there)."""
    await PostedMessage.filter(id=delivery.record.id).update(state=PostState.DELETED)


async def failed(action: DiscordAction, error: str) -> None:
    """A post that cannot be made (channel gone, permission missing): staff see why on the
    destination; the record is failed unless a message exists already."""
    record_id = action.payload.get("post")
    record = await PostedMessage.get_or_none(id=record_id) if record_id else None
    if record is None:
        return
    if record.message_id is None:
        await PostedMessage.filter(id=record.id).update(state=PostState.FAILED)
    await PostDestination.filter(id=record.destination_id).update(
        last_error=cut(error, ERROR_LENGTH)
    )
