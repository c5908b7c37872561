"""Every tracker operation for the adapters: `from models.tracker import ops`.

Staff (manage_tracker) connect trackers (their secrets, rotated with a grace period), see
the intake and replay what failed, list jobs and assign the unmatched ones. Drivers choose
the tracker they drive with.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from models import audit, encryption, plugins
from models.actor import Actor
from models.auth import now
from models.errors import BadRequest, Conflict, DomainError, NotFound
from models.hubs import Hub
from models.i18n import N_
from models.members.lifecycle import member_in
from models.members.tables import MemberState
from models.pagination import Page, paginate
from models.permissions import missing_permission, require_member
from models.tracker import intake, processing
from models.tracker.intake import KEY, connection_of, kind_of, tracker_not_found
from models.tracker.schemas import (
    AssignInput,
    ChoiceInput,
    ChoiceView,
    ConnectionInput,
    ConnectionView,
    IntakeQuery,
    IntakeView,
    JobQuery,
    JobView,
)
from models.tracker.tables import (
    IntakeState,
    Job,
    TrackerChoice,
    TrackerConnection,
    TrackerIntake,
    TrackerKind,
)

MANAGE = "manage_tracker"


def intake_not_found() -> NotFound:
    return NotFound(N_("That tracker delivery does not exist."), code="intake_not_found")


def job_not_found() -> NotFound:
    return NotFound(N_("That job does not exist."), code="job_not_found")


def webhook_path(hub: Hub, kind: TrackerKind) -> str:
    return f"/api/v1/hubs/{hub.slug}/trackers/{kind.value}"


# Connections


async def connections(actor: Actor, hub: Hub, *, base_url: str) -> list[ConnectionView]:
    await plugins.enter(actor, hub, KEY, MANAGE, write=False)
    rows = await TrackerConnection.filter(hub_id=hub.id).order_by("kind")
    return [_connection_view(hub, row, base_url) for row in rows]


async def connect(
    actor: Actor, hub: Hub, raw_kind: str, data: ConnectionInput, *, base_url: str
) -> ConnectionView:
    """Connect the tracker, or give it a new secret: the previous one keeps working for
    `previous_valid_hours` (a rotation without lost deliveries)."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    kind = kind_of(raw_kind)
    made = None if data.secret is not None else secrets.token_urlsafe(32)
    secret = data.secret.get_secret_value() if data.secret is not None else made
    assert secret is not None
    async with in_transaction():
        row = await TrackerConnection.get_or_none(hub_id=hub.id, kind=kind)
        if row is None:
            row = await TrackerConnection.create(
                hub_id=hub.id,
                kind=kind,
                secret=encryption.seal(secret),
                allowed_ips=data.allowed_ips,
            )
            action = "tracker.connected"
        else:
            keep = timedelta(hours=data.previous_valid_hours)
            row.previous_secret = row.secret if keep else ""
            row.previous_until = now() + keep if keep else None
            row.secret = encryption.seal(secret)
            row.allowed_ips = data.allowed_ips
            await row.save()
            action = "tracker.secret_rotated"
        await audit.record(actor, action, hub=hub, target=kind.value)
    intake.forget_door(hub, kind)
    view = _connection_view(hub, row, base_url)
    return view.model_copy(update={"secret": made})


async def disconnect(actor: Actor, hub: Hub, raw_kind: str) -> None:
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    kind = kind_of(raw_kind)
    deleted = await TrackerConnection.filter(hub_id=hub.id, kind=kind).delete()
    if not deleted:
        raise tracker_not_found()
    intake.forget_door(hub, kind)
    await audit.record(actor, "tracker.disconnected", hub=hub, target=kind.value)


def _connection_view(hub: Hub, row: TrackerConnection, base_url: str) -> ConnectionView:
    path = webhook_path(hub, row.kind)
    until = row.previous_until if row.previous_secret else None
    return ConnectionView(
        kind=row.kind,
        webhook_path=path,
        webhook_url=base_url.rstrip("/") + path,
        allowed_ips=list(row.allowed_ips or []),
        previous_valid_until=until,
        updated_at=row.updated_at,
    )


# The intake


