"""The hub posts package's tables: where each trigger is posted, and what was posted."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

ERROR_LENGTH = 500
SOURCE_LENGTH = 64


class Audience(StrEnum):
    """Who reads a destination: members-only items never reach a public one."""

    PUBLIC = "public"
    MEMBERS = "members"


class PostDestination(Model):
    """One place a trigger is posted to: a channel (the bot posts) or a webhook URL."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="post_destinations")
    trigger = fields.CharField(max_length=64)
    channel_id = fields.BigIntField(null=True)
    # The webhook URL is a secret (its token lets anyone post): stored sealed
    # (models.encryption), shown to staff by the webhook's id only.
    webhook_url = fields.TextField(null=True)
    webhook_id = fields.BigIntField(null=True)
    content = fields.TextField(default="")
    embed = fields.JSONField(default=dict)  # EmbedTemplate fields; empty: no embed
    audience = fields.CharEnumField(Audience, default=Audience.PUBLIC, max_length=8)
    enabled = fields.BooleanField(default=True)
    # In an announcement channel: publish each post to the servers following the channel.
    crosspost = fields.BooleanField(default=False)
    # Why the last post failed for good (channel gone, permission missing); cleared by a
    # successful post or by staff changing the destination.
    last_error = fields.CharField(max_length=ERROR_LENGTH, default="")
    created_by = fields.ForeignKeyField(
        "drivershub.User", related_name="post_destinations", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "post_destinations"
        # emit() reads the enabled destinations of one trigger in one hub.
        indexes = (("hub_id", "trigger", "enabled"),)


class PostState(StrEnum):
    PENDING = "pending"  # queued: no message in Discord yet
    POSTED = "posted"  # `message_id` is the message
    DELETED = "deleted"  # deleted by us, or found gone in Discord
    FAILED = "failed"  # could not be posted (the destination shows why)


class PostedMessage(Model):
    """A message posted (or to be posted) for a source object at one destination, so edits
    and deletes of the source find it. The bot records `message_id` once it is sent."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="posted_messages")
    destination = fields.ForeignKeyField(
        "drivershub.PostDestination", related_name="messages", on_delete=fields.CASCADE
    )
    source = fields.CharField(max_length=SOURCE_LENGTH)  # "member:123", "announcement:7"
    channel_id = fields.BigIntField(null=True)
    message_id = fields.BigIntField(null=True)
    # A text too long for one message goes on in more messages after it (their ids, in
    # order), edited and deleted with it.
    extra_message_ids = fields.JSONField(default=list)
    state = fields.CharEnumField(PostState, default=PostState.PENDING, max_length=8)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "posted_messages"
        indexes = (("hub_id", "source"),)
