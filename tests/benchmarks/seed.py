"""Fill a fresh database through the domain (a helper of run.py).

Usage: python tests/benchmarks/seed.py sqlite:///tmp/x/db.sqlite3 1000 [--user EMAIL PASSWORD]
       python tests/benchmarks/seed.py postgres://.../bench_x 1 --members 10000

Creates the hubs (as if that many guilds joined) and, with --user, a verified user with that
password (hashed by `models.passwords`) and one session. Prints JSON: {"slugs": [...]} and,
with --user, "user_id" and "access_token".

With --members N the first hub gets N members (`seed_members`): bulk inserts, since creating
them one by one through the domain would take minutes. The rows are what the domain would
have written (search keys folded by `models.text.fold`, numbers from the hub's counter), plus
two readers with sessions: a plain member and a staff member (manage_members). Prints
"members" with their tokens and sample ids.

With --points N (and --members) those members get N ledger rows (`seed_points`): raw bulk
inserts (COPY on PostgreSQL), a year of history in the hub's time zone, and the totals,
period sums, `members.points` and ranks that `models.points.ledger.book` would have kept,
computed from the same rows while they are generated (`period_starts`, `local_day` of the
domain); plus a rank ladder of 5 (one counting distance only) and a staff member with
manage_points. Prints "points".

With --events N (and --members) the first hub gets N event dates (`seed_events`): series
(most one-off, some weekly) spread over the last 18 months and the next 6, a few pinned, a
fifth members-only, some dates cancelled; RSVPs by the members (the counts kept on each
date match them), attendance at past dates; the member reader answered every tenth date.
Raw bulk inserts. Prints "events".

The access token is signed with the key in <data_dir>/keys, loaded (or created) by
`bot.runtime.setup_tokens` from the same settings (environment and DRIVERSHUB_CONFIG) the
server gets, so the server accepts it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import zoneinfo
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tortoise import connections

from bot.runtime import setup_tokens
from core.config import load_settings
from core.db import close_database, open_database
from models.auth import start_session
from models.hubs import Hub, ensure_hub_for_guild
from models.members import Member, MemberRole, MembershipChange, MemberState, Role, StaffNote
from models.passwords import hash_password
from models.points.ledger import local_day, period_starts
from models.points.tables import ALL, Period, PointKind, Rank
from models.text import fold
from models.users import User

FIRST_GUILD_ID = 900_000_000_000_000_000


async def seed_user(email: str, password: str) -> dict[str, Any]:
    """A verified user who can log in with `password`, and an access token of a session."""
    setup_tokens(load_settings())  # the signing key in <data_dir>/keys, as the server loads it
    user = await User.create(
        username="Bench Driver",
        email=email.strip().lower(),
        password_hash=await hash_password(password),
        is_verified=True,
    )
    pair = await start_session(user, "password")
    return {"user_id": user.id, "access_token": pair.access_token, "expires_in": pair.expires_in}


# --members: names from several scripts (the search folds them), roles, Discord roles.
FIRST_NAMES = ("Anna", "Ben", "Carlos", "Dana", "Erik", "Fatima", "Grace", "Hiro", "Ivan",
    "José", "Kai", "Lena", "Mateo", "Nina", "Omar", "Paula", "Quinn", "Rosa", "Sam", "Tom",
    "Uma", "Vera", "Will", "Yusuf", "Zara", "Jürgen", "Søren", "Zoë", "Émile", "Łukasz",
    "Ängel", "Ольга", "Дмитрий", "Γιώργος", "さくら", "李", "Ｍａｘ")  # fmt: skip
LAST_NAMES = ("Müller", "Schröder", "O'Brien", "Smith", "Kowalski", "Nowak", "Øberg",
    "García", "Straße", "Иванов", "Παπαδόπουλος", "田中", "Trucker", "Hauler", "Diesel",
    "Road", "Convoy", "Kraft", "Ärger", "Peterson")  # fmt: skip
FIRST_USER_ID = 10_000_000  # explicit ids, far above what the id sequences hand out
FIRST_DISCORD_ID = 700_000_000_000_000_000
FIRST_STEAM_ID = 76561198000000000
LINKED_DISCORD_ROLE = 990_000_000_000_000_000
HUB_ROLES = 12  # the last one (STAFF_PERMISSIONS) is the staff reader's
STAFF_PERMISSIONS = [
    *("manage_members", "send_notices", "review_applications", "manage_events"),
    "manage_tracker",
]
BATCH = 1000


def _person(
    rng: random.Random, i: int, hub: Hub, roles: list[Role], *, member: bool, now: datetime
) -> tuple[User, Member, list[MemberRole]]:
    """One user and their row in the hub: a member, or a visitor or former member."""
    row_id = FIRST_USER_ID + i
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    if rng.random() < 0.5:
        name += str(rng.randrange(1000))
    user = User(
        id=row_id,
        username=name,
        discord_id=FIRST_DISCORD_ID + i,
        steam_id=FIRST_STEAM_ID + i if rng.random() < 0.6 else None,
        privacy={"show_online": False} if rng.random() < 0.1 else {},
    )
    state = MemberState.MEMBER if member else rng.choice((MemberState.VISITOR, MemberState.LEFT))
    joined = None if state == MemberState.VISITOR else now - timedelta(days=rng.uniform(0, 1100))
    discord_roles = set()
    if rng.random() < 0.4:  # Discord roles, half of them linked to hub roles
        discord_roles = {LINKED_DISCORD_ROLE + rng.randrange(HUB_ROLES) for _ in range(3)}
    seen = now - timedelta(minutes=rng.uniform(0, 200_000)) if rng.random() < 0.9 else None
    row = Member(
        id=row_id,
        hub_id=hub.id,
        user_id=row_id,
        state=state,
        number=i + 1 if joined else None,
        search_name=fold(name)[:64],  # bulk_create bypasses User.save, which keeps it
        joined_at=joined,
        first_seen_at=joined or now,
        last_seen_at=seen,
        discord_role_ids=sorted(discord_roles),
        in_guild=state != MemberState.LEFT,
    )
    grants = []
    if member and rng.random() < 0.15:
        given = rng.sample(roles[:-1], rng.randrange(1, 3))
        grants = [MemberRole(member_id=row_id, role_id=role.id) for role in given]
    return user, row, grants


async def _history(
    rng: random.Random, hub: Hub, rows: list[Member], grants: list[MemberRole]
) -> None:
    """What staff did to them: an acceptance per numbered row, a change per role given, and
    notes on some (the staff part of a profile reads the latest change and counts notes)."""
    changes = [
        MembershipChange(
            hub_id=hub.id, member_id=row.id, action="accepted", details={"number": row.number}
        )
        for row in rows
        if row.number is not None
    ]
    changes += [
        MembershipChange(
            hub_id=hub.id, member_id=grant.member_id, action="role_given", details={"role": 1}
        )
        for grant in grants
    ]
    rng.shuffle(changes)  # interleaved in time, as staff work
    await MembershipChange.bulk_create(changes, batch_size=BATCH)
    notes = [
        StaffNote(hub_id=hub.id, member_id=row.id, text="Reliable driver, good convoy manners.")
        for row in rows
        if rng.random() < 0.05
    ]
    await StaffNote.bulk_create(notes, batch_size=BATCH)


async def _reader(hub: Hub, key: str, number: int, role: Role | None) -> str:
    """A member who reads the directory (staff with `role`); their access token."""
    user = await User.create(username=f"Bench {key}", discord_id=FIRST_DISCORD_ID - number)
    row = await Member.create(
        hub_id=hub.id,
        user_id=user.id,
        state=MemberState.MEMBER,
        number=number,
        search_name=fold(user.username),
        joined_at=datetime.now(UTC) - timedelta(days=30),
        last_seen_at=datetime.now(UTC),
    )
    if role is not None:
        await MemberRole.create(member_id=row.id, role_id=role.id)
    return (await start_session(user, "password")).access_token


async def seed_members(hub: Hub, count: int) -> dict[str, Any]:
    """`count` members in `hub` (and a tenth as many visitors and former members), roles
    given and linked through Discord roles, and two readers: a member and a staff member."""
    rng = random.Random(11)
    now = datetime.now(UTC)
    await Role.bulk_create(
        Role(
            hub_id=hub.id,
            name=f"Role {i}",
            position=i + 1,
            color=rng.randrange(0xFFFFFF),
            permissions=STAFF_PERMISSIONS if i == HUB_ROLES - 1 else [],
            discord_role_id=LINKED_DISCORD_ROLE + i if i % 2 else None,
        )
        for i in range(HUB_ROLES)
    )
    roles = await Role.filter(hub_id=hub.id).order_by("position")
    rows = count + count // 10
    people = [_person(rng, i, hub, roles, member=i < count, now=now) for i in range(rows)]
    await User.bulk_create([user for user, _, _ in people], batch_size=BATCH)
    await Member.bulk_create([row for _, row, _ in people], batch_size=BATCH)
    grants = [grant for _, _, given in people for grant in given]
    await MemberRole.bulk_create(grants, batch_size=BATCH)
    await _history(rng, hub, [row for _, row, _ in people], grants)
    tokens = {
        "member": await _reader(hub, "member", rows + 1, None),
        "staff": await _reader(hub, "staff", rows + 2, roles[-1]),
    }
    await Hub.filter(id=hub.id).update(member_numbers=rows + 2)
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        # What autovacuum does soon after a bulk load; without statistics the planner takes
        # the fresh tables for empty and sorts the whole hub for the first page.
        await connection.execute_script("ANALYZE")
    listed = [row.id for _, row, _ in people if row.state == MemberState.MEMBER]
    return {
        "members": await Member.filter(hub_id=hub.id, state=MemberState.MEMBER).count(),
        "rows": await Member.filter(hub_id=hub.id).count(),
        "grants": len(grants),
        "tokens": tokens,
        "sample_ids": rng.sample(listed, min(500, len(listed))),
    }


# --points: what members earn, by kind: (weight, smallest, largest amount).
POINT_KINDS = {
    PointKind.DISTANCE: (60, 50, 3000),
    PointKind.EVENT: (12, 100, 500),
    PointKind.CHALLENGE: (10, 50, 1000),
    PointKind.DIVISION: (6, 100, 300),
    PointKind.BONUS: (6, 10, 50),
    PointKind.MANUAL: (5, 1, 1000),
    PointKind.CORRECTION: (1, -100, -1),
}
# The ladder: (name, threshold, kinds); lowest first, the fourth counts distance only.
RANK_LADDER = (
    ("Rookie", 50_000, []),
    ("Driver", 80_000, []),
    ("Veteran", 150_000, []),
    ("Road Warrior", 250_000, ["distance"]),
    ("Legend", 500_000, []),
)
HISTORY_DAYS = 365
BENCH_TIMEZONE = "Europe/Berlin"  # periods follow the hub's calendar, not UTC
INSERT_BATCH = 50_000
PERIOD_END = {
    Period.DAY: lambda start: start + timedelta(days=1),
    Period.WEEK: lambda start: start + timedelta(days=7),
    Period.MONTH: lambda start: (start + timedelta(days=32)).replace(day=1),
    Period.YEAR: lambda start: start.replace(year=start.year + 1),
}


class RawRows:
    """Raw bulk inserts of (column, ...) tuples: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, table: str, columns: tuple[str, ...]) -> None:
        self.table, self.columns = table, columns
        self.rows: list[tuple[Any, ...]] = []
        self.written = 0

    async def add(self, row: tuple[Any, ...]) -> None:
        self.rows.append(row)
        if len(self.rows) >= INSERT_BATCH:
            await self.flush()

    async def flush(self) -> None:
        if not self.rows:
            return
        connection = connections.get("default")
        if connection.capabilities.dialect == "postgres":
            async with connection.acquire_connection() as raw:
                await raw.copy_records_to_table(
                    self.table, records=self.rows, columns=list(self.columns)
                )
        else:
            marks = ", ".join("?" * len(self.columns))
            sql = f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES ({marks})"
            await connection.execute_many(sql, self.rows)  # type: ignore[arg-type]
        self.written += len(self.rows)
        self.rows = []


