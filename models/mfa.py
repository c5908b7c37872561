"""Two-factor authentication: TOTP codes and single-use recovery codes."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class RecoveryCode(Model):
    """One single-use recovery code, stored hashed."""

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("drivershub.User", related_name="recovery_codes")
    code_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "recovery_codes"
