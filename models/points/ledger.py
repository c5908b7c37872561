"""The ledger: every point a member earns or loses is one appended row, and the totals and
period sums that reads use are kept from it in the same transaction.

`book` is what every package calls to reward someone (inside its own transaction); staff use
`grant` and `correct`. Under concurrency the member's row is the lock: the first statement of
a booking adds to `members.points`, so two bookings for one member follow each other (on
PostgreSQL the row lock, on SQLite the single writer), totals never lose an update, and a rank
changes once.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import audit, plugins, sql
from models.actor import Actor
from models.auth import now
from models.errors import Conflict, NotFound
from models.hubs import Hub
from models.i18n import N_
from models.members.lifecycle import Signal
from models.members.tables import Member
from models.points.tables import (
    ALL,
    MAX_AMOUNT,
    REASON_LENGTH,
    Period,
    PointEntry,
    PointKind,
    Rank,
)
from models.text import Text
from models.validation import Problem

KEY = "points"
MANAGE = "manage_points"
EARLIEST_COUNTS_AT = datetime(2000, 1, 1, tzinfo=UTC)


def _nonzero(value: int) -> int:
    if value == 0:
        raise Problem(N_("give an amount other than zero"))
    return value


class GrantInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Strict: a JSON true or "10" is not an amount (lax pydantic would book 1 or 10).
    amount: int = Field(strict=True, ge=1, le=MAX_AMOUNT, description=f"1 to {MAX_AMOUNT}.")
    kind: PointKind = Field(default=PointKind.MANUAL, description="Not correction: use correct.")
    reason: Text(REASON_LENGTH) = Field(min_length=1)  # type: ignore[valid-type]
    counts_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "When it counts (periods, leaderboards); now if left out. From 2000 on, at most a"
            " day ahead."
        ),
    )

    @field_validator("counts_at")
    @classmethod
    def _sane_time(cls, value: datetime | None) -> datetime | None:
        if value is not None and not EARLIEST_COUNTS_AT <= value <= now() + timedelta(days=1):
            raise Problem(N_("give a time from 2000 on, at most a day ahead"))
        return value

    @field_validator("kind")
    @classmethod
    def _not_correction(cls, kind: PointKind) -> PointKind:
        if kind == PointKind.CORRECTION:
            raise Problem(N_("corrections are made with the correction route"))
        return kind


class CorrectionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(
        strict=True,
        ge=-MAX_AMOUNT,
        le=MAX_AMOUNT,
        description="Negative takes points away; not zero.",
    )
    reason: Text(REASON_LENGTH) = Field(min_length=1)  # type: ignore[valid-type]

    _amount = field_validator("amount")(_nonzero)


@dataclass(frozen=True, slots=True)
class Booking:
    entry: PointEntry
    total: int  # the member's overall total after it
    signals: list[Signal]
    rank_id: int | None = None  # the member's rank after it


def period_starts(day: date) -> dict[Period, date]:
    """The day, week (from Monday), month and year a local date falls in."""
    return {
        Period.DAY: day,
        Period.WEEK: day - timedelta(days=day.weekday()),
        Period.MONTH: day.replace(day=1),
        Period.YEAR: day.replace(month=1, day=1),
    }


def local_day(hub: Hub, when: datetime) -> date:
    """The hub's calendar day of an instant (periods follow the hub's time zone)."""
    try:
        zone = zoneinfo.ZoneInfo(hub.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    try:
        return when.astimezone(zone).date()
    except OverflowError:  # the first or last day a datetime holds: its UTC day
        return when.astimezone(UTC).date()


async def _add_to_periods(
    conn: BaseDBAsyncClient, hub: Hub, member_id: int, kind: str, amount: int, day: date
) -> None:
    """One statement adds `amount` to the member's 8 period sums (4 periods, kind and all).

    `INSERT ... ON CONFLICT DO UPDATE` reads the same on SQLite (3.24+) and PostgreSQL, and
    the rows are always written in the same order, so concurrent bookings cannot deadlock.
    """
    rows = [
        (hub.id, member_id, str(period), start, name, amount)
        for period, start in period_starts(day).items()
        for name in (kind, ALL)
    ]
    params = [value for row in rows for value in row]
    values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(rows))
    await sql.run(
        "INSERT INTO point_periods (hub_id, member_id, period, start, kind, amount)"  # noqa: S608 - placeholders only
        f" VALUES {values}"
        " ON CONFLICT (member_id, period, start, kind)"
        " DO UPDATE SET amount = point_periods.amount + excluded.amount",
        params,
        conn,
    )


async def _add_to_member(
    conn: BaseDBAsyncClient, hub: Hub, member_id: int, amount: int
) -> tuple[int, int | None]:
    """Add to the member's total and return it with their rank (one statement; RETURNING is
    in SQLite since 3.35 and in PostgreSQL). Another hub's member is as unknown as none."""
    rows = await sql.fetch(
        "UPDATE members SET points = points + ? WHERE id = ? AND hub_id = ?"
        " RETURNING points, rank_id",
        [amount, member_id, hub.id],
        conn,
    )
    if not rows:
        raise NotFound(N_("That member does not exist."), code="member_not_found")
    return int(rows[0]["points"]), rows[0]["rank_id"]