def _reached(ladder: list[Rank], overall: int, by_kind: dict[str, int]) -> int | None:
    """The rank `models.points.ranks.reached` gives: the highest threshold met."""
    best = None
    for rank in ladder:  # lowest first
        counted = sum(by_kind.get(k, 0) for k in rank.kinds) if rank.kinds else overall
        if counted >= rank.threshold:
            best = rank.id
    return best


async def seed_points(
    hub: Hub, count: int, member_ids: list[int], staff_number: int
) -> dict[str, Any]:
    """`count` ledger rows over `member_ids` (a year, some members far busier than others),
    and what bookings keep from them: totals, period sums, overall points and ranks."""
    rng = random.Random(12)
    await Hub.filter(id=hub.id).update(timezone=BENCH_TIMEZONE)
    hub.timezone = BENCH_TIMEZONE
    zone = zoneinfo.ZoneInfo(BENCH_TIMEZONE)
    for i, (name, threshold, kinds) in enumerate(RANK_LADDER):
        await Rank.create(
            hub_id=hub.id,
            name=name,
            threshold=threshold,
            kinds=kinds,
            color=0x3366CC + i,
            discord_role_id=LINKED_DISCORD_ROLE + 100 + i,
            daily_bonus=10 * (i + 1),
        )
    ladder = await Rank.filter(hub_id=hub.id).order_by("threshold", "id")
    kinds = list(POINT_KINDS)
    weights = [POINT_KINDS[k][0] for k in kinds]
    entries = RawRows(
        "point_entries",
        ("hub_id", "member_id", "kind", "amount", "reason", "source", "counts_at", "created_at"),
    )
    periods_out = RawRows(
        "point_periods", ("hub_id", "member_id", "period", "start", "kind", "amount")
    )
    totals: dict[tuple[int, str], int] = defaultdict(int)
    overall: dict[int, int] = defaultdict(int)
    # (period, start) -> (member, kind) -> amount; written once the period is over.
    open_periods: dict[tuple[Period, date], dict[tuple[int, str], int]] = {}

    async def close_periods(before: date | None) -> None:
        for key in sorted(open_periods, key=lambda k: (k[1], str(k[0]))):
            period, start = key
            if before is not None and PERIOD_END[period](start) > before:
                continue
            for (member_id, kind), amount in open_periods.pop(key).items():
                await periods_out.add((hub.id, member_id, str(period), start, kind, amount))

    today = local_day(hub, datetime.now(UTC))
    first = today - timedelta(days=HISTORY_DAYS - 1)
    deliveries = 0
    for offset in range(HISTORY_DAYS):
        day = first + timedelta(days=offset)
        await close_periods(day - timedelta(days=1))  # a booking may land a day off (DST)
        todays = count // HISTORY_DAYS + (1 if offset < count % HISTORY_DAYS else 0)
        midnight = datetime.combine(day, time(0, 0), zone)
        for _ in range(todays):
            # rng.random() ** 2: a few members earn far more than most (and 10 members 1/8).
            member_id = member_ids[int(len(member_ids) * rng.random() ** 2)]
            kind = rng.choices(kinds, weights)[0]
            _, low, high = POINT_KINDS[kind]
            amount = rng.randint(low, high)
            when = (midnight + timedelta(seconds=rng.randrange(86_400))).astimezone(UTC)
            source = ""
            if kind == PointKind.DISTANCE:
                deliveries += 1
                source = f"delivery:{deliveries}"
            reason = "" if source else f"Bench {kind}"
            await entries.add((hub.id, member_id, str(kind), amount, reason, source, when, when))
            totals[(member_id, str(kind))] += amount
            overall[member_id] += amount
            for period, start in period_starts(local_day(hub, when)).items():
                sums = open_periods.setdefault((period, start), defaultdict(int))
                sums[(member_id, str(kind))] += amount
                sums[(member_id, ALL)] += amount
    await entries.flush()
    await close_periods(None)
    await periods_out.flush()
    totals_out = RawRows("point_totals", ("member_id", "kind", "total"))
    for (member_id, kind), total in sorted(totals.items()):
        await totals_out.add((member_id, kind, total))
    await totals_out.flush()
    by_member: dict[int, dict[str, int]] = defaultdict(dict)
    for (member_id, kind), total in totals.items():
        by_member[member_id][kind] = total
    connection = connections.get("default")
    sql = "UPDATE members SET points = ?, rank_id = ? WHERE id = ?"
    if connection.capabilities.dialect == "postgres":
        sql = "UPDATE members SET points = $1, rank_id = $2 WHERE id = $3"
    await connection.execute_many(
        sql,
        [
            [points, _reached(ladder, points, by_member[member_id]), member_id]
            for member_id, points in sorted(overall.items())
        ],
    )
    role = await Role.create(
        hub_id=hub.id,
        name="Points staff",
        position=HUB_ROLES + 1,
        permissions=["manage_points", "manage_ranks"],
    )
    staff = await _reader(hub, "points staff", staff_number, role)
    await Hub.filter(id=hub.id).update(member_numbers=staff_number)
    ranked = sum(1 for m, p in overall.items() if _reached(ladder, p, by_member[m]))
    return {
        "hub_id": hub.id,
        "entries": entries.written,
        "periods": periods_out.written,
        "totals": totals_out.written,
        "members_with_points": len(overall),
        "members_ranked": ranked,
        "ranks": [r.id for r in ladder],
        "first_day": first.isoformat(),
        "today": today.isoformat(),
        "staff_token": staff,
    }


