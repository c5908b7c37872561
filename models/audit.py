"""The audit log: who did what, when, in which hub."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.actor import Actor


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
    hub_id: int | None = None,
    target: str = "",
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Write one audit entry; call it inside the transaction of the change it describes."""
    return await AuditLog.create(
        hub_id=hub_id,
        actor_id=actor.user_id,
        action=action,
        target=target[:128],
        details=details or {},
        ip=actor.ip[:64],
    )
