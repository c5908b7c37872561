"""The events list's page in one hand-written statement: the dates, their series and the
reader's own answer, joined, reading only the columns the view shows.

Through the ORM a page took three queries (dates, series, answers) of whole rows, each
built by pypika and turned into model instances field by field; that was most of a list
request's time. Filters and the keyset walk are the ones `reading.list_events` describes;
cursors are `models.pagination`'s, so they stay interchangeable with its lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Literal

from models import sql
from models.events.tables import Answer, Attendance, Event, Occurrence, Rsvp

# Cursors are pagination's (one format, one check of a cursor's shape, one 422 for a bad one).
from models.pagination import cursor_key, encode_cursor, read_position

When = Literal["upcoming", "past", "all"]

# Upcoming (and all) soonest first, past newest first; pinned series first in both. Each
# order matches one of the dates' indexes, (hub_id, pin_order|pin_rank, meetup_at, id).
ORDERS: dict[bool, tuple[str, ...]] = {
    False: ("pin_order", "meetup_at", "id"),
    True: ("pin_rank", "meetup_at", "id"),  # descending
}
KEY_TYPES = (int, datetime, int)  # the cursor's shape, as pagination checks it

DATE_COLUMNS = (
    *("id", "event_id", "index", "meetup_at", "departure_at", "ends_at", "cancelled"),
    *("pin_order", "pin_rank", "going", "maybe", "not_going"),
    *("discord_event_id", "discord_sync_error", "attendance_confirmed_at"),
)
SERIES_COLUMNS = (
    *("title", "description", "game", "server", "departure_city", "departure_company"),
    *("arrival_city", "arrival_company", "link", "points", "visibility", "slots"),
    *("rsvp_deadline_minutes", "recurrence", "pinned", "cancelled_at"),
)
_OCCURRENCES, _EVENTS = Occurrence._meta.db_table, Event._meta.db_table
_RSVPS, _ATTENDANCE = Rsvp._meta.db_table, Attendance._meta.db_table
_MINE = f"(SELECT r.answer FROM {_RSVPS} r WHERE r.occurrence_id = o.id AND r.user_id = ?)"  # noqa: S608 - names from the models
_DATES_SELECTED = sql.plain_columns("o", DATE_COLUMNS)
_SELECTED = f"{_DATES_SELECTED}, {sql.plain_columns('e', SERIES_COLUMNS)}"
_TIMES = ("meetup_at", "departure_at", "ends_at", "attendance_confirmed_at", "cancelled_at")
_FLAGS = ("cancelled", "pinned")  # SQLite hands booleans over as 0 and 1


@dataclass(frozen=True, slots=True)
class Filters:
    """What narrows the list (the reader's visibility already decided)."""

    hub_id: int
    with_members_only: bool  # the reader sees members-only dates
    when: When
    current: datetime
    event_id: int | None = None
    answered_by: int | None = None  # only dates this user answered `answer` to
    answer: Answer = Answer.GOING
    attended_by: int | None = None  # only dates this user attended


class Listed(SimpleNamespace):
    """One row of the page: the date's and its series' columns (their names do not clash;
    times and flags as the ORM gives them) and `my_answer`; `common.date_view` reads it as
    both the date and its series."""


async def page(
    filters: Filters, reader: int | None, limit: int, cursor: str | None
) -> tuple[list[Listed], str | None]:
    """Up to `limit` dates after `cursor`, and the next page's cursor (None on the last)."""
    order = ORDERS[filters.when == "past"]
    position = None if cursor is None else read_position(cursor, KEY_TYPES)
    statement, params = _statement(filters, reader, position, limit + 1)
    rows = [_listed(row) for row in await sql.fetch(statement, params)]
    items = rows[:limit]
    if len(rows) <= limit:
        return items, None
    return items, encode_cursor([cursor_key(getattr(items[-1], key)) for key in order])


def _statement(
    filters: Filters, reader: int | None, position: list[Any] | None, batch: int
) -> tuple[str, list[Any]]:
    """The page's statement and its values. The page's dates are picked and limited on
    their own first, then joined to their series and the reader's answer: joined before
    the limit, every date the filters keep would be joined, then most of them dropped."""
    past = filters.when == "past"
    direction = " DESC" if past else ""
    sort = ", ".join(f"o.{key}{direction}" for key in ORDERS[past])
    picked = sort
    if filters.when == "upcoming" and position is None:
        # The first upcoming page: the upcoming dates are few and at the far end of the
        # order's index, behind every past date. Found by their end (the ends_at index)
        # and sorted instead; `+ 0` keeps PostgreSQL from walking the whole past.
        picked = sort.replace("o.pin_order", "o.pin_order + 0", 1)
    # The reader's answer one date at a time (its unique index): joined, PostgreSQL
    # hashed every answer the reader ever gave to find the page's twenty.
    mine = "NULL"
    params: list[Any] = []
    if reader is not None:
        mine = _MINE
        params.append(reader)
    dates, picking = _dates(filters, position, sqlite=not sql.is_postgres(sql.connection()))
    statement = (
        f"SELECT {_SELECTED}, {mine} AS my_answer"  # noqa: S608 - names from the models
        f" FROM ({dates} ORDER BY {picked} LIMIT ?) o"
        f" JOIN {_EVENTS} e ON e.id = o.event_id ORDER BY {sort}"
    )
    return statement, [*params, *picking, batch]


def _dates(filters: Filters, position: list[Any] | None, *, sqlite: bool) -> tuple[str, list[Any]]:
    """The dates the filters keep (unordered) and the values of its `?`.

    SQLite keeps no statistics here, so it is told what PostgreSQL's planner works out:
    one user's answers or attendance lead when a filter names them (one row a date at
    most, against a walk of the hub's dates; CROSS JOIN keeps SQLite to the order written,
    PostgreSQL plans freely); one series' dates come by their series (a `+` keeps SQLite off
    the hub's indexes); the past walks its order's index backwards (past dates outnumber
    upcoming ones) instead of sorting every past date."""
    tables, where, params = _leading(filters)
    plus = "+" if sqlite else ""
    where.append(f"{plus if filters.event_id is not None else ''}o.hub_id = ?")
    params.append(filters.hub_id)
    if not filters.with_members_only:
        where.append("NOT o.members_only")
    if filters.when != "all":
        where.append(f"{plus}o.ends_at <= ?" if filters.when == "past" else "o.ends_at > ?")
        params.append(filters.current)
    if filters.event_id is not None:
        where.append("o.event_id = ?")
        params.append(filters.event_id)
    if position is not None:
        where.append(_after(filters.when == "past"))
        params += position
    tables.append(f"{_OCCURRENCES} o")
    return (
        f"SELECT {_DATES_SELECTED} FROM {' CROSS JOIN '.join(tables)}"  # noqa: S608 - names from the models
        f" WHERE {' AND '.join(where)}"
    ), params


def _leading(filters: Filters) -> tuple[list[str], list[str], list[Any]]:
    """The tables of a user's answers or attendance that lead when a filter names them,
    with their conditions and values."""
    tables: list[str] = []
    where: list[str] = []
    params: list[Any] = []
    if filters.answered_by is not None:
        tables.append(f"{_RSVPS} f")
        where.append("f.user_id = ? AND f.answer = ? AND f.occurrence_id = o.id")
        params += [filters.answered_by, str(filters.answer)]
    if filters.attended_by is not None:
        tables.append(f"{_ATTENDANCE} a")
        where.append("a.user_id = ? AND a.occurrence_id = o.id")
        params.append(filters.attended_by)
    return tables, where, params


def _after(past: bool) -> str:
    """Rows sorting after a position, as one row-value comparison (every key of an order
    runs the same way), so both databases start the index scan there. (The ORM's keyset
    filter, an OR of the keys, bounds only the leading key: a deep upcoming page walked
    every past date first.)"""
    keys = ", ".join(f"o.{key}" for key in ORDERS[past])
    return f"({keys}) {'<' if past else '>'} (?, ?, ?)"


def _listed(row: dict[str, Any]) -> Listed:
    for name in _TIMES:
        row[name] = sql.as_datetime(row[name])
    for name in _FLAGS:
        row[name] = bool(row[name])
    if row["my_answer"] is not None:
        row["my_answer"] = Answer(row["my_answer"])
    return Listed(**row)
