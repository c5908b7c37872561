"""The notifications package's tables: notifications, preferences, and broadcasts."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class DmState(StrEnum):
    NONE = "none"  # not for Discord
    WAITING = "waiting"  # for Discord, not yet taken by a DM
    TAKEN = "taken"  # carried by the DM outbox item `dm_item_id` (sent, or being sent)


class Notification(Model):
    """One thing one person is told. Rendered in the reader's language when read or sent."""

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("drivershub.User", related_name="notifications")
    # Null for security notices, which belong to the account, not to a hub.
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="notifications", null=True)
    kind = fields.CharField(max_length=64)
    data = fields.JSONField(default=dict)
    # False when the reader muted the kind in the app but still gets it by DM or e-mail.
    in_app = fields.BooleanField(default=True)
    read_at = fields.DatetimeField(null=True)
    dm_state = fields.CharEnumField(DmState, default=DmState.NONE, max_length=8)
    dm_item_id = fields.BigIntField(null=True)
    # The broadcast that made it: (broadcast, user) is unique, so a fan-out batch that runs
    # twice after a crash gives nobody a second copy.
    broadcast_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "notifications"
        unique_together = (("broadcast_id", "user_id"),)
        indexes = (
            ("user_id", "in_app", "read_at"),
            ("user_id", "dm_state"),
            ("created_at",),
        )


class NotificationPreference(Model):
    """A reader's choice for one kind (or "*": every kind) on one channel."""

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("drivershub.User", related_name="notification_preferences")
    kind = fields.CharField(max_length=64)
    channel = fields.CharField(max_length=16)
    enabled = fields.BooleanField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "notification_preferences"
        unique_together = (("user_id", "kind", "channel"),)


class BroadcastStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"


class Broadcast(Model):
    """A notification for every member of a hub (or of one of its roles), fanned out in
    batches by a worker: `cursor` is the last member id done, moved in the batch's transaction."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="broadcasts")
    role_id = fields.BigIntField(null=True)  # a hub role; null: every member
    kind = fields.CharField(max_length=64)
    data = fields.JSONField(default=dict)
    status = fields.CharEnumField(BroadcastStatus, default=BroadcastStatus.PENDING, max_length=8)
    cursor = fields.BigIntField(default=0)
    delivered = fields.IntField(default=0)
    claimed_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    done_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification_broadcasts"
        indexes = (("status", "id"),)
