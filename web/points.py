"""Points, ranks, leaderboards and the daily bonus over HTTP (rules in `models.points`).

Every route is under a hub; an id of another hub is as unknown as a missing one (404).
`{member}` also takes `@me`: the caller's own row in the hub.
"""

from __future__ import annotations

from datetime import date, datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from models import json_input
from models.errors import NotFound
from models.i18n import N_
from models.pagination import Page
from models.points import bonus, ledger, ranks, reads
from models.points.bonus import BonusMonth, BonusResult
from models.points.ledger import MAX_AMOUNT, CorrectionInput, GrantInput
from models.points.ranks import RankInput, RankUpdate
from models.points.reads import Board, BoardQuery, EntryView, LedgerQuery, Totals, entry_view
from models.points.tables import REASON_LENGTH, Rank
from models.validation import Problem, validate
from web.api import Router, json_response, parse_query, path_id, read_json
from web.auth import actor_of
from web.gates import hub_of
from web.members import member_id_of

router = Router("points")

MANAGE_POINTS = ledger.MANAGE
MANAGE_RANKS = ranks.MANAGE_RANKS


# Views of rows the operations return


class BookingView(BaseModel):
    """A ledger row just written, and the member's overall total after it."""

    entry: EntryView
    total: int


class RankView(BaseModel):
    id: int
    name: str
    color: int
    threshold: int
    kinds: list[str] = Field(description="Kinds of points that count; empty: all of them.")
    discord_role_id: str | None
    daily_bonus: int
    distance_bonus: int = Field(description="Percent added to distance points.")
    created_at: datetime


class Ranks(BaseModel):
    items: list[RankView] = Field(description="Lowest threshold first.")


class BonusQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str | None = Field(
        default=None,
        pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$",
        description="YYYY-MM; this month (in your time zone) by default.",
    )

    @field_validator("month")
    @classmethod
    def _real_year(cls, month: str | None) -> str | None:
        if month is not None and month.startswith("0000"):
            raise Problem(N_("give a month of the years 1 to 9999"))
        return month

    def first_day(self) -> date | None:
        if self.month is None:
            return None
        year, month = self.month.split("-")
        return date(int(year), int(month), 1)


def rank_view(rank: Rank) -> RankView:
    return RankView(
        id=rank.id,
        name=rank.name,
        color=rank.color,
        threshold=rank.threshold,
        kinds=list(rank.kinds),
        discord_role_id=str(rank.discord_role_id) if rank.discord_role_id else None,
        daily_bonus=rank.daily_bonus,
        distance_bonus=rank.distance_bonus,
        created_at=rank.created_at,
    )


def booking_view(booking: ledger.Booking) -> BookingView:
    return BookingView(entry=entry_view(booking.entry), total=booking.total)


def _rank_id(request: web.Request) -> int:
    return path_id(
        request, "rank", NotFound(N_("That rank does not exist."), code="rank_not_found")
    )


def _board_query(request: web.Request) -> BoardQuery:
    """`kinds` repeated (`?kinds=event&kinds=bonus`) or comma separated (`?kinds=event,bonus`)."""
    query: dict[str, object] = dict(request.query)
    if "kinds" in request.query:
        query["kinds"] = [
            kind.strip()
            for value in request.query.getall("kinds")
            for kind in value.split(",")
            if kind.strip()
        ]
    json_input.check_strings(query)
    return validate(BoardQuery, query)


# The ledger and totals


@router.get(
    "/hubs/{hub}/points/ledger",
    query=LedgerQuery,
    response=Page[EntryView],
    errors=(401, 403, 404, 422),
    auth=True,
    description=(
        "Anyone the hub lets in (not banned). Newest first; filter by `member`, `kind`,"
        " `source` and a `since`/`until` range of the time entries count for. 404"
        " member_not_found for another hub's member."
    ),
)
async def list_ledger(request: web.Request) -> web.Response:
    """The hub's points ledger."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await reads.ledger(actor, hub, parse_query(request, LedgerQuery)))


@router.get(
    "/hubs/{hub}/members/{member}/points",
    response=Totals,
    errors=(401, 403, 404),
    auth=True,
    description=(
        "`{member}` is a member id or `@me`. The overall total, the total of each kind, and"
        " the rank with progress to the next (read from kept totals, never the ledger)."
    ),
)
async def member_points(request: web.Request) -> web.Response:
    """A member's points and rank."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await reads.totals(actor, hub, await member_id_of(request, hub)))


