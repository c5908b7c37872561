"""Reading points: a member's totals and rank, the ledger, leaderboards, and the rebuild of
totals and period sums from the ledger (for `drivershub rebuild-points`).

Totals, ranks and leaderboards read only the kept sums (`Member.points`, `PointTotal`,
`PointPeriod`): no read but the ledger listing touches the ledger."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from tortoise.expressions import Subquery
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from models import plugins
from models.actor import Actor
from models.auth import now
from models.errors import NotFound
from models.hubs import Hub
from models.i18n import N_
from models.members.directory import as_utc
from models.members.lifecycle import MANAGE as MANAGE_MEMBERS
from models.members.lifecycle import member_in
from models.members.tables import Member, MemberState
from models.pagination import Page, PageQuery, paginate
from models.permissions import require_member
from models.points.ledger import KEY, local_day, period_starts
from models.points.ranks import Progress, ladder, progress, settle_rank
from models.points.tables import ALL, Period, PointEntry, PointKind, PointPeriod, PointTotal


class Totals(BaseModel):
    member_id: int
    total: int
    by_kind: dict[str, int]
    rank: Progress


async def totals_of(hub: Hub, member: Member) -> Totals:
    by_kind = dict(await PointTotal.filter(member_id=member.id).values_list("kind", "total"))
    return Totals(
        member_id=member.id,
        total=member.points,
        by_kind={str(k): v for k, v in by_kind.items()},
        rank=await progress(member, await ladder(hub)),
    )


async def totals(actor: Actor, hub: Hub, member_id: int) -> Totals:
    """A member's total, per kind, and rank with progress (anyone the hub lets in)."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    return await totals_of(hub, await visible_member(actor, hub, member_id))


async def visible_member(actor: Actor, hub: Hub, member_id: int) -> Member:
    """A member row the reader may see points of: as for profiles, members' rows for anyone
    the hub lets in, every row for staff (manage_members), and the reader's own."""
    grant = await require_member(actor, hub, self_id=member_id)
    member = await member_in(hub, member_id)
    if not (
        grant.has(MANAGE_MEMBERS)
        or member.state == MemberState.MEMBER
        or member.user_id == actor.user_id
    ):
        raise NotFound(N_("That member does not exist."), code="member_not_found")
    return member


class EntryView(BaseModel):
    id: int
    member_id: int
    kind: PointKind
    amount: int
    reason: str
    source: str
    actor_id: int | None
    counts_at: datetime
    created_at: datetime


def entry_view(entry: PointEntry) -> EntryView:
    return EntryView(
        id=entry.id,
        member_id=entry.member_id,
        kind=entry.kind,
        amount=entry.amount,
        reason=entry.reason,
        source=entry.source,
        actor_id=entry.actor_id,
        counts_at=entry.counts_at,
        created_at=entry.created_at,
    )


class LedgerQuery(PageQuery):
    member: int | None = Field(default=None, gt=0, lt=2**63, description="One member's rows.")
    kind: PointKind | None = None
    source: str | None = Field(default=None, min_length=1, max_length=64)
    since: datetime | None = Field(default=None, description="counts_at from.")
    until: datetime | None = Field(default=None, description="counts_at before.")

    _aware = field_validator("since", "until")(as_utc)