async def intake_list(actor: Actor, hub: Hub, query: IntakeQuery) -> Page[IntakeView]:
    """The hub's deliveries, newest first (failed ones say why)."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=False)
    rows = TrackerIntake.filter(hub_id=hub.id)
    if query.state is not None:
        rows = rows.filter(state=query.state)
    if query.kind is not None:
        rows = rows.filter(kind=query.kind)
    return await paginate(rows, query, ("-id",), _intake_view)


async def replay(actor: Actor, hub: Hub, intake_id: int) -> IntakeView:
    """Process a failed (or stuck) delivery again now; a job it made before stays one job.
    409 already_processed for one that is done."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    row = await TrackerIntake.get_or_none(id=intake_id, hub_id=hub.id)
    if row is None:
        raise intake_not_found()
    if row.state in (IntakeState.DONE, IntakeState.IGNORED) or not row.dedupe_key:
        raise Conflict(N_("This delivery cannot be processed again."), code="already_processed")
    await processing.process(hub, row)
    await audit.record(actor, "tracker.replayed", hub=hub, target=str(row.id))
    return await _intake_view(await TrackerIntake.get(id=row.id))


async def replay_failed(hub: Hub) -> int:
    """Every failed delivery of the hub processed again (the CLI, after a fix); how many
    made a job now."""
    done = 0
    rows = await TrackerIntake.filter(hub_id=hub.id, state=IntakeState.FAILED).exclude(
        dedupe_key=None
    )
    for row in rows:
        if await processing.process(hub, row) is not None:
            done += 1
    return done


async def backfill(hub: Hub, raw_kind: str, text: str) -> dict[str, int]:
    """Store and process the payloads in `text` (a JSON array of bodies, or one body per
    line) as if the tracker had sent them: what was received before is not doubled. For
    operators (no signature: they hold the file)."""
    kind = kind_of(raw_kind)
    bodies = _payloads(text)
    counts = {"accepted": 0, "duplicate": 0, "ignored": 0, "failed": 0}
    for body in bodies:
        if body is None:  # a line that is not JSON
            counts["failed"] += 1
            continue
        raw = json.dumps(body).encode()
        try:
            receipt = await intake.store(hub, kind, raw, body, {})
        except DomainError:  # recorded failed with the reason; the rest goes on
            counts["failed"] += 1
            continue
        counts[receipt.status] += 1
    await processing.run_once(limit=len(bodies) or 1)
    while await processing.run_once():
        pass
    return counts


def _payloads(text: str) -> list[Any]:
    """The bodies of a backfill file: a JSON array, or one JSON body per line (a line that
    is not JSON is None, counted as failed)."""
    if text.lstrip().startswith("["):
        try:
            found = json.loads(text)
        except ValueError as exc:
            raise BadRequest(
                N_("The file is not a JSON array: {reason}"), reason=str(exc)
            ) from None
        return found if isinstance(found, list) else [found]
    bodies: list[Any] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            bodies.append(json.loads(line))
        except ValueError:
            bodies.append(None)
    return bodies


async def _intake_view(row: TrackerIntake) -> IntakeView:
    job = await Job.filter(intake_id=row.id).values_list("id", flat=True)
    return IntakeView(
        id=row.id,
        kind=row.kind,
        event=row.event,
        state=row.state,
        error=row.error,
        attempts=row.attempts,
        received_at=row.received_at,
        processed_at=row.processed_at,
        job_id=job[0] if job else None,
    )


# Jobs