async def _add_to_total(conn: BaseDBAsyncClient, member_id: int, kind: str, amount: int) -> None:
    await sql.run(
        "INSERT INTO point_totals (member_id, kind, total) VALUES (?, ?, ?)"
        " ON CONFLICT (member_id, kind) DO UPDATE SET total = point_totals.total + excluded.total",
        [member_id, kind, amount],
        conn,
    )


async def book(
    hub: Hub,
    member: Member,
    kind: PointKind,
    amount: int,
    *,
    reason: str = "",
    source: str = "",
    dedupe_key: str | None = None,
    actor_id: int | None = None,
    counts_at: datetime | None = None,
) -> Booking:
    """Append one ledger row and keep totals, period sums and the rank in step.

    Call it inside the transaction of what earned the points (it is a savepoint there, so a
    refusal undoes the booking alone). Refused (409) when it would take the total below zero
    and the hub does not allow negative totals (negative_total), and when the hub's ledger
    holds `dedupe_key` already (already_booked).
    """
    options = {
        "reason": reason,
        "source": source,
        "dedupe_key": dedupe_key,
        "actor_id": actor_id,
        "counts_at": counts_at,
    }
    async with in_transaction() as conn:
        booking = await _book(conn, hub, member.id, kind, amount, options)
    member.points, member.rank_id = booking.total, booking.rank_id
    return booking


async def _book(
    conn: BaseDBAsyncClient,
    hub: Hub,
    member_id: int,
    kind: PointKind,
    amount: int,
    options: dict[str, Any],
) -> Booking:
    """`book` on the caller's open transaction `conn` (`options`: book's keywords)."""
    from models.points.ranks import settle_rank

    when = options.get("counts_at") or now()
    # First: the member's row, which every booking for them waits on (see module doc).
    total, rank_id = await _add_to_member(conn, hub, member_id, amount)
    if total < 0 and amount < 0 and not plugins.settings_of(hub, KEY).negative_totals:
        raise Conflict(
            N_("That would take {name} below zero points ({total})."),
            code="negative_total",
            name=await _name_of(member_id),
            total=total,
        )
    row = {
        "hub_id": hub.id,
        "member_id": member_id,
        "kind": str(kind),
        "amount": amount,
        "reason": options.get("reason", ""),
        "source": options.get("source", ""),
        "dedupe_key": options.get("dedupe_key"),
        "actor_id": options.get("actor_id"),
        "counts_at": when,
    }
    day = local_day(hub, when)
    steps: list[Rank] | None = None
    totals: dict[str, int] | None = None
    try:
        if sql.is_postgres(conn):
            entry, totals, steps = await _append_at_once(conn, hub, row, day)
        else:
            entry = await PointEntry.create(using_db=conn, **row)
    except IntegrityError:
        if row["dedupe_key"] is None:
            raise
        # Booked before (or by a concurrent booking): this one is rolled back whole.
        raise Conflict(code="already_booked", key=row["dedupe_key"]) from None
    if steps is None:
        await _add_to_total(conn, member_id, str(kind), amount)
        await _add_to_periods(conn, hub, member_id, str(kind), amount, day)
    member = Member(id=member_id, hub_id=hub.id, points=total, rank_id=rank_id)
    signals = await settle_rank(hub, member, current_id=rank_id, steps=steps, totals=totals)
    return Booking(entry, total, signals, member.rank_id)


