"""The rank ladder: a member's rank is the highest threshold their points meet.

`settle_rank` runs inside every booking, after the member's row was locked by it, so
concurrent bookings that cross a threshold change the rank once, and the rank's Discord role
follows through the Discord-actions outbox (pushed, not polled).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator
from tortoise.transactions import in_transaction

from models import audit, discord_actions, plugins, sql
from models.actor import Actor
from models.errors import Conflict, NotFound
from models.hubs import Hub
from models.i18n import N_
from models.members.lifecycle import Signal
from models.members.tables import Member
from models.points.tables import MAX_AMOUNT, PointKind, Rank
from models.text import Name, fold
from models.validation import Patch, Problem

KEY = "points"
MANAGE_RANKS = "manage_ranks"
RANKS_PER_HUB = 100
NO_RANK = N_("no rank")


def _kinds(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    unknown = [k for k in value if k not in {str(kind) for kind in PointKind}]
    if unknown:
        raise Problem(N_("unknown kind of points: {name}"), name=unknown[0])
    return sorted(set(value))


class RankInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name(100)  # type: ignore[valid-type]
    color: int = Field(default=0, ge=0, le=0xFFFFFF)
    threshold: int = Field(ge=0, le=10**15, description="Points needed to reach it.")
    kinds: list[str] = Field(
        default_factory=list, description="Kinds of points that count; empty: all of them."
    )
    discord_role_id: int | None = Field(default=None, gt=0, lt=2**63)
    daily_bonus: int = Field(default=0, ge=0, le=MAX_AMOUNT)
    distance_bonus: int = Field(default=0, ge=0, le=1000, description="Percent.")

    _check_kinds = field_validator("kinds")(_kinds)


class RankUpdate(BaseModel):
    """Fields to change; `discord_role_id` may be null (unlinked)."""

    model_config = ConfigDict(extra="forbid")
    name: Patch[Name(100)] = None  # type: ignore[valid-type]
    color: Patch[int] = Field(default=None, ge=0, le=0xFFFFFF)
    threshold: Patch[int] = Field(default=None, ge=0, le=10**15)
    kinds: Patch[list[str]] = None
    discord_role_id: int | None = Field(default=None, gt=0, lt=2**63)
    daily_bonus: Patch[int] = Field(default=None, ge=0, le=MAX_AMOUNT)
    distance_bonus: Patch[int] = Field(default=None, ge=0, le=1000)

    _check_kinds = field_validator("kinds")(_kinds)


async def rank_in(hub: Hub, rank_id: int) -> Rank:
    rank = await Rank.get_or_none(id=rank_id, hub_id=hub.id)
    if rank is None:
        raise NotFound(N_("That rank does not exist."), code="rank_not_found")
    return rank


async def ladder(hub: Hub) -> list[Rank]:
    """The hub's ranks, lowest threshold first (every booking reads it: see models.sql)."""
    return await sql.instances(
        Rank, "SELECT * FROM ranks WHERE hub_id = ? ORDER BY threshold, id", [hub.id]
    )


async def ranks(actor: Actor, hub: Hub) -> list[Rank]:
    await plugins.enter(actor, hub, KEY, None, write=False)
    return await ladder(hub)


async def kind_totals(member_id: int) -> dict[str, int]:
    """The member's kept total of each kind of points (never the ledger)."""
    rows = await sql.fetch("SELECT kind, total FROM point_totals WHERE member_id = ?", [member_id])
    return {str(row["kind"]): int(row["total"]) for row in rows}


def counted(rank: Rank, overall: int, totals: dict[str, int]) -> int:
    """The points that count toward `rank`: the overall total, or the sum of its kinds."""
    if not rank.kinds:
        return overall
    return sum(totals.get(kind, 0) for kind in rank.kinds)


async def points_for(member_id: int, rank: Rank, overall: int) -> int:
    if not rank.kinds:
        return overall
    return counted(rank, overall, await kind_totals(member_id))


