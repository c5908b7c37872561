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
BATCH = 50
IDLE_WAIT = 5.0  # seconds between looks when nothing woke the worker
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
    hubs: dict[int, Hub] = {}
    for row in rows:
        hub = hubs.get(row.hub_id) or await Hub.get(id=row.hub_id)
        hubs[row.hub_id] = hub
        try:
            await process(hub, row)
        except Exception as exc:  # a bug must not stop the batch: the row says what broke
            log.exception("tracker intake %s failed unexpectedly", row.id)
            await _failed(row, f"internal error: {exc!r}")
    return len(rows)


async def run_forever() -> None:
    while True:
        intake.stored.clear()
        try:
            handled = await run_once()
        except Exception:  # the database may be briefly away; the leases keep rows safe
            log.exception("tracker worker failed; retrying")
            handled = 0
        if handled:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(intake.stored.wait(), IDLE_WAIT)


async def process(hub: Hub, row: TrackerIntake) -> Job | None:
    """Make (or find) the job of one stored delivery and mark the row done, or failed with
    the reason."""
    try:
        body = json.loads(row.payload)
        if not isinstance(body, dict):
            raise JobError("the body is not a JSON object")
        data = normalise(row.kind, row.event, body)
    except (ValueError, KeyError, JobError) as exc:
        await _failed(row, str(exc) or type(exc).__name__)
        return None
    job = await _save(hub, row, data)
    await TrackerIntake.filter(id=row.id).update(
        state=IntakeState.DONE, error="", processed_at=now(), lease_until=None
    )
    return job


async def _save(hub: Hub, row: TrackerIntake, data: JobData) -> Job:
    existing = await Job.get_or_none(
        hub_id=hub.id, tracker=row.kind, tracker_job_id=data.tracker_job_id
    )
    if existing is not None:
        return existing  # processed before (a replay, an outlived lease): one job
    user, member, reason = await match(hub, row.kind, data.steam_id)
    fields = dict(vars(data))
    try:
        async with in_transaction():
            job = await Job.create(
                hub_id=hub.id,
                tracker=row.kind,
                intake_id=row.id,
                user_id=user.id if user else None,
                member_id=member.id if member else None,
                unmatched=reason,
                currency=data.currency,
                **fields,
            )
            if member is not None:
                await _remember_choice(hub, member.user_id, row.kind)
    except IntegrityError:  # made by a concurrent worker meanwhile
        return await Job.get(hub_id=hub.id, tracker=row.kind, tracker_job_id=data.tracker_job_id)
    return job


async def match(
    hub: Hub, kind: TrackerKind, steam_id: int | None
) -> tuple[User | None, Member | None, str]:
    """Who a job counts for: the account with the Steam id, if it is a member of the hub
    with the driver permission who drives with this tracker; else why not."""
    user = await User.get_or_none(steam_id=steam_id) if steam_id else None
    if user is None:
        return None, None, UNKNOWN_DRIVER
    member = await Member.get_or_none(hub_id=hub.id, user_id=user.id)
    if member is None or member.state != MemberState.MEMBER:
        return user, None, NOT_A_MEMBER
    if not (await grant_of(Actor(user_id=user.id), hub)).has(DRIVER):
        return user, None, NOT_A_DRIVER
    choice = await TrackerChoice.get_or_none(hub_id=hub.id, user_id=user.id)
    if choice is not None and choice.kind != kind:
        return user, None, OTHER_TRACKER
    return user, member, ""


async def _remember_choice(hub: Hub, user_id: int, kind: TrackerKind) -> None:
    """A driver's first counted job names the tracker they drive with (until they or staff
    switch): the same drive reported by a second tracker then does not count twice."""
    try:
        async with in_transaction():
            await TrackerChoice.get_or_create(
                hub_id=hub.id, user_id=user_id, defaults={"kind": kind}
            )
    except IntegrityError:
        pass  # chosen concurrently: that choice stands


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
    "match",
    "process",
    "run_forever",
    "run_once",
]