# --applications: what a hub that recruits for years has (states and types by weight).
APPLICATION_STATES = (("accepted", 55), ("declined", 30), ("withdrawn", 5), ("pending", 10))
APPLICATION_TYPES = ("Driver", "Staff", "Event team", "Partnership")


async def seed_applications(hub: Hub, count: int, applicants: list[int], reviewer: int) -> dict:
    """`count` applications over `applicants` in 4 types, submitted over three years, most
    decided (by `reviewer`), a tenth still pending: raw bulk inserts."""
    from models.applications import Application, ApplicationType

    rng = random.Random(13)
    form = {"fields": [{"key": "why", "kind": "paragraph", "label": "Why us?", "required": True}]}
    types = [
        await ApplicationType.create(hub_id=hub.id, name=name, form=form, position=i)
        for i, name in enumerate(APPLICATION_TYPES)
    ]
    states = [state for state, weight in APPLICATION_STATES for _ in range(weight)]
    start = datetime.now(UTC) - timedelta(days=3 * 365)
    rows = []
    for i in range(count):
        created = start + timedelta(seconds=i * (3 * 365 * 86400) / count)
        state = rng.choice(states)
        decided = state in ("accepted", "declined")
        rows.append(
            Application(
                hub_id=hub.id,
                type_id=types[0].id if rng.random() < 0.7 else rng.choice(types).id,
                applicant_id=rng.choice(applicants),
                answers={"why": "I like driving at night and I am on time for convoys."},
                state=state,
                decided_by_id=reviewer if decided else None,
                claimed_by_id=reviewer if decided or rng.random() < 0.3 else None,
                decided_at=created + timedelta(hours=rng.uniform(1, 96)) if decided else None,
                created_at=created,
            )
        )
    await Application.bulk_create(rows, batch_size=BATCH)
    return {
        "applications": await Application.filter(hub_id=hub.id).count(),
        "type_ids": [t.id for t in types],
    }


