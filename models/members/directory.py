"""The member directory and profiles: who is in the hub, as members and staff may see them.

Names are searched through `Member.search_name` (the user's name folded by `models.text.fold`),
so "ärger" finds "Ärger" on SQLite as on PostgreSQL; numbers, Discord and Steam ids match
exactly. Members see members; staff (manage_members) see every state and the staff part of
a profile. A member's privacy choices hide their connections and last-seen from other members.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from tortoise.expressions import Q, RawSQL, Subquery
from tortoise.queryset import QuerySet

from models import plugins
from models.actor import Actor
from models.audit import AuditLog
from models.errors import NotFound
from models.hubs import Hub
from models.i18n import N_
from models.members.lifecycle import KEY, MANAGE, member_in
from models.members.tables import Member, MemberRole, MemberState, Role, StaffNote
from models.pagination import Page, PageQuery, paginate
from models.permissions import Permission, require_member
from models.text import fold
from models.users import User

Sort = Literal["name", "-name", "number", "-number", "joined", "-joined", "seen", "-seen"]
SORT_COLUMNS = {
    "name": "search_name",
    "number": "number",
    "joined": "joined_at",
    "seen": "last_seen_at",
}


def as_utc(value: datetime | None) -> datetime | None:
    """A time without a zone is UTC (as the database would take it, with a warning)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


# One flat list of values, so a wrong one gets one clear error naming the choices.
StateFilter = Literal["visitor", "member", "left", "dismissed", "resigned", "banned", "any"]
assert set(StateFilter.__args__) == {*MemberState, "any"}  # type: ignore[attr-defined]


class DirectoryQuery(PageQuery):
    q: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description=(
            "Name (any case, any script), member number (#12 or 12), Discord or Steam id"
            " (staff find every member by id, members only those who show their connections)."
        ),
    )
    state: StateFilter = Field(
        default="member",
        description="Members by default; other states (and any) are for staff.",
    )
    role: int | None = Field(default=None, gt=0, lt=2**63, description="Holding this role.")
    seen_after: datetime | None = None
    seen_before: datetime | None = None
    joined_after: datetime | None = None
    joined_before: datetime | None = None
    sort: Sort = Field(
        default="name",
        description=(
            "name, number, joined or seen; a leading - sorts descending. Sorting by number,"
            " joined or seen lists only the rows that have one. Members who hide when they"
            " were online are left out of seen sorts and filters (except for staff)."
        ),
    )

    _aware = field_validator("seen_after", "seen_before", "joined_after", "joined_before")(as_utc)


class RoleBadge(BaseModel):
    id: int
    name: str
    color: int


class MemberSummary(BaseModel):
    id: int
    user_id: int
    name: str
    avatar: str
    number: int | None
    state: MemberState
    joined_at: datetime | None
    last_seen_at: datetime | None = Field(description="Null when hidden by the member.")
    roles: list[RoleBadge] = Field(default_factory=list)


class Connections(BaseModel):
    discord_id: str | None
    steam_id: str | None
    truckersmp_id: str | None


class StaffPart(BaseModel):
    in_guild: bool
    first_seen_at: datetime
    ended_at: datetime | None
    discord_role_ids: list[str]
    notes: int
    last_change: str | None = Field(description="The latest membership change's action.")


class MemberProfile(MemberSummary):
    model_config = ConfigDict(title="MemberProfile")
    points: int
    connections: Connections | None = Field(description="Null when hidden by the member.")
    staff: StaffPart | None = Field(description="Only for staff with manage_members.")


def _shows(member: Member, choice: str) -> bool:
    """A member's privacy choice (shown unless they turned it off)."""
    return bool((member.user.privacy or {}).get(choice, True))


def _summary(member: Member, *, staff: bool, self_view: bool) -> MemberSummary:
    seen_visible = staff or self_view or _shows(member, "show_online")
    return MemberSummary(
        id=member.id,
        user_id=member.user_id,
        name=member.user.username,
        avatar=member.user.avatar,
        number=member.number,
        state=member.state,
        joined_at=member.joined_at,
        last_seen_at=member.last_seen_at if seen_visible else None,
    )


