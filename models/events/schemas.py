"""Inputs and views of the events plugin: the API and the cog use the same ones."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from models.events.tables import (
    DESCRIPTION_LENGTH,
    LINK_LENGTH,
    MAX_POINTS,
    PLACE_LENGTH,
    TITLE_LENGTH,
    Answer,
    Game,
    Recurrence,
    Visibility,
)
from models.i18n import N_
from models.pagination import PageQuery
from models.text import Name, Text
from models.validation import Id, Patch, Problem

MAX_DURATION = 60 * 24  # a day
MAX_DEADLINE = 60 * 24 * 30
MAX_SLOTS = 10_000
MAX_EXCEPTIONS = 100


def _http_link(value: str | None) -> str | None:
    if value and not value.lower().startswith(("http://", "https://")):
        raise Problem(N_("must be an http(s) address"))
    if value and (" " in value or len(value) < 11):
        raise Problem(N_("must be an http(s) address"))
    return value


def _unique_days(value: list[date] | None) -> list[date] | None:
    """Skipped dates in order, each once."""
    return None if value is None else sorted(set(value))


Place = Name(PLACE_LENGTH, min_length=0)


class EventInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Name(TITLE_LENGTH)  # type: ignore[valid-type]
    description: Text(DESCRIPTION_LENGTH) = ""  # type: ignore[valid-type]
    game: Game = Game.ETS2
    server: Place = ""  # type: ignore[valid-type]
    departure_city: Place = ""  # type: ignore[valid-type]
    departure_company: Place = ""  # type: ignore[valid-type]
    arrival_city: Place = ""  # type: ignore[valid-type]
    arrival_company: Place = ""  # type: ignore[valid-type]
    meetup_at: AwareDatetime = Field(description="When drivers meet (the first occurrence's).")
    departure_at: AwareDatetime = Field(description="When the convoy leaves; not before meetup.")
    duration_minutes: int = Field(default=120, ge=1, le=MAX_DURATION)
    link: str = Field(
        default="", max_length=LINK_LENGTH, description="A TruckersMP event page or a route image."
    )
    points: int = Field(default=0, strict=True, ge=0, le=MAX_POINTS)
    visibility: Visibility = Visibility.PUBLIC
    slots: int | None = Field(default=None, ge=1, le=MAX_SLOTS)
    rsvp_deadline_minutes: int | None = Field(
        default=None, ge=0, le=MAX_DEADLINE, description="RSVPs close this long before meetup."
    )
    recurrence: Recurrence = Recurrence.NONE
    recurrence_until: date | None = Field(
        default=None, description="The last date of the series (the hub's time zone)."
    )
    exceptions: list[date] = Field(
        default_factory=list, max_length=MAX_EXCEPTIONS, description="Dates the series skips."
    )
    pinned: bool = False

    _link = field_validator("link")(_http_link)
    _skips = field_validator("exceptions")(_unique_days)


class EventUpdate(BaseModel):
    """Fields left out stay as they are; `slots`, `rsvp_deadline_minutes` and
    `recurrence_until` take null to clear them."""

    model_config = ConfigDict(extra="forbid")

    title: Patch[Name(TITLE_LENGTH)] = None  # type: ignore[valid-type]
    description: Patch[Text(DESCRIPTION_LENGTH)] = None  # type: ignore[valid-type]
    game: Patch[Game] = None
    server: Patch[Place] = None  # type: ignore[valid-type]
    departure_city: Patch[Place] = None  # type: ignore[valid-type]
    departure_company: Patch[Place] = None  # type: ignore[valid-type]
    arrival_city: Patch[Place] = None  # type: ignore[valid-type]
    arrival_company: Patch[Place] = None  # type: ignore[valid-type]
    meetup_at: Patch[AwareDatetime] = None
    departure_at: Patch[AwareDatetime] = None
    duration_minutes: Patch[int] = Field(default=None, ge=1, le=MAX_DURATION)
    link: Patch[str] = Field(default=None, max_length=LINK_LENGTH)
    points: Patch[int] = Field(default=None, strict=True, ge=0, le=MAX_POINTS)
    visibility: Patch[Visibility] = None
    slots: int | None = Field(default=None, ge=1, le=MAX_SLOTS)
    rsvp_deadline_minutes: int | None = Field(default=None, ge=0, le=MAX_DEADLINE)
    recurrence: Patch[Recurrence] = None
    recurrence_until: date | None = None
    exceptions: Patch[list[date]] = Field(default=None, max_length=MAX_EXCEPTIONS)
    pinned: Patch[bool] = None

    _link = field_validator("link")(_http_link)
    _skips = field_validator("exceptions")(_unique_days)


class EventQuery(PageQuery):
    when: Literal["upcoming", "past", "all"] = Field(
        default="upcoming",
        description="upcoming: not ended yet, soonest first; past: newest first.",
    )
    event: Id | None = Field(default=None, description="Only this series.")
    mine: bool = Field(default=False, description="Only those you answered `answer` to.")
    rsvp_by: Id | None = Field(
        default=None,
        description="Only those this member answered (yourself, or anyone with manage_events).",
    )
    answer: Answer = Field(
        default=Answer.GOING, description="The answer `mine`/`rsvp_by` look for."
    )
    attended_by: Id | None = Field(default=None, description="Only those this member attended.")


class RsvpInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: Answer


class AttendanceInput(BaseModel):
    """Confirm who came: `from_rsvps` takes everyone going; `add`/`remove` are user ids."""

    model_config = ConfigDict(extra="forbid")
    from_rsvps: bool = False
    add: list[Id] = Field(default_factory=list, max_length=500)
    remove: list[Id] = Field(default_factory=list, max_length=500)


class CancelInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text(500) = ""  # type: ignore[valid-type]


class Counts(BaseModel):
    going: int = 0
    maybe: int = 0
    not_going: int = 0


class PlaceView(BaseModel):
    city: str
    company: str


class OccurrenceView(BaseModel):
    id: int
    event_id: int
    index: int
    title: str
    description: str
    game: Game
    server: str
    departure: PlaceView
    arrival: PlaceView
    meetup_at: datetime
    departure_at: datetime
    ends_at: datetime
    link: str
    points: int
    visibility: Visibility
    slots: int | None
    rsvp_closes_at: datetime | None = Field(description="When RSVPs close.")
    recurrence: Recurrence
    pinned: bool
    cancelled: bool
    counts: Counts
    my_answer: Answer | None = None
    discord_event_id: str | None
    discord_sync_error: str = Field(description="Why Discord refused the mirror, if it did.")
    attendance_confirmed_at: datetime | None


class OccurrenceBrief(BaseModel):
    id: int
    index: int
    meetup_at: datetime
    cancelled: bool


class EventView(BaseModel):
    id: int
    title: str
    description: str
    game: Game
    server: str
    departure: PlaceView
    arrival: PlaceView
    meetup_at: datetime
    departure_at: datetime
    duration_minutes: int
    link: str
    points: int
    visibility: Visibility
    slots: int | None
    rsvp_deadline_minutes: int | None
    recurrence: Recurrence
    recurrence_until: date | None
    exceptions: list[date]
    pinned: bool
    created_by: int | None
    created_at: datetime
    cancelled_at: datetime | None
    occurrences: list[OccurrenceBrief]


class RsvpResult(BaseModel):
    occurrence_id: int
    answer: Answer
    counts: Counts
    title: str = Field(description="The event's title.")


class Attendee(BaseModel):
    user_id: int
    member_id: int
    name: str
    points_booked: int


class AttendanceView(BaseModel):
    occurrence_id: int
    confirmed_at: datetime | None
    attendees: list[Attendee]


class AttendedView(BaseModel):
    occurrence_id: int
    event_id: int
    title: str
    meetup_at: datetime
    points_booked: int


class IcalLink(BaseModel):
    secret: str
    path: str = Field(description="The feed's path under the API, to add to a calendar app.")