async def reached(
    member: Member, steps: list[Rank], totals: dict[str, int] | None = None
) -> Rank | None:
    """The highest rank whose threshold the member's points meet (`totals`: their kind
    totals if the caller has them, else they are read when a rank counts chosen kinds)."""
    if totals is None:
        totals = await kind_totals(member.id) if any(rank.kinds for rank in steps) else {}
    best = None
    for rank in steps:  # lowest first
        if counted(rank, member.points, totals) >= rank.threshold:
            best = rank
    return best


async def settle_rank(
    hub: Hub,
    member: Member,
    *,
    current_id: int | Ellipsis | None = ...,
    steps: list[Rank] | None = None,
    totals: dict[str, int] | None = None,
) -> list[Signal]:
    """Move the member to the rank their points reach now (call it with their row locked;
    `current_id`: their rank as that lock read it, else it is read here; `steps` and
    `totals`: the ladder and their kind totals if the caller read them already)."""
    if steps is None:
        steps = await ladder(hub)
    if current_id is ...:
        current_id = (await Member.get(id=member.id).only("id", "rank_id")).rank_id
    target = await reached(member, steps, totals) if steps else None
    by_id = {rank.id: rank for rank in steps}
    current = by_id.get(current_id) if current_id else None
    if (
        current is not None
        and plugins.settings_of(hub, KEY).ranks_never_down
        and (target is None or target.threshold < current.threshold)
    ):
        return []  # the hub keeps ranks once reached
    new_id = target.id if target else None
    if new_id == current_id:
        return []
    # Conditional: only the booking that sees the old rank moves it (belt and braces: the
    # member's row is locked by the booking already).
    if not await Member.filter(id=member.id, rank_id=current_id).update(rank_id=new_id):
        return []
    member.rank_id = new_id
    await _follow(hub, member, current, target)
    await _tell(hub, member, current, target)
    if target is not None and (current is None or target.threshold > current.threshold):
        from models.posts.ops import emit_member

        await emit_member(
            hub,
            "member.rank_up",
            member,
            rank=target.name,
            previous=current.name if current else "",
            points=member.points,
        )
    return [
        Signal(
            "member.rank_changed",
            hub.id,
            member.id,
            {
                "from": current.name if current else None,
                "to": target.name if target else None,
                "up": (target.threshold if target else -1) > (current.threshold if current else -1),
            },
        )
    ]


async def _follow(hub: Hub, member: Member, old: Rank | None, new: Rank | None) -> None:
    """The rank's Discord role follows the member's rank."""
    linked = [(r, add) for r, add in ((old, False), (new, True)) if r and r.discord_role_id]
    if hub.guild_id is None or not linked:
        return
    found = await Member.filter(id=member.id).values_list("user__discord_id", flat=True)
    for rank, add in linked:
        await discord_actions.follow_role(
            hub, found[0] if found else None, rank.discord_role_id, add=add, reason="rank"
        )


async def _tell(hub: Hub, member: Member, old: Rank | None, new: Rank | None) -> None:
    """The member is notified of their new rank, up or down (in the booking's transaction)."""
    from models.notifications.center import notify

    user_id = member.user_id  # a booking's member row carries the ids and totals only
    if user_id is None:
        found = await Member.filter(id=member.id).values_list("user_id", flat=True)
        user_id = found[0]
    data = {
        "hub": hub.name,
        "rank": new.name if new else {"t": NO_RANK},  # {"t": ...}: translated for the reader
        "previous": old.name if old else {"t": NO_RANK},
    }
    await notify([user_id], "member.rank_changed", data, hub=hub)


