from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from enum import StrEnum


class Answer(StrEnum):
    # Frozen by makemigrations from `from models.events.tables import Answer`.
    GOING = "going"
    MAYBE = "maybe"
    NOT_GOING = "not_going"


class Game(StrEnum):
    # Frozen by makemigrations from `from models.events.tables import Game`.
    ETS2 = "ets2"
    ATS = "ats"


class Recurrence(StrEnum):
    # Frozen by makemigrations from `from models.events.tables import Recurrence`.
    NONE = "none"
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


class RsvpSource(StrEnum):
    # Frozen by makemigrations from `from models.events.tables import RsvpSource`.
    BOT = "bot"
    API = "api"
    DISCORD_INTEREST = "discord_interest"


class Visibility(StrEnum):
    # Frozen by makemigrations from `from models.events.tables import Visibility`.
    PUBLIC = "public"
    MEMBERS = "members"


class Migration(migrations.Migration):
    dependencies = [("drivershub", "0012_applications")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Event",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "hub",
                    fields.ForeignKeyField(
                        "drivershub.Hub",
                        source_field="hub_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="events",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("title", fields.CharField(max_length=100)),
                ("description", fields.TextField(default="", unique=False)),
                (
                    "game",
                    fields.CharEnumField(
                        default=Game.ETS2,
                        description="ETS2: ets2\nATS: ats",
                        enum_type=Game,
                        max_length=8,
                    ),
                ),
                ("server", fields.CharField(default="", max_length=100)),
                ("departure_city", fields.CharField(default="", max_length=100)),
                ("departure_company", fields.CharField(default="", max_length=100)),
                ("arrival_city", fields.CharField(default="", max_length=100)),
                ("arrival_company", fields.CharField(default="", max_length=100)),
                ("meetup_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("departure_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("duration_minutes", fields.IntField(default=120)),
                ("link", fields.CharField(default="", max_length=500)),
                ("points", fields.IntField(default=0)),
                (
                    "visibility",
                    fields.CharEnumField(
                        default=Visibility.PUBLIC,
                        description="PUBLIC: public\nMEMBERS: members",
                        enum_type=Visibility,
                        max_length=8,
                    ),
                ),
                ("slots", fields.IntField(null=True)),
                ("rsvp_deadline_minutes", fields.IntField(null=True)),
                (
                    "recurrence",
                    fields.CharEnumField(
                        default=Recurrence.NONE,
                        description="NONE: none\nWEEKLY: weekly\nBIWEEKLY: biweekly\nMONTHLY: monthly",
                        enum_type=Recurrence,
                        max_length=8,
                    ),
                ),
                ("recurrence_until", fields.DateField(null=True)),
                (
                    "exceptions",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("pinned", fields.BooleanField(default=False)),
                (
                    "created_by",
                    fields.ForeignKeyField(
                        "drivershub.User",
                        source_field="created_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="events_created",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                (
                    "cancelled_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "events",
                "app": "drivershub",
                "indexes": [Index(fields=["hub_id", "id"])],
                "pk_attr": "id",
                "table_description": "A convoy, or a series of them, with the times of the first occurrence (UTC).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="IcalToken",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "hub",
                    fields.ForeignKeyField(
                        "drivershub.Hub",
                        source_field="hub_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="ical_tokens",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "drivershub.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="ical_tokens",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("secret", fields.CharField(unique=True, max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "event_ical_tokens",
                "app": "drivershub",
                "unique_together": (("hub", "user"),),
                "pk_attr": "id",
                "table_description": "The secret of the calendar feed of one user in one hub (rotating revokes the old URL).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Occurrence",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "event",
                    fields.ForeignKeyField(
                        "drivershub.Event",
                        source_field="event_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="occurrences",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "hub",
                    fields.ForeignKeyField(
                        "drivershub.Hub",
                        source_field="hub_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="event_occurrences",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("index", fields.IntField()),
                ("meetup_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("departure_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("ends_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("cancelled", fields.BooleanField(default=False)),
                ("pin_order", fields.SmallIntField(default=1)),
                ("pin_rank", fields.SmallIntField(default=0)),
                ("members_only", fields.BooleanField(default=False)),
                ("going", fields.IntField(default=0)),
                ("maybe", fields.IntField(default=0)),
                ("not_going", fields.IntField(default=0)),
                ("discord_event_id", fields.BigIntField(null=True)),
                ("discord_sync_error", fields.CharField(default="", max_length=500)),
                (
                    "attendance_confirmed_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("post_channel_id", fields.BigIntField(null=True)),
                ("post_message_id", fields.BigIntField(null=True)),
                ("ended_handled", fields.BooleanField(default=False)),
            ],
            options={
                "table": "event_occurrences",
                "app": "drivershub",
                "unique_together": (("event", "index"),),
                "indexes": [
                    Index(fields=["hub_id", "pin_order", "meetup_at", "id"]),
                    Index(fields=["hub_id", "pin_rank", "meetup_at", "id"]),
                    Index(fields=["hub_id", "ends_at"]),
                    Index(fields=["ended_handled", "ends_at"]),
                    Index(fields=["discord_event_id"]),
                ],
                "pk_attr": "id",
                "table_description": "One date of a series: what drivers sign up for, attend and are reminded of.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Attendance",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "occurrence",
                    fields.ForeignKeyField(
                        "drivershub.Occurrence",
                        source_field="occurrence_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="attendance",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "drivershub.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="event_attendance",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "member",
                    fields.ForeignKeyField(
                        "drivershub.Member",
                        source_field="member_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="event_attendance",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("points_booked", fields.IntField(default=0)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "event_attendance",
                "app": "drivershub",
                "unique_together": (("occurrence", "user"),),
                "indexes": [
                    Index(fields=["member_id", "id"]),
                    Index(fields=["user_id", "occurrence_id"]),
                ],
                "pk_attr": "id",
                "table_description": "Someone staff confirmed at an occurrence, with the points booked for it so far.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Reminder",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "occurrence",
                    fields.ForeignKeyField(
                        "drivershub.Occurrence",
                        source_field="occurrence_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="reminders",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "hub",
                    fields.ForeignKeyField(
                        "drivershub.Hub",
                        source_field="hub_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="event_reminders",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("offset_minutes", fields.IntField()),
                ("due_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "claimed_until",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("sent_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "event_reminders",
                "app": "drivershub",
                "unique_together": (("occurrence", "offset_minutes"),),
                "indexes": [Index(fields=["sent_at", "due_at"])],
                "pk_attr": "id",
                "table_description": "A reminder due at `due_at`, claimed with a lease and marked sent with its notifications.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Rsvp",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "occurrence",
                    fields.ForeignKeyField(
                        "drivershub.Occurrence",
                        source_field="occurrence_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="rsvps",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "drivershub.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="event_rsvps",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "answer",
                    fields.CharEnumField(
                        description="GOING: going\nMAYBE: maybe\nNOT_GOING: not_going",
                        enum_type=Answer,
                        max_length=16,
                    ),
                ),
                (
                    "source",
                    fields.CharEnumField(
                        default=RsvpSource.API,
                        description="BOT: bot\nAPI: api\nDISCORD_INTEREST: discord_interest",
                        enum_type=RsvpSource,
                        max_length=16,
                    ),
                ),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "event_rsvps",
                "app": "drivershub",
                "unique_together": (("occurrence", "user"),),
                "indexes": [Index(fields=["user_id", "answer", "occurrence_id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
