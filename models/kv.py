"""Small process-wide values that must survive restarts (e.g. the synced command hash)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class KeyValue(Model):
    key = fields.CharField(max_length=128, primary_key=True)
    value = fields.TextField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "key_values"


async def get_value(key: str) -> str | None:
    row = await KeyValue.get_or_none(key=key)
    return row.value if row else None


async def set_value(key: str, value: str) -> None:
    await KeyValue.update_or_create(key=key, defaults={"value": value})
