"""The announcements package's tables: the hub's announcement types (who may publish each)
and the announcements, stored as markdown."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

TITLE_LENGTH = 200
BODY_LENGTH = 6000
KEY_LENGTH = 32
TYPE_NAME_LENGTH = 64
IMAGE_URL_LENGTH = 500


class Visibility(StrEnum):
    PUBLIC = "public"
    MEMBERS = "members"  # members only: hidden from visitors and strangers, never posted publicly


class AnnouncementType(Model):
    """A kind of announcement (news, event, maintenance...): holders of its publisher roles
    may publish it; holders of manage_announcements publish every type."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="announcement_types")
    key = fields.CharField(max_length=KEY_LENGTH)
    name = fields.CharField(max_length=TYPE_NAME_LENGTH)
    publisher_role_ids = fields.JSONField(default=list)  # hub role ids
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "announcement_types"
        unique_together = (("hub", "key"),)


class Announcement(Model):
    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="announcements")
    type = fields.ForeignKeyField(
        "drivershub.AnnouncementType", related_name="announcements", on_delete=fields.RESTRICT
    )
    title = fields.CharField(max_length=TITLE_LENGTH)
    body = fields.TextField()  # markdown
    # The body as cleaned HTML, made when it is written (not on every read of a list).
    body_html = fields.TextField(default="")
    visibility = fields.CharEnumField(Visibility, default=Visibility.PUBLIC, max_length=16)
    pinned = fields.BooleanField(default=False)
    pin_rank = fields.IntField(default=0)  # 1 when pinned: the list's first sort key (keyset)
    image_url = fields.CharField(max_length=IMAGE_URL_LENGTH, default="")
    ping_role = fields.ForeignKeyField(
        "drivershub.Role", related_name="announcement_pings", null=True, on_delete=fields.SET_NULL
    )
    # When readers see it (now, or a scheduled time); `published` once its notifications
    # and Discord posts went out (exactly once: a conditional update claims it).
    publish_at = fields.DatetimeField()
    published = fields.BooleanField(default=False)
    author = fields.ForeignKeyField(
        "drivershub.User", related_name="announcements", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "announcements"
        # The list: pinned first, then newest (keyset pages over these columns).
        indexes = (("hub_id", "pin_rank", "publish_at", "id"), ("published", "publish_at"))
