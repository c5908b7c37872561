"""A series' occurrence times: the first occurrence's wall-clock time repeated in the hub's
time zone, so a weekly 20:00 convoy stays at 20:00 across daylight-saving changes.

Open-ended series are expanded up to a horizon (and topped up as time passes); a series
with an end date is expanded whole, and refused above `MAX_OCCURRENCES`. A monthly series
on the 29th-31st falls on the last day of shorter months.
"""

from __future__ import annotations

import calendar
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from models.events.tables import Recurrence

MAX_OCCURRENCES = 100
HORIZON = {
    Recurrence.WEEKLY: timedelta(weeks=26),
    Recurrence.BIWEEKLY: timedelta(weeks=26),
    Recurrence.MONTHLY: timedelta(days=366),
}


@dataclass(frozen=True, slots=True)
class Slot:
    index: int
    meetup_at: datetime
    departure_at: datetime
    ends_at: datetime


class TooMany(ValueError):
    """The series would have more than MAX_OCCURRENCES occurrences."""


def zone_of(name: str | None) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def _local_at(naive: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """A local wall-clock time as UTC; in a gap (spring forward) the time after the gap."""
    aware = naive.replace(tzinfo=zone)
    back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != naive:  # a nonexistent time: fold=1 maps past the gap
        aware = naive.replace(tzinfo=zone, fold=1)
    return aware.astimezone(UTC)


def expand(
    recurrence: Recurrence,
    meetup_at: datetime,
    departure_at: datetime,
    duration: timedelta,
    timezone: str | None,
    *,
    until: date | None = None,
    exceptions: Iterable[date] = (),
    horizon_from: datetime | None = None,
) -> list[Slot]:
    """The series' occurrences (index counts every date of the rule, skipped ones too)."""
    zone = zone_of(timezone)
    first = meetup_at.astimezone(zone).replace(tzinfo=None)
    lead = departure_at - meetup_at
    skipped = set(exceptions)
    if recurrence == Recurrence.NONE:
        return [Slot(0, meetup_at, departure_at, departure_at + duration)]
    limit = None if until is not None else (horizon_from or meetup_at) + HORIZON[recurrence]
    slots: list[Slot] = []
    index = 0
    while True:
        if recurrence == Recurrence.MONTHLY:
            local = datetime.combine(_add_months(first.date(), index), first.time())
        else:
            step = 1 if recurrence == Recurrence.WEEKLY else 2
            local = first + timedelta(weeks=step * index)
        if until is not None and local.date() > until:
            break
        meetup = _local_at(local, zone)
        if limit is not None and meetup > limit:
            break
        if local.date() not in skipped:
            if until is not None and len(slots) >= MAX_OCCURRENCES:
                raise TooMany
            slots.append(Slot(index, meetup, meetup + lead, meetup + lead + duration))
        index += 1
        if index > 10 * MAX_OCCURRENCES + len(skipped):  # exceptions cannot make it endless
            break
    return slots