async def _badges(hub: Hub, members: list[Member]) -> dict[int, list[RoleBadge]]:
    """The hub roles of several members at once (given, or through a linked Discord role)."""
    if not members:
        return {}
    # Both at once: on PostgreSQL they overlap (two pool connections), on SQLite they queue.
    roles, grants = await asyncio.gather(
        Role.filter(hub_id=hub.id).order_by("-position", "id"),
        MemberRole.filter(member_id__in=[m.id for m in members]).values_list(
            "member_id", "role_id"
        ),
    )
    given: dict[int, set[int]] = {}
    for member_id, role_id in grants:
        given.setdefault(member_id, set()).add(role_id)
    badges = {}
    for member in members:
        held = given.get(member.id, set())
        discord = set(member.discord_role_ids or [])
        badges[member.id] = [
            RoleBadge(id=r.id, name=r.name, color=r.color)
            for r in roles
            if r.id in held or (r.discord_role_id is not None and r.discord_role_id in discord)
        ]
    return badges


async def _is_staff(actor: Actor, hub: Hub, *, self_id: int | None = None) -> bool:
    """Whether the reader is staff (manage_members); readers are checked by require_member."""
    return (await require_member(actor, hub, self_id=self_id)).has(MANAGE)


def _id_query(q: str) -> int | None:
    digits = q.strip().removeprefix("#")
    if digits.isascii() and digits.isdigit() and len(digits) <= 19:
        return int(digits)
    return None


async def _search(actor: Actor, q: str, *, staff: bool) -> Q:
    """Name, number, or the Discord or Steam id of a member who shows their connections
    (staff and the member themselves find any)."""
    condition = Q(search_name__contains=fold(q.strip())[:64])
    value = _id_query(q)
    if value is not None:
        # 19 digits may still exceed a BIGINT: the database would refuse the query (a 500).
        if value < 2**63:
            # The users first (unique ids, two at most), so the page query needs no join
            # in its condition and no list of the hub's private members.
            owners = await User.filter(Q(discord_id=value) | Q(steam_id=value)).values_list(
                "id", "privacy"
            )
            ids = [
                user_id
                for user_id, privacy in owners
                if staff
                or user_id == actor.user_id
                or (privacy or {}).get("show_connections", True)
            ]
            if ids:
                condition |= Q(user_id__in=ids)
        if value < 2**31:
            condition |= Q(number=value)
    return condition


async def directory(actor: Actor, hub: Hub, query: DirectoryQuery) -> Page[MemberSummary]:
    """A page of the hub's members (staff: any state), searched, filtered and sorted."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    staff = await _is_staff(actor, hub)
    rows = Member.filter(hub_id=hub.id).select_related("user")
    state = query.state if staff else MemberState.MEMBER
    if state != "any":
        rows = rows.filter(state=state)
    if query.q:
        rows = rows.filter(await _search(actor, query.q, staff=staff))
    if query.role is not None:
        rows = await _holding(rows, hub, query.role)
    for name, column, op in (
        ("seen_after", "last_seen_at", "gte"),
        ("seen_before", "last_seen_at", "lt"),
        ("joined_after", "joined_at", "gte"),
        ("joined_before", "joined_at", "lt"),
    ):
        value = getattr(query, name)
        if value is not None:
            rows = rows.filter(**{f"{column}__{op}": value})
    descending = query.sort.startswith("-")
    column = SORT_COLUMNS[query.sort.lstrip("-")]
    if column != "search_name":
        rows = rows.filter(**{f"{column}__isnull": False})
    order = (f"-{column}", "-id") if descending else (column, "id")
    seen = query.sort.lstrip("-") == "seen" or query.seen_after or query.seen_before

    def shows_seen(member: Member) -> bool:
        # Finding or ordering members by last seen would tell what they chose to hide. The
        # choice is JSON (no portable SQL for it), read from the rows' users as they come.
        return member.user_id == actor.user_id or _shows(member, "show_online")

    page = await paginate(
        rows,
        query,
        order,
        lambda m: m,  # type: ignore[arg-type, return-value]
        nulls_filtered=True,
        keep=shows_seen if seen and not staff else None,
    )
    members: list[Member] = page.items  # type: ignore[assignment]
    badges = await _badges(hub, members)
    items = []
    for member in members:
        item = _summary(member, staff=staff, self_view=member.user_id == actor.user_id)
        item.roles = badges[member.id]
        items.append(item)
    return Page(items=items, next_cursor=page.next_cursor)


async def _holding(rows: QuerySet[Member], hub: Hub, role_id: int) -> QuerySet[Member]:
    """Rows holding the role: given in the hub, or through its linked Discord role."""
    role = await Role.get_or_none(id=role_id, hub_id=hub.id)
    if role is None:
        raise NotFound(N_("That role does not exist."), code="role_not_found")
    given = MemberRole.filter(role_id=role.id).values("member_id")
    condition = Q(id__in=Subquery(given))
    if role.discord_role_id is not None:
        # The Discord roles are a JSON list of ids, matched as text between its delimiters:
        # "[1,2]" on SQLite, "[1, 2]" on PostgreSQL (a JSON function differs between them).
        # In SQL, so a common role does not load the hub's rows or pass thousands of ids.
        rows = rows.annotate(
            discord_roles_text=RawSQL(f'"{Member._meta.db_table}"."discord_role_ids"')
        )
        token = str(role.discord_role_id)
        delimited = [f"{before}{token}{after}" for before in "[, " for after in "],"]
        linked = Q(*(Q(discord_roles_text__contains=text) for text in delimited), join_type="OR")
        condition |= Q(linked, in_guild=True)
    return rows.filter(condition)


async def profile(actor: Actor, hub: Hub, member_id: int) -> MemberProfile:
    """A member's profile: the public part (per their privacy choices) and, for staff, theirs."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    staff = await _is_staff(actor, hub, self_id=member_id)
    member = await member_in(hub, member_id)
    self_view = member.user_id == actor.user_id
    if not (staff or self_view or member.state == MemberState.MEMBER):
        raise NotFound(N_("That member does not exist."), code="member_not_found")
    summary = _summary(member, staff=staff, self_view=self_view)
    # One member's roles in one query (the directory's batch reads roles and grants apart).
    held, staff_part = await asyncio.gather(member.effective_roles(), _staff_part(member, staff))
    summary.roles = [RoleBadge(id=r.id, name=r.name, color=r.color) for r in held]
    user = member.user
    connections = None
    if staff or self_view or _shows(member, "show_connections"):
        connections = Connections(
            discord_id=str(user.discord_id) if user.discord_id else None,
            steam_id=str(user.steam_id) if user.steam_id else None,
            truckersmp_id=str(user.truckersmp_id) if user.truckersmp_id else None,
        )
    return MemberProfile(
        **summary.model_dump(),
        points=member.points,
        connections=connections,
        staff=staff_part,
    )