async def ledger(actor: Actor, hub: Hub, query: LedgerQuery) -> Page[EntryView]:
    """The hub's ledger, newest first, filtered (anyone the hub lets in)."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    await require_member(actor, hub)
    rows = PointEntry.filter(hub_id=hub.id)
    if query.member is not None:
        rows = rows.filter(member_id=(await visible_member(actor, hub, query.member)).id)
    if query.kind is not None:
        rows = rows.filter(kind=query.kind)
    if query.source is not None:
        rows = rows.filter(source=query.source)
    if query.since is not None:
        rows = rows.filter(counts_at__gte=query.since)
    if query.until is not None:
        rows = rows.filter(counts_at__lt=query.until)
    return await paginate(rows, query, ("-id",), entry_view)


class BoardQuery(BaseModel):
    period: Literal["day", "week", "month", "year", "all"] = "month"
    at: date | None = Field(default=None, description="A day in the period; today by default.")
    kinds: list[PointKind] = Field(default_factory=list, description="Empty: every kind.")
    limit: int = Field(default=20, ge=1, le=100)


class BoardRow(BaseModel):
    place: int
    member_id: int
    name: str
    number: int | None
    points: int


class Board(BaseModel):
    period: str
    start: date | None
    kinds: list[str]
    rows: list[BoardRow]


async def leaderboard(actor: Actor, hub: Hub, query: BoardQuery) -> Board:
    """The best members of a period by points of chosen kinds (members only; read from the
    kept sums: one indexed query)."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    await require_member(actor, hub)
    kinds = sorted({str(k) for k in query.kinds})
    members = Member.filter(hub_id=hub.id, state=MemberState.MEMBER)
    if query.period == "all":
        start = None
        if kinds:
            rows = (
                await PointTotal.filter(member__hub_id=hub.id, member__state=MemberState.MEMBER)
                .filter(kind__in=kinds)
                .annotate(points=Sum("total"))
                .group_by("member_id")
                .order_by("-points", "member_id")
                .limit(query.limit)
                .values_list("member_id", "points")
            )
        else:
            rows = (
                await members.order_by("-points", "id")
                .limit(query.limit)
                .values_list("id", "points")
            )
    else:
        start = period_starts(query.at or local_day(hub, now()))[Period(query.period)]
        sums = PointPeriod.filter(
            hub_id=hub.id,
            period=query.period,
            start=start,
            member__state=MemberState.MEMBER,
        )
        if len(kinds) <= 1:
            rows = (
                await sums.filter(kind=kinds[0] if kinds else ALL)
                .order_by("-amount", "member_id")
                .limit(query.limit)
                .values_list("member_id", "amount")
            )
        else:
            rows = (
                await sums.filter(kind__in=kinds)
                .annotate(points=Sum("amount"))
                .group_by("member_id")
                .order_by("-points", "member_id")
                .limit(query.limit)
                .values_list("member_id", "points")
            )
    names = {
        mid: (name, number)
        for mid, name, number in await Member.filter(id__in=[r[0] for r in rows]).values_list(
            "id", "user__username", "number"
        )
    }
    return Board(
        period=query.period,
        start=start,
        kinds=kinds,
        rows=[
            BoardRow(
                place=i + 1,
                member_id=mid,
                name=names.get(mid, ("?", None))[0],
                number=names.get(mid, ("?", None))[1],
                points=int(points or 0),
            )
            for i, (mid, points) in enumerate(rows)
        ],
    )


async def rebuild(hub: Hub, batch: int = 5000) -> int:
    """Recompute every member's totals and period sums of `hub` from its ledger, then settle
    their ranks. Returns how many ledger rows were read. Run it with the hub quiet (a booking
    during the rebuild may be counted twice or not at all until the next rebuild)."""
    totals: dict[tuple[int, str], int] = defaultdict(int)
    overall: dict[int, int] = defaultdict(int)
    periods: dict[tuple[int, str, date, str], int] = defaultdict(int)
    last, read = 0, 0
    while True:
        chunk = (
            await PointEntry.filter(hub_id=hub.id, id__gt=last)
            .order_by("id")
            .limit(batch)
            .values_list("id", "member_id", "kind", "amount", "counts_at")
        )
        if not chunk:
            break
        for entry_id, member_id, kind, amount, counts_at in chunk:
            totals[(member_id, str(kind))] += amount
            overall[member_id] += amount
            for period, start in period_starts(local_day(hub, counts_at)).items():
                periods[(member_id, str(period), start, str(kind))] += amount
                periods[(member_id, str(period), start, ALL)] += amount
            last = entry_id
        read += len(chunk)
    async with in_transaction():
        # A subquery, not a list of ids: a hub may have more members than a query has room
        # for parameters.
        hub_members = Member.filter(hub_id=hub.id).values("id")
        await PointTotal.filter(member_id__in=Subquery(hub_members)).delete()
        await PointPeriod.filter(hub_id=hub.id).delete()
        await Member.filter(hub_id=hub.id).update(points=0)
        await PointTotal.bulk_create(
            [PointTotal(member_id=m, kind=k, total=t) for (m, k), t in totals.items()],
            batch_size=1000,
        )
        await PointPeriod.bulk_create(
            [
                PointPeriod(hub_id=hub.id, member_id=m, period=p, start=s, kind=k, amount=a)
                for (m, p, s, k), a in periods.items()
            ],
            batch_size=1000,
        )
        for member_id, points in overall.items():
            await Member.filter(id=member_id).update(points=points)
    for member in await Member.filter(hub_id=hub.id):
        async with in_transaction():
            await settle_rank(hub, member)
    return read