async def _refuse_duplicates(hub: Hub, values: dict, rank_id: int | None = None) -> None:
    others = Rank.filter(hub_id=hub.id).exclude(id=rank_id or 0)
    if "name" in values and fold(values["name"]) in {
        fold(n) for n in await others.values_list("name", flat=True)
    }:
        raise Conflict(N_("A rank with that name exists."), code="rank_name_taken")
    if "threshold" in values and await others.filter(threshold=values["threshold"]).exists():
        raise Conflict(N_("Another rank has that threshold."), code="rank_threshold_taken")


async def create_rank(actor: Actor, hub: Hub, data: RankInput) -> Rank:
    await plugins.enter(actor, hub, KEY, MANAGE_RANKS, write=True)
    async with in_transaction():
        if await Rank.filter(hub_id=hub.id).count() >= RANKS_PER_HUB:
            raise Conflict(
                N_("A hub has at most {limit} ranks."), code="too_many_ranks", limit=RANKS_PER_HUB
            )
        await _refuse_duplicates(hub, data.model_dump())
        rank = await Rank.create(hub_id=hub.id, **data.model_dump())
        await audit.record(
            actor, "points.rank_created", hub=hub, target=str(rank.id), details=_view(rank)
        )
    return rank


async def edit_rank(actor: Actor, hub: Hub, rank_id: int, data: RankUpdate) -> Rank:
    """Change a rank. Members move to their new ranks as their points next change, or at
    once with `drivershub rebuild-points`."""
    await plugins.enter(actor, hub, KEY, MANAGE_RANKS, write=True)
    changes = data.model_dump(exclude_unset=True)
    async with in_transaction():
        rank = await rank_in(hub, rank_id)
        await _refuse_duplicates(hub, changes, rank.id)
        before = _view(rank)
        rank.update_from_dict(changes)
        await rank.save()
        await audit.record(
            actor,
            "points.rank_edited",
            hub=hub,
            target=str(rank.id),
            details={"before": before, "after": _view(rank)},
        )
    return rank


async def delete_rank(actor: Actor, hub: Hub, rank_id: int) -> None:
    await plugins.enter(actor, hub, KEY, MANAGE_RANKS, write=True)
    async with in_transaction():
        rank = await rank_in(hub, rank_id)
        await audit.record(
            actor, "points.rank_deleted", hub=hub, target=str(rank.id), details=_view(rank)
        )
        await rank.delete()


def _view(rank: Rank) -> dict:
    return {
        "name": rank.name,
        "threshold": rank.threshold,
        "kinds": list(rank.kinds),
        "discord_role_id": str(rank.discord_role_id) if rank.discord_role_id else None,
        "daily_bonus": rank.daily_bonus,
        "distance_bonus": rank.distance_bonus,
    }


class Progress(BaseModel):
    rank: str | None
    rank_id: int | None
    points: int = Field(description="The points that count toward the next rank.")
    next_rank: str | None
    next_threshold: int | None
    remaining: int | None = Field(description="Points still needed for the next rank.")
    percent: int | None = Field(description="0 to 100 of the way from this rank to the next.")


async def progress(member: Member, steps: list[Rank]) -> Progress:
    """Where a member stands on the ladder (no ledger query: totals only)."""
    current = next((r for r in steps if r.id == member.rank_id), None)
    above = [r for r in steps if current is None or r.threshold > current.threshold]
    following = above[0] if above else None
    counted = (
        await points_for(member.id, following or current, member.points)
        if (following or current)
        else member.points
    )
    if following is None:
        return Progress(
            rank=current.name if current else None,
            rank_id=current.id if current else None,
            points=counted,
            next_rank=None,
            next_threshold=None,
            remaining=None,
            percent=None,
        )
    floor = current.threshold if current else 0
    span = max(following.threshold - floor, 1)
    done = min(max(counted - floor, 0), span)
    return Progress(
        rank=current.name if current else None,
        rank_id=current.id if current else None,
        points=counted,
        next_rank=following.name,
        next_threshold=following.threshold,
        remaining=max(following.threshold - counted, 0),
        percent=done * 100 // span,
    )