async def jobs(actor: Actor, hub: Hub, query: JobQuery) -> Page[JobView]:
    """The hub's jobs, newest first. Staff see all; a member sees their own."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    grant = await require_member(actor, hub)
    rows = Job.filter(hub_id=hub.id)
    if not grant.has(MANAGE):
        mine = await _my_member_id(actor, hub)
        if query.member is not None and query.member != mine:
            raise missing_permission(MANAGE)
        if mine is None:  # in the Discord server, not (yet) in the hub: no jobs of theirs
            return Page[JobView](items=[], next_cursor=None)
        rows = rows.filter(member_id=mine)
    if query.member is not None:
        rows = rows.filter(member_id=query.member)
    if query.unmatched is True:
        rows = rows.exclude(unmatched="")
    elif query.unmatched is False:
        rows = rows.filter(unmatched="")
    return await paginate(rows, query, ("-id",), job_view)


async def assign(actor: Actor, hub: Hub, job_id: int, data: AssignInput) -> JobView:
    """Count an unmatched job for a member (staff): a drive the tracker could not tie to
    anyone, or one from a driver who had not linked Steam yet."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    job = await Job.get_or_none(id=job_id, hub_id=hub.id)
    if job is None:
        raise job_not_found()
    member = await member_in(hub, data.member_id)
    if member.state != MemberState.MEMBER:
        raise Conflict(N_("Only members can be given a job."), code="not_a_member")
    async with in_transaction():
        job.member_id, job.user_id, job.unmatched = member.id, member.user_id, ""
        await job.save()
        details = {"member": member.id, "tracker_job_id": job.tracker_job_id}
        await audit.record(
            actor, "tracker.job_assigned", hub=hub, target=str(job.id), details=details
        )
    return job_view(job)


def job_view(job: Job) -> JobView:
    return JobView(
        id=job.id,
        tracker=job.tracker,
        tracker_job_id=job.tracker_job_id,
        status=job.status,
        member_id=job.member_id,
        user_id=job.user_id,
        steam_id=str(job.steam_id) if job.steam_id else None,
        driver_name=job.driver_name,
        unmatched=job.unmatched,
        game=job.game,
        currency=job.currency,
        market=job.market,
        multiplayer=job.multiplayer,
        server=job.server,
        truck=job.truck,
        trailer=job.trailer,
        cargo=job.cargo,
        cargo_mass_kg=job.cargo_mass_kg,
        source_city=job.source_city,
        source_company=job.source_company,
        destination_city=job.destination_city,
        destination_company=job.destination_company,
        planned_km=job.planned_km,
        driven_km=job.driven_km,
        revenue=job.revenue,
        penalty=job.penalty,
        fuel_l=job.fuel_l,
        damage=job.damage,
        top_speed_kmh=job.top_speed_kmh,
        fines=job.fines,
        tolls=job.tolls,
        ferries=job.ferries,
        started_at=job.started_at,
        finished_at=job.finished_at,
        created_at=job.created_at,
    )


# The driver's tracker


async def choice(actor: Actor, hub: Hub, member_id: int) -> ChoiceView:
    await plugins.enter(actor, hub, KEY, None, write=False)
    member = await _member_for(actor, hub, member_id)
    row = await TrackerChoice.get_or_none(hub_id=hub.id, user_id=member.user_id)
    return ChoiceView(tracker=row.kind if row else None)


async def choose(actor: Actor, hub: Hub, member_id: int, data: ChoiceInput) -> ChoiceView:
    """Switch the tracker a member drives with (themselves, or staff)."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    member = await _member_for(actor, hub, member_id)
    kind = TrackerKind(data.tracker)
    async with in_transaction():
        await TrackerChoice.update_or_create(
            defaults={"kind": kind}, hub_id=hub.id, user_id=member.user_id
        )
        await audit.record(
            actor,
            "tracker.choice_changed",
            hub=hub,
            target=str(member.id),
            details={"tracker": kind.value},
        )
    return ChoiceView(tracker=kind)


async def _member_for(actor: Actor, hub: Hub, member_id: int):  # type: ignore[no-untyped-def]
    member = await member_in(hub, member_id)
    if member.user_id != actor.user_id:
        grant = await require_member(actor, hub)
        if not grant.has(MANAGE):
            raise missing_permission(MANAGE)
    return member


async def _my_member_id(actor: Actor, hub: Hub) -> int | None:
    from models.members.tables import Member

    found = await Member.filter(hub_id=hub.id, user_id=actor.user_id).values_list("id", flat=True)
    return found[0] if found else None


__all__ = [
    "MANAGE",
    "assign",
    "backfill",
    "choice",
    "choose",
    "connect",
    "connection_of",
    "connections",
    "disconnect",
    "intake_list",
    "intake_not_found",
    "job_not_found",
    "job_view",
    "jobs",
    "replay",
    "replay_failed",
    "webhook_path",
]
