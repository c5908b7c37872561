"""The audit log: who did what, when, in which hub."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models import sql
from models.actor import Actor

if TYPE_CHECKING:
    from models.hubs import Hub


class AuditLog(Model):
    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="audit_log", null=True)
    actor = fields.ForeignKeyField("drivershub.User", related_name="audit_log", null=True)
    action = fields.CharField(max_length=64)
    target = fields.CharField(max_length=128, default="")
    details = fields.JSONField(default=dict)
    ip = fields.CharField(max_length=64, default="")  # the client's address (web.clientip rule)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "audit_log"
        ordering = ("-id",)


async def record(
    actor: Actor,
    action: str,
    *,
    hub: Hub | None = None,
    hub_id: int | None = None,
    target: str = "",
    details: dict[str, Any] | None = None,
    forward: bool = True,
) -> AuditLog:
    """Write one audit entry; call it inside the transaction of the change it describes.

    A hub entry (`hub`, or only its id) is also forwarded to the Discord channel staff chose
    for its category; given the hub, forwarding reads nothing more.
    """
    if hub is not None:
        hub_id = hub.id
    # Every audited change writes one: written out (models.sql), encoded as the ORM does.
    encode = AuditLog._meta.fields_map["details"].encoder
    rows = await sql.fetch(
        "INSERT INTO audit_log (hub_id, actor_id, action, target, details, ip, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
        [
            hub_id,
            actor.user_id,
            action,
            target[:128],
            encode(details or {}),
            actor.ip[:64],
            datetime.now(UTC),
        ],
    )
    entry = sql.instance(AuditLog, rows[0])
    if hub_id is not None and forward:
        await _forward(entry, hub)
    return entry


def category(action: str) -> str:
    """An entry's category: the first part of its action ("members" for "members.accepted")."""
    return action.split(".", 1)[0]


async def _forward(entry: AuditLog, hub: Hub | None) -> None:
    """Queue a post of the entry in the hub's audit channel for its category, if any."""
    from models import discord_actions, plugins
    from models.hubs import Hub

    if hub is None:
        hub = await Hub.get_or_none(id=entry.hub_id).only("id", "guild_id", "settings", "plugins")
    if hub is None or hub.guild_id is None:
        return
    channels = plugins.settings_of(hub, "members").audit_channels
    channel = channels.get(category(entry.action)) or hub.hub_settings.audit_channel_id
    if channel is None:
        return
    await discord_actions.enqueue(
        hub.id,
        hub.guild_id,
        discord_actions.ActionKind.POST,
        channel_id=channel,
        payload={"audit_id": entry.id},
    )
