"""The points package's tables: the ledger, the totals and period sums kept from it, the rank
ladder and daily bonus claims."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.i18n import N_

REASON_LENGTH = 500
# No single entry moves more than this (a typo of a few zeros is refused, not booked).
MAX_AMOUNT = 10_000_000


class PointKind(StrEnum):
    DISTANCE = "distance"
    EVENT = "event"
    CHALLENGE = "challenge"
    DIVISION = "division"
    BONUS = "bonus"
    MANUAL = "manual"
    CORRECTION = "correction"


# How people read each kind (translated at render time).
KIND_LABELS: dict[PointKind, str] = {
    PointKind.DISTANCE: N_("Distance"),
    PointKind.EVENT: N_("Events"),
    PointKind.CHALLENGE: N_("Challenges"),
    PointKind.DIVISION: N_("Divisions"),
    PointKind.BONUS: N_("Bonus"),
    PointKind.MANUAL: N_("Manual"),
    PointKind.CORRECTION: N_("Correction"),
}

# The kind under which period sums of every kind are kept.
ALL = "all"


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class PointEntry(Model):
    """One row of the ledger: never edited, never deleted (a correction is another row)."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="point_entries")
    member = fields.ForeignKeyField("drivershub.Member", related_name="point_entries")
    kind = fields.CharEnumField(PointKind, max_length=16)
    amount = fields.BigIntField()
    reason = fields.CharField(max_length=REASON_LENGTH, default="")
    # What earned it, e.g. "delivery:123" or "event:7" (empty for staff grants).
    source = fields.CharField(max_length=64, default="")
    # Set by packages that must book a source once: a second booking is refused by the index.
    dedupe_key = fields.CharField(max_length=96, null=True)
    actor = fields.ForeignKeyField(
        "drivershub.User", related_name="point_entries", null=True, on_delete=fields.SET_NULL
    )
    counts_at = fields.DatetimeField()  # when it counts (a job's delivery time, say)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "point_entries"
        unique_together = (("hub", "dedupe_key"),)
        indexes = (("member_id", "id"), ("hub_id", "counts_at"))


class PointTotal(Model):
    """A member's all-time total of one kind (their overall total is `Member.points`)."""

    id = fields.BigIntField(primary_key=True)
    member = fields.ForeignKeyField("drivershub.Member", related_name="point_totals")
    kind = fields.CharEnumField(PointKind, max_length=16)
    total = fields.BigIntField(default=0)

    class Meta:
        table = "point_totals"
        unique_together = (("member", "kind"),)


class PointPeriod(Model):
    """A member's sum of one kind (or `all`) in one day, week, month or year (hub time)."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="point_periods")
    member = fields.ForeignKeyField("drivershub.Member", related_name="point_periods")
    period = fields.CharEnumField(Period, max_length=8)
    start = fields.DateField()
    kind = fields.CharField(max_length=16)  # a PointKind or "all"
    amount = fields.BigIntField(default=0)

    class Meta:
        table = "point_periods"
        unique_together = (("member", "period", "start", "kind"),)
        # A leaderboard reads one period of one kind, best first.
        indexes = (("hub_id", "period", "start", "kind", "amount"),)


class Rank(Model):
    """A step of the hub's rank ladder: reached at `threshold` points (of `kinds`, or all)."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="ranks")
    name = fields.CharField(max_length=100)
    color = fields.IntField(default=0)
    threshold = fields.BigIntField()
    kinds = fields.JSONField(default=list)  # empty: the overall total
    discord_role_id = fields.BigIntField(null=True)
    daily_bonus = fields.IntField(default=0)  # points a daily bonus claim gives at this rank
    distance_bonus = fields.IntField(default=0)  # percent added to distance points
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ranks"
        unique_together = (("hub", "name"), ("hub", "threshold"))


class BonusClaim(Model):
    """A member's daily bonus on one day of their calendar: one per day (the unique index)."""

    id = fields.BigIntField(primary_key=True)
    member = fields.ForeignKeyField("drivershub.Member", related_name="bonus_claims")
    day = fields.DateField()
    amount = fields.BigIntField()
    streak = fields.IntField(default=1)
    entry = fields.ForeignKeyField(
        "drivershub.PointEntry", related_name="bonus_claim", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "bonus_claims"
        unique_together = (("member", "day"),)
