"""The downloads package's tables: the hub's items (an external link or an uploaded file)
and the short-lived links members download them through."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

TITLE_LENGTH = 200
DESCRIPTION_LENGTH = 4000
URL_LENGTH = 1000
FILE_NAME_LENGTH = 200
CONTENT_TYPE_LENGTH = 100


class Download(Model):
    """Something members download: an external `url`, or an uploaded file (`file_key` in the
    file store). An item with neither (a file not uploaded yet) is shown to staff only.
    Every member sees it unless `role_ids` names hub roles: then only their holders."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="downloads")
    title = fields.CharField(max_length=TITLE_LENGTH)
    description = fields.TextField(default="")  # markdown
    description_html = fields.TextField(default="")  # cleaned, made when it is written
    url = fields.CharField(max_length=URL_LENGTH, default="")
    file_key = fields.CharField(max_length=64, default="")
    file_name = fields.CharField(max_length=FILE_NAME_LENGTH, default="")
    file_size = fields.BigIntField(default=0)
    file_sha256 = fields.CharField(max_length=64, default="")
    content_type = fields.CharField(max_length=CONTENT_TYPE_LENGTH, default="")
    role_ids = fields.JSONField(default=list)  # hub role ids; empty: every member
    pinned = fields.BooleanField(default=False)
    pin_rank = fields.IntField(default=0)  # 1 when pinned: the lists' first sort key
    position = fields.IntField(default=0)  # staff's order (smaller first)
    clicks = fields.BigIntField(default=0)  # downloads, one per link used
    created_by = fields.ForeignKeyField(
        "drivershub.User", related_name="downloads", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "downloads"
        indexes = (("hub_id", "pin_rank", "position", "id"),)


class DownloadLink(Model):
    """A member's link to one item, usable by anyone who holds it until it expires (so
    download managers and HEAD probes work) and counted once. Only the token's hash is
    stored."""

    id = fields.BigIntField(primary_key=True)
    download = fields.ForeignKeyField(
        "drivershub.Download", related_name="links", on_delete=fields.CASCADE
    )
    user = fields.ForeignKeyField(
        "drivershub.User", related_name="download_links", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField(db_index=True)
    counted = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "download_links"