@router.post(
    "/hubs/{hub}/members/{member}/points",
    body=GrantInput,
    response=BookingView,
    status=201,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=MANAGE_POINTS,
    description=(
        f"Needs manage_points. 1 to {MAX_AMOUNT} points of any kind but correction, with a"
        f" reason of at most {REASON_LENGTH} characters. The member's rank follows at once."
    ),
)
async def grant_points(request: web.Request) -> web.Response:
    """Give a member points."""
    actor, hub = await actor_of(request), await hub_of(request)
    member_id = await member_id_of(request, hub)
    body = await read_json(request, GrantInput)
    booking = await ledger.grant(actor, hub, member_id, body)
    return json_response(booking_view(booking), status=201)


@router.post(
    "/hubs/{hub}/members/{member}/points/corrections",
    body=CorrectionInput,
    response=BookingView,
    status=201,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE_POINTS,
    description=(
        "Needs manage_points. A correction row (history is never edited): a negative amount"
        " takes points away, and the rank may go down with it. 409 negative_total when the"
        " total would fall below zero and the hub does not allow negative totals."
    ),
)
async def correct_points(request: web.Request) -> web.Response:
    """Correct a member's points."""
    actor, hub = await actor_of(request), await hub_of(request)
    member_id = await member_id_of(request, hub)
    body = await read_json(request, CorrectionInput)
    booking = await ledger.correct(actor, hub, member_id, body)
    return json_response(booking_view(booking), status=201)


# The rank ladder


@router.get(
    "/hubs/{hub}/ranks",
    response=Ranks,
    errors=(401, 403, 404),
    auth=True,
    description="Anyone the hub lets in (not banned).",
)
async def list_ranks(request: web.Request) -> web.Response:
    """The hub's rank ladder."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(Ranks(items=[rank_view(r) for r in await ranks.ranks(actor, hub)]))


@router.post(
    "/hubs/{hub}/ranks",
    body=RankInput,
    response=RankView,
    status=201,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE_RANKS,
    description=(
        "Needs manage_ranks. 409 rank_name_taken, rank_threshold_taken, too_many_ranks."
        " Members move to the rank as their points next change."
    ),
)
async def create_rank(request: web.Request) -> web.Response:
    """Add a rank to the ladder."""
    actor, hub = await actor_of(request), await hub_of(request)
    body = await read_json(request, RankInput)
    return json_response(rank_view(await ranks.create_rank(actor, hub, body)), status=201)


@router.patch(
    "/hubs/{hub}/ranks/{rank}",
    body=RankUpdate,
    response=RankView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE_RANKS,
    description=(
        "Needs manage_ranks. `discord_role_id: null` unlinks the Discord role. 409"
        " rank_name_taken, rank_threshold_taken."
    ),
)
async def edit_rank(request: web.Request) -> web.Response:
    """Change a rank."""
    actor, hub = await actor_of(request), await hub_of(request)
    rank_id = _rank_id(request)
    body = await read_json(request, RankUpdate)
    return json_response(rank_view(await ranks.edit_rank(actor, hub, rank_id, body)))


@router.delete(
    "/hubs/{hub}/ranks/{rank}",
    status=204,
    errors=(401, 403, 404),
    auth=True,
    permission=MANAGE_RANKS,
    description="Needs manage_ranks. Its holders move as their points next change.",
)
async def delete_rank(request: web.Request) -> web.Response:
    """Delete a rank."""
    actor, hub = await actor_of(request), await hub_of(request)
    await ranks.delete_rank(actor, hub, _rank_id(request))
    return web.Response(status=204)


# Leaderboards


@router.get(
    "/hubs/{hub}/leaderboard",
    query=BoardQuery,
    response=Board,
    errors=(401, 403, 404, 422),
    auth=True,
    description=(
        "Anyone the hub lets in. Members best first over a `period` (day, week, month, year"
        " in the hub's time zone, or all) containing the day `at`; `kinds` repeated or comma"
        " separated (empty: every kind)."
    ),
)
async def leaderboard(request: web.Request) -> web.Response:
    """The hub's leaderboard."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await reads.leaderboard(actor, hub, _board_query(request)))


# The daily bonus


@router.post(
    "/hubs/{hub}/bonus",
    response=BonusResult,
    status=201,
    errors=(401, 403, 404, 409),
    auth=True,
    description=(
        "Members, once per day of their own calendar (their time zone, else the hub's). 409"
        " bonus_claimed (already today), bonus_off (the hub has no daily bonus), not_a_member."
    ),
)
async def claim_bonus(request: web.Request) -> web.Response:
    """Claim today's bonus."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await bonus.claim(actor, hub), status=201)


@router.get(
    "/hubs/{hub}/bonus",
    query=BonusQuery,
    response=BonusMonth,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    description="Members: your claims of one month, today's state and your streak.",
)
async def bonus_history(request: web.Request) -> web.Response:
    """Your daily bonus history."""
    actor, hub = await actor_of(request), await hub_of(request)
    query = parse_query(request, BonusQuery)
    return json_response(await bonus.history(actor, hub, query.first_day()))