# --events: convoys over 18 months past and 6 ahead; ids far above the sequences' (as members).
FIRST_EVENT_ID = 20_000_000
FIRST_OCCURRENCE_ID = 30_000_000
EVENTS_PAST_DAYS = 540
EVENTS_AHEAD_DAYS = 180
EVENT_ANSWERS = (("going", 60), ("maybe", 25), ("not_going", 15))
CITIES = ("Berlin", "Calais", "Duisburg", "Rotterdam", "Praha", "Wien", "Milano", "Lyon")


async def seed_events(
    hub: Hub, count: int, member_ids: list[int], reader_user: int, reader_member: int
) -> dict[str, Any]:
    """`count` dates of series in `hub`: most one-off, a third weekly (2-12 dates), about 1 %
    pinned, a fifth members-only, 3 % of dates cancelled; up to 20 RSVPs a date by
    `member_ids` (a few members answer far more than most; user id == member id there),
    attendance for most of those going to a past date, and the reader's own answers."""
    from models.events import Event, Occurrence

    rng = random.Random(14)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=EVENTS_PAST_DAYS)
    span = (EVENTS_PAST_DAYS + EVENTS_AHEAD_DAYS) * 86_400
    answers = [answer for answer, weight in EVENT_ANSWERS for _ in range(weight)]
    events: list[Event] = []
    occurrences: list[Occurrence] = []
    rsvps = RawRows("event_rsvps", ("occurrence_id", "user_id", "answer", "source", "updated_at"))
    attended = RawRows(
        "event_attendance", ("occurrence_id", "user_id", "member_id", "points_booked", "created_at")
    )
    series_sizes: dict[int, int] = {}
    # Written after the dates they refer to (foreign keys).
    rsvp_rows: list[tuple[Any, ...]] = []
    attendance_rows: list[tuple[Any, ...]] = []
    while len(occurrences) < count:
        event_id = FIRST_EVENT_ID + len(events)
        weekly = rng.random() < 0.33
        size = min(rng.randint(2, 12) if weekly else 1, count - len(occurrences))
        first = start + timedelta(seconds=rng.randrange(span))
        first = first.replace(minute=first.minute // 15 * 15, second=0)
        pinned = rng.random() < 0.01
        members_only = rng.random() < 0.2
        points = rng.choice((0, 100, 250, 500))
        route = rng.sample(CITIES, 2)
        events.append(
            Event(
                id=event_id,
                hub_id=hub.id,
                title=f"{route[0]} → {route[1]} convoy #{len(events) + 1}",
                description="Bring a Scania. Meet at the parking lot, lights on.",
                server="Simulation 1",
                departure_city=route[0],
                departure_company="Tesla",
                arrival_city=route[1],
                arrival_company="Tree-Et",
                meetup_at=first,
                departure_at=first + timedelta(minutes=15),
                duration_minutes=120,
                link="https://truckersmp.com/events/1",
                points=points,
                visibility="members" if members_only else "public",
                slots=rng.choice((None, None, 50, 100)),
                recurrence="weekly" if weekly else "none",
                recurrence_until=(first + timedelta(weeks=size - 1)).date() if weekly else None,
                exceptions=[],
                pinned=pinned,
                created_at=first - timedelta(days=14),
                updated_at=first - timedelta(days=14),
            )
        )
        series_sizes[event_id] = size
        for index in range(size):
            meetup = first + timedelta(weeks=index)
            ends = meetup + timedelta(minutes=135)
            occurrence_id = FIRST_OCCURRENCE_ID + len(occurrences)
            past = ends <= now
            counts = {"going": 0, "maybe": 0, "not_going": 0}
            answered: set[int] = set()
            for _ in range(rng.randint(0, 20)):
                answered.add(member_ids[int(len(member_ids) * rng.random() ** 2)])
            answered_by = {user: rng.choice(answers) for user in sorted(answered)}
            if (occurrence_id - FIRST_OCCURRENCE_ID) % 10 == 0:
                answered_by[reader_user] = "going"
            for user, answer in answered_by.items():
                counts[answer] += 1
                rsvp_rows.append((occurrence_id, user, answer, "bot", meetup - timedelta(days=1)))
                if past and answer == "going" and rng.random() < 0.8:
                    member = reader_member if user == reader_user else user
                    attendance_rows.append((occurrence_id, user, member, points, ends))
            occurrences.append(
                Occurrence(
                    id=occurrence_id,
                    event_id=event_id,
                    hub_id=hub.id,
                    index=index,
                    meetup_at=meetup,
                    departure_at=meetup + timedelta(minutes=15),
                    ends_at=ends,
                    cancelled=rng.random() < 0.03,
                    pin_order=0 if pinned else 1,
                    pin_rank=1 if pinned else 0,
                    members_only=members_only,
                    attendance_confirmed_at=ends if past else None,
                    ended_handled=past,
                    **counts,
                )
            )
    await Event.bulk_create(events, batch_size=BATCH)
    await Occurrence.bulk_create(occurrences, batch_size=BATCH)
    for row in rsvp_rows:
        await rsvps.add(row)
    await rsvps.flush()
    for row in attendance_rows:
        await attended.add(row)
    await attended.flush()
    upcoming = [o for o in occurrences if o.ends_at > now]
    largest = max(series_sizes, key=lambda e: series_sizes[e])
    return {
        "events": len(events),
        "occurrences": len(occurrences),
        "upcoming": len(upcoming),
        "pinned": sum(1 for o in occurrences if o.pin_order == 0),
        "members_only": sum(1 for o in occurrences if o.members_only),
        "rsvps": rsvps.written,
        "attendance": attended.written,
        "series_id": largest,
        "series_dates": series_sizes[largest],
        # The busiest answerers (the skew puts them first) and a quieter one.
        "rsvp_member_ids": [member_ids[0], member_ids[1], member_ids[len(member_ids) // 2]],
        "reader_member_id": reader_member,
    }


async def seed_announcements(hub: Hub, count: int, authors: list[int]) -> dict[str, Any]:
    """`count` announcements in `hub` over two years, of 5 types: about 1 % pinned, a fifth
    members-only, 1 % still scheduled; bodies of a few paragraphs of markdown."""
    from models.announcements import Announcement, AnnouncementType
    from models.markdown import to_html

    rng = random.Random(16)
    now = datetime.now(UTC).replace(microsecond=0)
    kinds = [
        await AnnouncementType.create(hub_id=hub.id, key=key, name=key.title())
        for key in ("news", "events", "maintenance", "recruiting", "rules")
    ]
    body = (
        "## Tonight\n\nWe drive **Berlin → Calais** with the *new* trailers. "
        "Read the [rules](https://example.org/rules) first.\n\n- lights on\n- no ramming\n"
    ) * 3
    html = to_html(body)  # as publishing stores it
    rows: list[Announcement] = []
    pinned = members_only = 0
    for i in range(count):
        scheduled = rng.random() < 0.01
        when = (
            now + timedelta(days=rng.randint(1, 30))
            if scheduled
            else now - timedelta(seconds=rng.randrange(2 * 365 * 86_400))
        )
        pin = rng.random() < 0.01
        secret = rng.random() < 0.2
        pinned += pin
        members_only += secret
        rows.append(
            Announcement(
                hub_id=hub.id,
                type_id=kinds[i % len(kinds)].id,
                title=f"Announcement {i + 1}: convoy news",
                body=body,
                body_html=html,
                visibility="members" if secret else "public",
                pinned=pin,
                pin_rank=int(pin),
                publish_at=when,
                published=not scheduled,
                author_id=authors[i % len(authors)],
            )
        )
    await Announcement.bulk_create(rows, batch_size=BATCH)
    return {
        "announcements": count,
        "pinned": pinned,
        "members_only": members_only,
        "types": [k.key for k in kinds],
        "author": authors[0],
    }


async def seed_drivers(hub: Hub) -> dict[str, Any]:
    """A "Drivers" role with the driver permission for every member with a Steam id (the
    accounts tracker jobs count for); their Steam ids."""
    role = await Role.create(hub_id=hub.id, name="Drivers", position=1, permissions=["driver"])
    rows = await Member.filter(
        hub_id=hub.id, state=MemberState.MEMBER, user__steam_id__not_isnull=True
    ).values_list("id", "user__steam_id")
    await MemberRole.bulk_create(
        [MemberRole(member_id=member_id, role_id=role.id) for member_id, _ in rows],
        batch_size=BATCH,
    )
    return {"drivers": len(rows), "steam_ids": [str(steam) for _, steam in rows]}


async def seed(
    url: str,
    count: int,
    user: tuple[str, str] | None = None,
    members: int = 0,
    points: int = 0,
    applications: int = 0,
    events: int = 0,
    announcements: int = 0,
    drivers: bool = False,
) -> dict[str, Any]:
    """Migrate the database at `url`, create `count` hubs and optionally a user, and with
    `members` that many members in the first hub (with `points`, that many ledger rows)."""
    await open_database(url, apply_migrations=True)
    try:
        slugs = []
        hubs = []
        for i in range(count):
            name = f"Bench Hub {i:04d}"
            hub = await ensure_hub_for_guild(FIRST_GUILD_ID + i, name, 100 + i, "en-US")
            slugs.append(hub.slug)
            hubs.append(hub)
        result: dict[str, Any] = {"slugs": slugs}
        if user is not None:
            result |= await seed_user(*user)
        if members:
            setup_tokens(load_settings())
            result["members"] = await seed_members(hubs[0], members)
        if points:
            listed = FIRST_USER_ID + members  # the members are the first rows (see _person)
            member_ids = list(range(FIRST_USER_ID, listed))
            rows = result["members"]["rows"]
            result["points"] = await seed_points(hubs[0], points, member_ids, rows + 3)
        if applications:
            applicants = list(range(FIRST_USER_ID, FIRST_USER_ID + members))
            # The staff reader is the last row seed_members made (see _reader).
            staff = await Member.get(hub_id=hubs[0].id, number=result["members"]["rows"])
            result["applications"] = await seed_applications(
                hubs[0], applications, applicants, staff.user_id
            )
            result["reviewer_id"] = staff.user_id
        if events:
            rows = result["members"]["rows"]
            # The member reader is the last row but one seed_members made (see _reader).
            reader = await Member.get(hub_id=hubs[0].id, number=rows - 1)
            member_ids = list(range(FIRST_USER_ID, FIRST_USER_ID + members))
            result["events"] = await seed_events(
                hubs[0], events, member_ids, reader.user_id, reader.id
            )
        if announcements:
            authors = list(range(FIRST_USER_ID, FIRST_USER_ID + min(members, 20)))
            result["announcements"] = await seed_announcements(hubs[0], announcements, authors)
        if drivers:
            result["drivers"] = await seed_drivers(hubs[0])
        if points or applications or events or announcements or drivers:
            connection = connections.get("default")
            if connection.capabilities.dialect == "postgres":
                await connection.execute_script("VACUUM ANALYZE")
        return result
    finally:
        await close_database()


def main() -> int:
    parser = argparse.ArgumentParser(description="seed a benchmark database")
    parser.add_argument("url")
    parser.add_argument("hubs", type=int)
    parser.add_argument("--user", nargs=2, metavar=("EMAIL", "PASSWORD"))
    parser.add_argument("--members", type=int, default=0, help="members in the first hub")
    parser.add_argument("--points", type=int, default=0, help="ledger rows over the members")
    parser.add_argument("--applications", type=int, default=0, help="applications by the members")
    parser.add_argument("--events", type=int, default=0, help="event dates, RSVPs by the members")
    parser.add_argument("--announcements", type=int, default=0, help="announcements by members")
    parser.add_argument(
        "--drivers", action="store_true", help="the driver permission for members with Steam"
    )
    args = parser.parse_args()
    if (args.points or args.applications or args.events or args.announcements) and not (
        args.members
    ):
        parser.error("--points, --applications, --events and --announcements need --members")
    user = tuple(args.user) if args.user else None
    result = asyncio.run(
        seed(  # type: ignore[arg-type]
            args.url,
            args.hubs,
            user,
            args.members,
            args.points,
            args.applications,
            args.events,
            args.announcements,
            args.drivers,
        )
    )
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
