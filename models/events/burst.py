"""Answers to one date written together: when an event is posted, dozens of drivers click
at once, and one transaction each (seven statements) made the last click wait for all the
others' round trips. Answers waiting while a write runs go into the next write, so a burst
of N clicks costs a few transactions, not N.

Per process and per date, in arrival order; processes and the API stay correct together
because each write locks the date's counts (PostgreSQL) or holds the database's write lock
(SQLite) while it decides who gets a slot.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import sql
from models.auth import now
from models.errors import Conflict
from models.events.schemas import Counts
from models.events.tables import Answer, Rsvp, RsvpSource
from models.i18n import N_


class Change(StrEnum):
    NONE = "none"
    NEW = "new"
    CHANGED = "changed"


@dataclass(frozen=True)
class Answered:
    """What an answer did, and the date's counts after it (None: not read)."""

    change: Change
    counts: Counts | None = None

    def __bool__(self) -> bool:
        return self.change != Change.NONE


def full() -> Conflict:
    return Conflict(N_("This event is full."), code="event_full")


@dataclass
class _Ask:
    user_id: int
    answer: Answer
    source: RsvpSource
    slots: int | None
    keep_explicit: bool
    done: asyncio.Future[Answered] = field(repr=False)


@dataclass
class _Line:
    asks: list[_Ask] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None


_lines: dict[int, _Line] = {}


async def answer(
    occurrence_id: int,
    slots: int | None,
    user_id: int,
    answer: Answer,
    source: RsvpSource,
    *,
    keep_explicit: bool = False,
) -> Answered:
    """Record an answer (in its own transaction, shared with the answers waiting with it;
    not inside the caller's). `keep_explicit`: an answer given by the person themselves
    stays (Discord interest does not override it). Raises Conflict when "going" finds every
    slot taken."""
    line = _lines.setdefault(occurrence_id, _Line())
    done: asyncio.Future[Answered] = asyncio.get_running_loop().create_future()
    line.asks.append(_Ask(user_id, answer, source, slots, keep_explicit, done))
    if line.writer is None:
        line.writer = asyncio.create_task(_drain(occurrence_id, line))
    # Shielded: a caller giving up (a closed interaction) does not unmake a written answer.
    return await asyncio.shield(done)


async def _drain(occurrence_id: int, line: _Line) -> None:
    try:
        while line.asks:
            asks, line.asks = line.asks, []
            await _write(occurrence_id, asks)
    finally:
        line.writer = None
        if _lines.get(occurrence_id) is line and not line.asks:
            del _lines[occurrence_id]


async def _write(occurrence_id: int, asks: list[_Ask]) -> None:
    try:
        for attempt in range(2):
            try:
                async with in_transaction():
                    outcomes = await _apply(occurrence_id, asks)
                break
            except IntegrityError:  # another process added one of these answers meanwhile
                if attempt:
                    raise
    except Exception as exc:  # every waiting click learns the write failed
        for ask in asks:
            if not ask.done.done():
                ask.done.set_exception(exc)
        return
    for ask, outcome in zip(asks, outcomes, strict=True):
        if ask.done.done():
            continue
        if isinstance(outcome, Exception):
            ask.done.set_exception(outcome)
        else:
            ask.done.set_result(outcome)


_SELECT_COUNTS = "SELECT going, maybe, not_going FROM event_occurrences WHERE id = ?"


async def counts_now(occurrence_id: int) -> Counts:
    """A date's counts as stored now."""
    return Counts(**(await sql.fetch(_SELECT_COUNTS, [occurrence_id]))[0])


async def _apply(occurrence_id: int, asks: list[_Ask]) -> list[Answered | Exception]:
    """Decide every ask in arrival order against the stored answers and counts, then write
    the rows and the counts' net change."""
    conn = sql.connection()
    users = sorted({ask.user_id for ask in asks})
    marks = ", ".join("?" * len(users))
    stored = {
        row.user_id: row
        for row in await sql.instances(
            Rsvp,
            f"SELECT * FROM event_rsvps WHERE occurrence_id = ? AND user_id IN ({marks})",  # noqa: S608 - placeholders only
            [occurrence_id, *users],
            conn,
        )
    }
    lock = " FOR UPDATE" if sql.is_postgres(conn) else ""
    counts = Counts(**(await sql.fetch(_SELECT_COUNTS + lock, [occurrence_id], conn))[0])
    current: dict[int, tuple[Answer, RsvpSource] | None] = {
        user: (stored[user].answer, stored[user].source) if user in stored else None
        for user in users
    }
    going, moves = counts.going, Counter[str]()
    decided: list[tuple[Change | Exception, _Ask]] = []
    for ask in asks:
        before = current[ask.user_id]
        kept = ask.keep_explicit and before is not None and before[1] != RsvpSource.DISCORD_INTEREST
        if kept or (before is not None and before[0] == ask.answer):
            decided.append((Change.NONE, ask))
            continue
        if ask.answer == Answer.GOING and ask.slots is not None and going >= ask.slots:
            decided.append((full(), ask))
            continue
        moves[str(ask.answer)] += 1
        if before is not None:
            moves[str(before[0])] -= 1
        going += (ask.answer == Answer.GOING) - (before is not None and before[0] == Answer.GOING)
        decided.append((Change.NEW if before is None else Change.CHANGED, ask))
        current[ask.user_id] = (ask.answer, ask.source)
    await _store(occurrence_id, stored, current)
    if any(moves.values()):
        counts = await _move(occurrence_id, moves)
    return [
        outcome if isinstance(outcome, Exception) else Answered(outcome, counts)
        for outcome, _ in decided
    ]


async def _store(
    occurrence_id: int,
    stored: dict[int, Rsvp],
    wanted: dict[int, tuple[Answer, RsvpSource] | None],
) -> None:
    """Insert the new answers and update the changed ones (one statement per kind)."""
    stamp = now()
    new = [
        Rsvp(occurrence_id=occurrence_id, user_id=user, answer=a, source=s, updated_at=stamp)
        for user, final in wanted.items()
        if final is not None and user not in stored
        for a, s in [final]
    ]
    if new:
        await Rsvp.bulk_create(new)
    changed: dict[tuple[Answer, RsvpSource], list[int]] = {}
    for user, final in wanted.items():
        row = stored.get(user)
        if final is not None and row is not None and (row.answer, row.source) != final:
            changed.setdefault(final, []).append(row.id)
    for (a, s), ids in changed.items():
        await Rsvp.filter(id__in=ids).update(answer=a, source=s, updated_at=stamp)


async def _move(occurrence_id: int, moves: Counter[str]) -> Counts:
    # Column names come from the Answer enum; the amounts travel as parameters.
    columns = [str(a) for a in Answer if moves[str(a)]]
    sets = ", ".join(f"{c} = {c} + ?" for c in columns)
    rows = await sql.fetch(
        f"UPDATE event_occurrences SET {sets} WHERE id = ? RETURNING going, maybe, not_going",  # noqa: S608 - enum names
        [*(moves[c] for c in columns), occurrence_id],
    )
    return Counts(**rows[0])
