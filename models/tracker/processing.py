"""Turning stored deliveries into jobs (the worker), and staff's replay and assignment.

Rows are claimed in batches with a lease: one conditional update stamps a random token on
pending rows nobody holds (or whose holder's lease ran out), then the rows with that token
are read back, so two workers never take the same row, on SQLite as on PostgreSQL. A job is
unique per (hub, tracker, tracker job id): processing a row twice (a lease that ran out, a
replay) makes one job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from core.db import DATABASE_AWAY
from models.actor import Actor
from models.auth import now
from models.hubs import Hub
from models.members.tables import Member, MemberState
from models.permissions import grant_of
from models.tracker import intake
from models.tracker.formats import JobData, JobError, normalise
from models.tracker.tables import (
    ERROR_LENGTH,
    IntakeState,
    Job,
    TrackerChoice,
    TrackerIntake,
    TrackerKind,
)
from models.users import User

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
BATCH = 25  # small enough that webhooks waiting for the database are not held up long
IDLE_WAIT = 5.0  # seconds between looks when nothing woke the worker
BUSY_PAUSE = 0.05  # seconds between batches while webhooks arrive
DRIVER = "driver"  # the permission a member needs for a job to count

# Why a job counts for no member (staff may assign it).
UNKNOWN_DRIVER = "unknown_driver"  # no Steam id, or no account with it
NOT_A_MEMBER = "not_a_member"
NOT_A_DRIVER = "not_a_driver"  # a member without the driver permission
OTHER_TRACKER = "other_tracker"  # the driver chose another tracker


async def claim(limit: int = BATCH) -> list[TrackerIntake]:
    """Pending rows for this worker, oldest first (see the module's text)."""
    current = now()
    free = Q(lease_until=None) | Q(lease_until__lt=current)
    ids = await (
        TrackerIntake.filter(free, state=IntakeState.PENDING)
        .order_by("id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    if not ids:
        return []
    token = secrets.token_hex(8)
    await TrackerIntake.filter(free, id__in=ids, state=IntakeState.PENDING).update(
        lease_until=current + LEASE, lease_token=token, attempts=F("attempts") + 1
    )
    return await TrackerIntake.filter(lease_token=token, id__in=ids).order_by("id")


async def run_once(limit: int = BATCH) -> int:
    """Process what is pending; how many rows were handled."""
    rows = await claim(limit)
    by_hub: dict[int, list[TrackerIntake]] = {}
    for row in rows:
        by_hub.setdefault(row.hub_id, []).append(row)
    for hub_id, batch in by_hub.items():
        hub = await Hub.get(id=hub_id)
        try:
            await process_batch(hub, batch)
        except Exception:  # a bug must not lose the batch: one by one, each row says why
            log.exception("tracker batch of hub %s failed; processing it row by row", hub_id)
            for row in batch:
                try:
                    await process_batch(hub, [row])
                except Exception as exc:
                    log.exception("tracker intake %s failed unexpectedly", row.id)
                    await _failed(row, f"internal error: {exc!r}")
    return len(rows)


async def run_forever() -> None:
    while True:
        intake.stored.clear()
        try:
            handled = await run_once()
        except DATABASE_AWAY as exc:  # a restart: the leases keep the rows safe
            log.warning("tracker worker: the database is away (%r); retrying", exc)
            handled = 0
            await asyncio.sleep(1)
        except Exception:
            log.exception("tracker worker failed; retrying")
            handled = 0
        if handled and intake.stored.is_set():
            # Deliveries keep arriving: their answers go first (the backlog waits its turn;
            # it is stored, so it is not lost).
            await asyncio.sleep(BUSY_PAUSE)
        if handled:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(intake.stored.wait(), IDLE_WAIT)


async def process(hub: Hub, row: TrackerIntake) -> Job | None:
    """Make (or find) the job of one stored delivery (a replay); None if it failed."""
    return (await process_batch(hub, [row])).get(row.id)


async def process_batch(hub: Hub, rows: list[TrackerIntake]) -> dict[int, Job]:
    """Make the jobs of a hub's stored deliveries, reading what they need in a few queries
    for the whole batch; each row ends done (with its job) or failed (with the reason)."""
    parsed: list[tuple[TrackerIntake, JobData]] = []
    for row in rows:
        try:
            parsed.append((row, _parse(row)))
        except (ValueError, KeyError, JobError) as exc:
            await _failed(row, str(exc) or type(exc).__name__)
    made = await _existing(hub, parsed)
    fresh = [(row, data) for row, data in parsed if row.id not in made]
    if fresh:
        matches = await _matches(hub, fresh)
        made |= await _create(hub, fresh, matches)
    if made:
        await TrackerIntake.filter(id__in=list(made)).update(
            state=IntakeState.DONE, error="", processed_at=now(), lease_until=None
        )
    return made


def _parse(row: TrackerIntake) -> JobData:
    body = json.loads(row.payload)
    if not isinstance(body, dict):
        raise JobError("the body is not a JSON object")
    return normalise(row.kind, row.event, body)


async def _existing(hub: Hub, parsed: list[tuple[TrackerIntake, JobData]]) -> dict[int, Job]:
    """Rows whose job exists already (a replay, an outlived lease): one job each."""
    found: dict[int, Job] = {}
    for kind in {row.kind for row, _ in parsed}:
        ids = [data.tracker_job_id for row, data in parsed if row.kind == kind]
        jobs = {
            job.tracker_job_id: job
            for job in await Job.filter(hub_id=hub.id, tracker=kind, tracker_job_id__in=ids)
        }
        for row, data in parsed:
            if row.kind == kind and data.tracker_job_id in jobs:
                found[row.id] = jobs[data.tracker_job_id]
    return found


Match = tuple[User | None, Member | None, str]


async def _matches(hub: Hub, parsed: list[tuple[TrackerIntake, JobData]]) -> dict[int, Match]:
    """`match` for every row of a batch: the accounts, rows and choices in one query each."""
    steam_ids = {data.steam_id for _, data in parsed if data.steam_id}
    users = {u.steam_id: u for u in await User.filter(steam_id__in=steam_ids)} if steam_ids else {}
    user_ids = [u.id for u in users.values()]
    members = (
        {m.user_id: m for m in await Member.filter(hub_id=hub.id, user_id__in=user_ids)}
        if user_ids
        else {}
    )
    choices = (
        dict(
            await TrackerChoice.filter(hub_id=hub.id, user_id__in=user_ids).values_list(
                "user_id", "kind"
            )
        )
        if user_ids
        else {}
    )
    drivers: dict[int, bool] = {}
    found: dict[int, Match] = {}
    for row, data in parsed:
        user = users.get(data.steam_id) if data.steam_id else None
        member = members.get(user.id) if user else None
        if user is not None and user.id not in drivers and member is not None:
            drivers[user.id] = (await grant_of(Actor(user_id=user.id), hub)).has(DRIVER)
        found[row.id] = _verdict(row.kind, user, member, drivers, choices)
    return found


def _verdict(
    kind: TrackerKind,
    user: User | None,
    member: Member | None,
    drivers: dict[int, bool],
    choices: dict[int, str],
) -> Match:
    if user is None:
        return None, None, UNKNOWN_DRIVER
    if member is None or member.state != MemberState.MEMBER:
        return user, None, NOT_A_MEMBER
    if not drivers.get(user.id):
        return user, None, NOT_A_DRIVER
    chosen = choices.get(user.id)
    if chosen is not None and chosen != kind:
        return user, None, OTHER_TRACKER
    return user, member, ""


async def _create(
    hub: Hub, parsed: list[tuple[TrackerIntake, JobData]], matches: dict[int, Match]
) -> dict[int, Job]:
    """The batch's jobs in one insert; the drivers' first tracker remembered. A job made by
    a concurrent worker meanwhile sends the batch one row at a time."""
    jobs = [_job(hub, row, data, matches[row.id]) for row, data in parsed]
    first: dict[int, TrackerKind] = {}
    for row, _ in parsed:
        member = matches[row.id][1]
        if member is not None:
            first.setdefault(member.user_id, row.kind)
    try:
        async with in_transaction():
            await Job.bulk_create(jobs)
            if first:
                await _remember_choices(hub, first)
    except IntegrityError:
        if len(parsed) == 1:  # made meanwhile: that one stands
            row, data = parsed[0]
            return {
                row.id: await Job.get(
                    hub_id=hub.id, tracker=row.kind, tracker_job_id=data.tracker_job_id
                )
            }
        made: dict[int, Job] = {}
        for row, data in parsed:
            made |= await _create(hub, [(row, data)], {row.id: matches[row.id]})
        return made
    saved = await Job.filter(hub_id=hub.id, intake_id__in=[row.id for row, _ in parsed])
    return {job.intake_id: job for job in saved}  # type: ignore[misc]


def _job(hub: Hub, row: TrackerIntake, data: JobData, matched: Match) -> Job:
    user, member, reason = matched
    return Job(
        hub_id=hub.id,
        tracker=row.kind,
        intake_id=row.id,
        user_id=user.id if user else None,
        member_id=member.id if member else None,
        unmatched=reason,
        currency=data.currency,
        **vars(data),
    )


async def _remember_choices(hub: Hub, first: dict[int, TrackerKind]) -> None:
    """A driver's first counted job names the tracker they drive with (until they or staff
    switch): the same drive reported by a second tracker then does not count twice. A
    choice made meanwhile stands."""
    chosen = set(
        await TrackerChoice.filter(hub_id=hub.id, user_id__in=list(first)).values_list(
            "user_id", flat=True
        )
    )
    new = [
        TrackerChoice(hub_id=hub.id, user_id=user_id, kind=kind)
        for user_id, kind in first.items()
        if user_id not in chosen
    ]
    if new:
        await TrackerChoice.bulk_create(new, ignore_conflicts=True)


async def _failed(row: TrackerIntake, reason: str) -> None:
    await TrackerIntake.filter(id=row.id).update(
        state=IntakeState.FAILED, error=reason[:ERROR_LENGTH], processed_at=now(), lease_until=None
    )


__all__ = [
    "NOT_A_DRIVER",
    "NOT_A_MEMBER",
    "OTHER_TRACKER",
    "UNKNOWN_DRIVER",
    "claim",
    "process",
    "process_batch",
    "run_forever",
    "run_once",
]