# PostgreSQL runs every data-modifying WITH part once, whether the final SELECT reads it or
# not: the ledger row, the kind total and the 8 period sums are one statement (one round
# trip instead of three), which also hands back the member's kind totals and the hub's
# ladder for settling the rank. The member's row is locked by the booking's first statement,
# so no other booking of theirs changed a total since this statement's snapshot; the booked
# kind's own total comes from its upsert (the snapshot holds the one before it).
_APPEND_PG = """
WITH entry AS (
    INSERT INTO point_entries
        (hub_id, member_id, kind, amount, reason, source, dedupe_key, actor_id, counts_at,
         created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    RETURNING *
), kept AS (
    INSERT INTO point_totals (member_id, kind, total) VALUES ($2, $3, $4)
    ON CONFLICT (member_id, kind) DO UPDATE SET total = point_totals.total + excluded.total
    RETURNING kind, total
), periods AS (
    INSERT INTO point_periods (hub_id, member_id, period, start, kind, amount)
    SELECT $1, $2, p.period, p.start, k.kind, $4
    FROM unnest($11::text[], $12::date[]) AS p(period, start)
    CROSS JOIN unnest(ARRAY[$3, $13]::text[]) WITH ORDINALITY AS k(kind, n)
    ORDER BY p.period, p.start, k.n
    ON CONFLICT (member_id, period, start, kind)
    DO UPDATE SET amount = point_periods.amount + excluded.amount
)
SELECT entry.*,
    (SELECT json_object_agg(t.kind, t.total) FROM (
        SELECT kind, total FROM kept
        UNION ALL
        SELECT kind, total FROM point_totals WHERE member_id = $2 AND kind <> $3
    ) AS t) AS booked_totals,
    (SELECT json_agg(r ORDER BY r.threshold, r.id) FROM ranks r WHERE r.hub_id = $1)
        AS booked_ladder
FROM entry
"""


def _step(row: dict[str, Any]) -> Rank:
    """A rank from its row as JSON (timestamps are text there)."""
    return sql.instance(Rank, {**row, "created_at": sql.as_datetime(row["created_at"])})


async def _append_at_once(
    conn: BaseDBAsyncClient, hub: Hub, row: dict[str, Any], day: date
) -> tuple[PointEntry, dict[str, int], list[Rank]]:
    """The ledger row, the kind total and the period sums in one statement (PostgreSQL)."""
    starts = period_starts(day)
    values = [
        *row.values(),
        now(),
        [str(period) for period in starts],
        list(starts.values()),
        ALL,
    ]
    result = (await sql.fetch(_APPEND_PG, values, conn))[0]
    totals = {k: int(v) for k, v in (sql.as_json(result.pop("booked_totals")) or {}).items()}
    ladder = [_step(step) for step in sql.as_json(result.pop("booked_ladder")) or []]
    return sql.instance(PointEntry, result), totals, ladder


async def _name_of(member_id: int) -> str:
    found = await Member.filter(id=member_id).values_list("user__username", flat=True)
    return str(found[0]) if found else str(member_id)


async def grant(actor: Actor, hub: Hub, member_id: int, data: GrantInput) -> Booking:
    """Staff give points (manage_points), with a reason."""
    return await _by_staff(
        actor, hub, member_id, data.kind, data.amount, data.reason, "points.granted", data.counts_at
    )


async def correct(actor: Actor, hub: Hub, member_id: int, data: CorrectionInput) -> Booking:
    """Staff correct a total (manage_points): a correction row, never an edit of history."""
    return await _by_staff(
        actor, hub, member_id, PointKind.CORRECTION, data.amount, data.reason, "points.corrected"
    )


async def _by_staff(
    actor: Actor,
    hub: Hub,
    member_id: int,
    kind: PointKind,
    amount: int,
    reason: str,
    action: str,
    counts_at: datetime | None = None,
) -> Booking:
    """A booking staff make by hand: checked, booked and audited in one transaction."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    async with in_transaction() as conn:
        options = {"reason": reason, "actor_id": actor.user_id, "counts_at": counts_at}
        booking = await _book(conn, hub, member_id, kind, amount, options)
        await audit.record(
            actor, action, hub=hub, target=str(member_id), details=_details(booking.entry)
        )
    return booking


async def reset(hub: Hub, member: Member, actor: Actor, reason: str) -> Booking | None:
    """A fresh start (members: accepted again with a new number): a correction row brings
    the total to zero; the history stays."""
    current = (await Member.get(id=member.id).only("id", "points")).points
    if current == 0:
        return None
    return await book(
        hub, member, PointKind.CORRECTION, -current, reason=reason, actor_id=actor.user_id
    )


def _details(entry: PointEntry) -> dict[str, Any]:
    return {
        "entry": entry.id,
        "kind": str(entry.kind),
        "amount": entry.amount,
        "reason": entry.reason,
    }