async def _staff_part(member: Member, staff: bool) -> StaffPart | None:
    """What staff see of a member (nothing for anyone else)."""
    from models.members.tables import MembershipChange

    if not staff:
        return None
    last, notes = await asyncio.gather(
        MembershipChange.filter(member_id=member.id).order_by("-id").first(),
        StaffNote.filter(member_id=member.id).count(),
    )
    return StaffPart(
        in_guild=member.in_guild,
        first_seen_at=member.first_seen_at,
        ended_at=member.ended_at,
        discord_role_ids=[str(r) for r in member.discord_role_ids or []],
        notes=notes,
        last_change=last.action if last else None,
    )


async def my_membership(actor: Actor, hub: Hub) -> Member | None:
    """The actor's own row in the hub, if any."""
    if actor.user_id is None:
        return None
    return await Member.get_or_none(hub_id=hub.id, user_id=actor.user_id).select_related("user")


# The audit log


class AuditQuery(PageQuery):
    actor: int | None = Field(default=None, gt=0, lt=2**63, description="The acting user's id.")
    target: str | None = Field(default=None, min_length=1, max_length=128)
    action: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="An action (members.accepted) or a category ending in a dot (members.).",
    )
    since: datetime | None = None
    until: datetime | None = None

    _aware = field_validator("since", "until")(as_utc)


class AuditEntry(BaseModel):
    id: int
    action: str
    actor_id: int | None
    target: str
    details: dict
    created_at: datetime


async def audit_log(actor: Actor, hub: Hub, query: AuditQuery) -> Page[AuditEntry]:
    """The hub's audit log, newest first, filtered (needs view_audit_log)."""
    await plugins.enter(actor, hub, None, Permission.VIEW_AUDIT_LOG, write=False)
    rows = AuditLog.filter(hub_id=hub.id)
    if query.actor is not None:
        rows = rows.filter(actor_id=query.actor)
    if query.target is not None:
        rows = rows.filter(target=query.target)
    if query.action is not None:
        if query.action.endswith("."):
            rows = rows.filter(action__startswith=query.action)
        else:
            rows = rows.filter(action=query.action)
    if query.since is not None:
        rows = rows.filter(created_at__gte=query.since)
    if query.until is not None:
        rows = rows.filter(created_at__lt=query.until)

    def entry(row: AuditLog) -> AuditEntry:
        return AuditEntry(
            id=row.id,
            action=row.action,
            actor_id=row.actor_id,
            target=row.target,
            details=row.details,
            created_at=row.created_at,
        )

    return await paginate(rows, query, ("-id",), entry)
