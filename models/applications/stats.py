"""Figures for staff: applications per state and type, time to a decision, a weekly series
and each reviewer's decisions, over the last N days."""

from __future__ import annotations

import statistics as stats
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from tortoise.functions import Count

from models import plugins
from models.actor import Actor
from models.applications.common import KEY, REVIEW
from models.applications.schemas import (
    ReviewerStats,
    Statistics,
    StatsQuery,
    TypeCount,
    Week,
)
from models.applications.tables import Application, ApplicationState, ApplicationType
from models.auth import now
from models.hubs import Hub
from models.users import User

DECIDED = (ApplicationState.ACCEPTED, ApplicationState.DECLINED)


def _hours(seconds: list[float]) -> float | None:
    return round(stats.median(seconds) / 3600, 2) if seconds else None


def _monday(moment: datetime) -> str:
    day = moment.date()
    return (day - timedelta(days=day.weekday())).isoformat()


async def statistics(actor: Actor, hub: Hub, query: StatsQuery | None = None) -> Statistics:
    """Applications submitted in the period (counts, weeks) and decisions made in it
    (medians, reviewers). review_applications."""
    await plugins.enter(actor, hub, KEY, REVIEW, write=False)
    query = query or StatsQuery()
    since = now() - timedelta(days=query.days)
    submitted = Application.filter(hub_id=hub.id, created_at__gte=since)
    grouped = (
        await submitted.annotate(n=Count("id"))
        .group_by("type_id", "state")
        .values("type_id", "state", "n")
    )
    names = dict(await ApplicationType.filter(hub_id=hub.id).values_list("id", "name"))
    counts: Counter[str] = Counter({str(state): 0 for state in ApplicationState})
    per_type: dict[int, Counter[str]] = defaultdict(Counter)
    for row in grouped:
        counts[str(row["state"])] += row["n"]
        per_type[row["type_id"]][str(row["state"])] += row["n"]
    types = [
        TypeCount(type_id=type_id, name=names.get(type_id, ""), counts=dict(found))
        for type_id, found in sorted(per_type.items())
    ]
    decided = await Application.filter(
        hub_id=hub.id, state__in=DECIDED, decided_at__gte=since
    ).values_list("created_at", "decided_at", "decided_by_id", "state")
    return Statistics(
        days=query.days,
        counts=dict(counts),
        types=types,
        median_hours_to_decision=_hours([(d - c).total_seconds() for c, d, _, _ in decided]),
        weeks=await _weeks(submitted, decided, since),
        reviewers=await _reviewers(decided),
    )


async def _weeks(submitted, decided, since: datetime) -> list[Week]:  # type: ignore[no-untyped-def]
    received = Counter(_monday(c) for c in await submitted.values_list("created_at", flat=True))
    outcomes = Counter((_monday(d), str(s)) for _, d, _, s in decided)
    weeks, monday = [], datetime.fromisoformat(_monday(since)).date()
    while monday <= now().date():
        key = monday.isoformat()
        weeks.append(
            Week(
                start=key,
                received=received[key],
                accepted=outcomes[(key, "accepted")],
                declined=outcomes[(key, "declined")],
            )
        )
        monday += timedelta(days=7)
    return weeks


async def _reviewers(decided: list[tuple]) -> list[ReviewerStats]:
    per: dict[int, dict[str, list]] = defaultdict(lambda: {"accepted": [], "declined": []})
    for created, decided_at, reviewer, state in decided:
        if reviewer is not None:
            per[reviewer][str(state)].append((decided_at - created).total_seconds())
    names = dict(await User.filter(id__in=list(per)).values_list("id", "username"))
    rows = [
        ReviewerStats(
            user_id=user_id,
            name=names.get(user_id, ""),
            accepted=len(found["accepted"]),
            declined=len(found["declined"]),
            median_hours=_hours(found["accepted"] + found["declined"]),
        )
        for user_id, found in per.items()
    ]
    return sorted(rows, key=lambda r: (-(r.accepted + r.declined), r.user_id))
