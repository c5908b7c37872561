"""The shoutbox's table, in its own Tortoise app ("shoutbox") with its own migrations."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

MAX_LENGTH = 200


class Shout(Model):
    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="shouts")
    author = fields.ForeignKeyField(
        "drivershub.User", related_name="shouts", null=True, on_delete=fields.SET_NULL
    )
    text = fields.CharField(max_length=MAX_LENGTH)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "shoutbox_shouts"
        ordering = ("-id",)
