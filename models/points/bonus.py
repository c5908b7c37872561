"""The daily bonus: once per day of the member's own calendar (their time zone, else the
hub's), with streaks. The unique (member, day) index makes a second claim of the same day
fail, also when two arrive at once."""

from __future__ import annotations

import zoneinfo
from datetime import date, timedelta

from pydantic import BaseModel
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import plugins
from models.actor import Actor
from models.auth import now
from models.errors import Conflict
from models.hubs import Hub
from models.i18n import N_
from models.members.tables import Member, MemberState
from models.points.ledger import KEY, Booking, book
from models.points.ranks import ladder
from models.points.tables import BonusClaim, PointKind


def _zone(name: str | None) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def today_for(member: Member, hub: Hub) -> date:
    """The member's calendar day now: their own time zone, else the hub's."""
    zone = _zone(member.user.timezone) or _zone(hub.timezone) or zoneinfo.ZoneInfo("UTC")
    return now().astimezone(zone).date()


class BonusResult(BaseModel):
    day: date
    amount: int
    streak: int
    total: int


async def _member_of(actor: Actor, hub: Hub) -> Member:
    member = await Member.get_or_none(hub_id=hub.id, user_id=actor.user_id).select_related("user")
    if member is None or member.state != MemberState.MEMBER:
        raise Conflict(N_("Only members of this hub can claim a bonus."), code="not_a_member")
    return member


async def amount_for(hub: Hub, member: Member, streak: int) -> int:
    settings = plugins.settings_of(hub, KEY)
    steps = await ladder(hub)
    rank = next((r for r in steps if r.id == member.rank_id), None)
    base = (
        rank.daily_bonus if rank is not None and rank.daily_bonus else settings.daily_bonus_amount
    )
    extra = settings.streak_bonus * (streak - 1)
    if settings.max_streak_bonus:
        extra = min(extra, settings.max_streak_bonus)
    return base + extra


async def claim(actor: Actor, hub: Hub) -> BonusResult:
    """Claim today's bonus (409 bonus_claimed if already claimed today, bonus_off if the
    hub has none)."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    if not plugins.settings_of(hub, KEY).daily_bonus:
        raise Conflict(N_("This hub has no daily bonus."), code="bonus_off")
    member = await _member_of(actor, hub)
    day = today_for(member, hub)
    latest = await BonusClaim.filter(member_id=member.id).order_by("-day").first()
    if latest is not None and latest.day >= day:
        # Also after a change of time zone: a day on or before the last claimed one is not
        # claimed again, so switching zones never gives a second bonus in one real day.
        raise _claimed()
    yesterday = await BonusClaim.get_or_none(member_id=member.id, day=day - timedelta(days=1))
    streak = yesterday.streak + 1 if yesterday else 1
    try:
        async with in_transaction():
            record = await BonusClaim.create(member_id=member.id, day=day, amount=0, streak=streak)
            amount = await amount_for(hub, member, streak)
            booking: Booking = await book(
                hub,
                member,
                PointKind.BONUS,
                amount,
                reason="",  # the kind says it (shown in the reader's language)
                source=f"bonus:{day.isoformat()}",
                actor_id=actor.user_id,
            )
            record.amount, record.entry_id = amount, booking.entry.id
            await record.save(update_fields=["amount", "entry_id"])
    except IntegrityError:
        raise _claimed() from None
    return BonusResult(day=day, amount=amount, streak=streak, total=booking.total)


def _claimed() -> Conflict:
    return Conflict(
        N_("You already claimed today's bonus. Come back tomorrow."), code="bonus_claimed"
    )


class BonusDay(BaseModel):
    day: date
    amount: int
    streak: int


class BonusMonth(BaseModel):
    month: str
    claimed_today: bool
    streak: int = 0
    days: list[BonusDay]


async def history(actor: Actor, hub: Hub, month: date | None = None) -> BonusMonth:
    """The actor's claims in one month (this month by default)."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    member = await _member_of(actor, hub)
    today = today_for(member, hub)
    first = (month or today).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    rows = await BonusClaim.filter(member_id=member.id, day__gte=first, day__lt=following).order_by(
        "day"
    )
    latest = await BonusClaim.filter(member_id=member.id).order_by("-day").first()
    streak = latest.streak if latest and latest.day >= today - timedelta(days=1) else 0
    return BonusMonth(
        month=first.strftime("%Y-%m"),
        claimed_today=bool(latest and latest.day >= today),
        streak=streak,
        days=[BonusDay(day=r.day, amount=r.amount, streak=r.streak) for r in rows],
    )
