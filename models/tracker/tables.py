"""The tracker package's tables: each hub's tracker connections (secrets), the intake of
every webhook delivery as it arrived, the jobs made from them, and which tracker each
member drives with."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

ERROR_LENGTH = 1000
NAME_LENGTH = 200


class TrackerKind(StrEnum):
    TRACKSIM = "tracksim"
    TRUCKY = "trucky"
    TRUCKLINEMP = "trucklinemp"  # member and event webhooks only: no jobs
    CUSTOM = "custom"  # our documented format, for other trackers


class TrackerConnection(Model):
    """A hub's webhook from one tracker: the secret it signs with (sealed), the previous
    secret while a rotation is under way, and an optional list of sender addresses."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="tracker_connections")
    kind = fields.CharEnumField(TrackerKind, max_length=16)
    secret = fields.TextField()  # sealed (models.encryption)
    previous_secret = fields.TextField(default="")  # sealed; valid until previous_until
    previous_until = fields.DatetimeField(null=True)
    allowed_ips = fields.JSONField(default=list)  # addresses or networks; empty: any
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "tracker_connections"
        unique_together = (("hub", "kind"),)


class IntakeState(StrEnum):
    PENDING = "pending"  # stored and acknowledged; the worker turns it into a job
    DONE = "done"  # a job was made (or updated)
    IGNORED = "ignored"  # kept for later plugins, or an event that makes no job
    FAILED = "failed"  # `error` says why; staff may replay it


class TrackerIntake(Model):
    """One webhook delivery, stored before it is acknowledged and processed from here. The
    (hub, dedupe key) pair is unique, so a sender's retry of the same job changes nothing."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="tracker_intake")
    kind = fields.CharEnumField(TrackerKind, max_length=16)
    event = fields.CharField(max_length=64, default="")
    # "<kind>:job:<tracker job id>" for jobs, the delivery id for TrucklineMP; null for
    # what is recorded failed at the door (nothing to dedupe).
    dedupe_key = fields.CharField(max_length=128, null=True)
    payload = fields.TextField(default="")  # the body as it arrived (UTF-8)
    state = fields.CharEnumField(IntakeState, default=IntakeState.PENDING, max_length=8)
    error = fields.CharField(max_length=ERROR_LENGTH, default="")
    attempts = fields.IntField(default=0)
    lease_until = fields.DatetimeField(null=True)  # a worker holds it until then
    lease_token = fields.CharField(max_length=32, default="")  # which worker's claim
    received_at = fields.DatetimeField(auto_now_add=True)
    processed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "tracker_intake"
        unique_together = (("hub", "dedupe_key"),)
        indexes = (("state", "id"), ("hub_id", "state", "id"))


class JobStatus(StrEnum):
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class Job(Model):
    """A job as one model, whatever tracker reported it: distances in km, speeds in km/h,
    damage as a fraction, fuel in litres, money in the game's currency (EUR for ETS2, USD
    for ATS)."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="jobs")
    tracker = fields.CharEnumField(TrackerKind, max_length=16)
    tracker_job_id = fields.CharField(max_length=64)
    intake = fields.ForeignKeyField(
        "drivershub.TrackerIntake", related_name="jobs", null=True, on_delete=fields.SET_NULL
    )
    status = fields.CharEnumField(JobStatus, max_length=12)
    # Who drove: the member it counts for, or null with `unmatched` saying why.
    steam_id = fields.BigIntField(null=True)
    driver_name = fields.CharField(max_length=NAME_LENGTH, default="")
    user = fields.ForeignKeyField(
        "drivershub.User", related_name="jobs", null=True, on_delete=fields.SET_NULL
    )
    member = fields.ForeignKeyField(
        "drivershub.Member", related_name="jobs", null=True, on_delete=fields.SET_NULL
    )
    unmatched = fields.CharField(max_length=32, default="")  # why no member counts it
    game = fields.CharField(max_length=8)  # ets2 | ats
    currency = fields.CharField(max_length=3)  # EUR | USD
    market = fields.CharField(max_length=32, default="")
    multiplayer = fields.CharField(max_length=32, default="")  # "" single player
    server = fields.CharField(max_length=NAME_LENGTH, default="")
    truck = fields.CharField(max_length=NAME_LENGTH, default="")
    trailer = fields.CharField(max_length=NAME_LENGTH, default="")
    cargo = fields.CharField(max_length=NAME_LENGTH, default="")
    cargo_mass_kg = fields.FloatField(default=0)
    source_city = fields.CharField(max_length=NAME_LENGTH, default="")
    source_company = fields.CharField(max_length=NAME_LENGTH, default="")
    destination_city = fields.CharField(max_length=NAME_LENGTH, default="")
    destination_company = fields.CharField(max_length=NAME_LENGTH, default="")
    planned_km = fields.FloatField(default=0)
    driven_km = fields.FloatField(default=0)
    revenue = fields.FloatField(default=0)  # negative: a cancelled job's penalty
    penalty = fields.FloatField(default=0)
    fuel_l = fields.FloatField(default=0)
    damage = fields.FloatField(default=0)  # cargo damage, 0..1
    top_speed_kmh = fields.FloatField(default=0)
    fines = fields.FloatField(default=0)
    tolls = fields.FloatField(default=0)
    ferries = fields.FloatField(default=0)  # ferries and trains
    realistic = fields.JSONField(default=dict)  # the tracker's realism flags, as sent
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "jobs"
        unique_together = (("hub", "tracker", "tracker_job_id"),)
        indexes = (("hub_id", "member_id", "id"), ("hub_id", "unmatched", "id"))


class TrackerChoice(Model):
    """The tracker a member drives with in a hub: jobs from another one do not count (a hub
    running two trackers would otherwise count one drive twice)."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="tracker_choices")
    user = fields.ForeignKeyField("drivershub.User", related_name="tracker_choices")
    kind = fields.CharEnumField(TrackerKind, max_length=16)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "tracker_choices"
        unique_together = (("hub", "user"),)
