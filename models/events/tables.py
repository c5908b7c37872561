"""The events package's tables: a series (`Event`), its occurrences (each with its own RSVPs,
attendance and reminders) and the per-user secrets of iCal feeds."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

TITLE_LENGTH = 100
DESCRIPTION_LENGTH = 4000
PLACE_LENGTH = 100
LINK_LENGTH = 500
MAX_POINTS = 10_000
ERROR_LENGTH = 500


class Game(StrEnum):
    ETS2 = "ets2"
    ATS = "ats"


class Visibility(StrEnum):
    PUBLIC = "public"
    MEMBERS = "members"  # members only: hidden from visitors, never in the public feed


class Recurrence(StrEnum):
    NONE = "none"
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


class Answer(StrEnum):
    GOING = "going"
    MAYBE = "maybe"
    NOT_GOING = "not_going"


class RsvpSource(StrEnum):
    BOT = "bot"
    API = "api"
    DISCORD_INTEREST = "discord_interest"  # "interested" on the Discord scheduled event


class Event(Model):
    """A convoy, or a series of them, with the times of the first occurrence (UTC)."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="events")
    title = fields.CharField(max_length=TITLE_LENGTH)
    description = fields.TextField(default="")  # markdown
    game = fields.CharEnumField(Game, default=Game.ETS2, max_length=8)
    server = fields.CharField(max_length=PLACE_LENGTH, default="")
    departure_city = fields.CharField(max_length=PLACE_LENGTH, default="")
    departure_company = fields.CharField(max_length=PLACE_LENGTH, default="")
    arrival_city = fields.CharField(max_length=PLACE_LENGTH, default="")
    arrival_company = fields.CharField(max_length=PLACE_LENGTH, default="")
    meetup_at = fields.DatetimeField()
    departure_at = fields.DatetimeField()
    duration_minutes = fields.IntField(default=120)  # from departure to the end
    link = fields.CharField(max_length=LINK_LENGTH, default="")
    points = fields.IntField(default=0)
    visibility = fields.CharEnumField(Visibility, default=Visibility.PUBLIC, max_length=8)
    slots = fields.IntField(null=True)
    rsvp_deadline_minutes = fields.IntField(null=True)  # RSVPs close this long before meetup
    recurrence = fields.CharEnumField(Recurrence, default=Recurrence.NONE, max_length=8)
    recurrence_until = fields.DateField(null=True)  # the hub's local date, inclusive
    exceptions = fields.JSONField(default=list)  # ISO local dates skipped
    pinned = fields.BooleanField(default=False)
    created_by = fields.ForeignKeyField(
        "drivershub.User", related_name="events_created", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    cancelled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "events"
        indexes = (("hub_id", "id"),)


class Occurrence(Model):
    """One date of a series: what drivers sign up for, attend and are reminded of."""

    id = fields.BigIntField(primary_key=True)
    event = fields.ForeignKeyField(
        "drivershub.Event", related_name="occurrences", on_delete=fields.CASCADE
    )
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="event_occurrences")
    index = fields.IntField()  # 0 for the first of the series
    meetup_at = fields.DatetimeField()
    departure_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    cancelled = fields.BooleanField(default=False)
    # Copies of the series' list keys, so lists sort and filter on one table with an index.
    pin_order = fields.SmallIntField(default=1)  # 0 pinned, 1 not: pinned first
    # The same, for the past list (newest first): every key descending, so its index is
    # read backwards instead of the matching dates being sorted on each request.
    pin_rank = fields.SmallIntField(default=0)  # 1 pinned, 0 not
    members_only = fields.BooleanField(default=False)
    # Answers kept with each RSVP in the same transaction (slots are checked against them).
    going = fields.IntField(default=0)
    maybe = fields.IntField(default=0)
    not_going = fields.IntField(default=0)
    discord_event_id = fields.BigIntField(null=True)
    discord_sync_error = fields.CharField(max_length=ERROR_LENGTH, default="")
    attendance_confirmed_at = fields.DatetimeField(null=True)
    # The RSVP message the bot keeps up to date (recorded by the bot after posting).
    post_channel_id = fields.BigIntField(null=True)
    post_message_id = fields.BigIntField(null=True)
    ended_handled = fields.BooleanField(default=False)  # the next one was mirrored

    class Meta:
        table = "event_occurrences"
        unique_together = (("event", "index"),)
        indexes = (
            ("hub_id", "pin_order", "meetup_at", "id"),
            ("hub_id", "pin_rank", "meetup_at", "id"),
            ("hub_id", "ends_at"),
            ("ended_handled", "ends_at"),
            ("discord_event_id",),
        )


class Rsvp(Model):
    id = fields.BigIntField(primary_key=True)
    occurrence = fields.ForeignKeyField(
        "drivershub.Occurrence", related_name="rsvps", on_delete=fields.CASCADE
    )
    user = fields.ForeignKeyField("drivershub.User", related_name="event_rsvps")
    answer = fields.CharEnumField(Answer, max_length=16)
    source = fields.CharEnumField(RsvpSource, default=RsvpSource.API, max_length=16)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "event_rsvps"
        unique_together = (("occurrence", "user"),)
        indexes = (("user_id", "answer", "occurrence_id"),)


class Attendance(Model):
    """Someone staff confirmed at an occurrence, with the points booked for it so far."""

    id = fields.BigIntField(primary_key=True)
    occurrence = fields.ForeignKeyField(
        "drivershub.Occurrence", related_name="attendance", on_delete=fields.CASCADE
    )
    user = fields.ForeignKeyField("drivershub.User", related_name="event_attendance")
    member = fields.ForeignKeyField("drivershub.Member", related_name="event_attendance")
    points_booked = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "event_attendance"
        unique_together = (("occurrence", "user"),)
        indexes = (("member_id", "id"), ("user_id", "occurrence_id"))


class Reminder(Model):
    """A reminder due at `due_at`, claimed with a lease and marked sent with its notifications."""

    id = fields.BigIntField(primary_key=True)
    occurrence = fields.ForeignKeyField(
        "drivershub.Occurrence", related_name="reminders", on_delete=fields.CASCADE
    )
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="event_reminders")
    offset_minutes = fields.IntField()
    due_at = fields.DatetimeField()
    claimed_until = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "event_reminders"
        unique_together = (("occurrence", "offset_minutes"),)
        indexes = (("sent_at", "due_at"),)


class IcalToken(Model):
    """The secret of the calendar feed of one user in one hub (rotating revokes the old URL)."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="ical_tokens")
    user = fields.ForeignKeyField("drivershub.User", related_name="ical_tokens")
    secret = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "event_ical_tokens"
        unique_together = (("hub", "user"),)
