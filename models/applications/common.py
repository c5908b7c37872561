"""What the applications operations share: lookups within a hub, who reviews, views, the
review message the bot keeps up to date, and role changes made on a type's behalf."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from models import discord_actions, sql
from models.actor import Actor
from models.applications.schemas import ApplicationView, MessageView, Person
from models.applications.tables import Application, ApplicationMessage, ApplicationType
from models.discord_actions import ActionKind
from models.errors import NotFound
from models.hubs import Hub
from models.i18n import N_
from models.members.lifecycle import _change
from models.members.roles import held_role_ids
from models.members.tables import Member, MemberRole, Role
from models.pagination import Page
from models.permissions import grant_of, missing_permission
from models.text import fold
from models.users import User

KEY = "applications"
MANAGE = "manage_applications"
REVIEW = "review_applications"


def type_not_found() -> NotFound:
    return NotFound(N_("That application type does not exist."), code="type_not_found")


def application_not_found() -> NotFound:
    return NotFound(N_("That application does not exist."), code="application_not_found")


async def type_in(hub: Hub, type_id: int) -> ApplicationType:
    """A type of this hub; another hub's id is as unknown as a missing one (404)."""
    found = await ApplicationType.get_or_none(id=type_id, hub_id=hub.id)
    if found is None:
        raise type_not_found()
    return found


async def application_in(hub: Hub, application_id: int) -> Application:
    """An application of this hub with its type and people loaded (404 for another hub's)."""
    found = await Application.get_or_none(id=application_id, hub_id=hub.id).select_related(
        "type", "applicant", "claimed_by", "decided_by"
    )
    if found is None:
        raise application_not_found()
    return found


async def member_row(hub: Hub, user_id: int) -> Member:
    """The user's row in the hub; someone known only from the website becomes a visitor
    who is not in the Discord server (the bot records who is)."""
    member = await Member.get_or_none(hub_id=hub.id, user_id=user_id)
    if member is None:
        user = await User.get(id=user_id)
        member, _ = await Member.get_or_create(
            hub_id=hub.id,
            user_id=user_id,
            defaults={"search_name": fold(user.username)[:64], "in_guild": False},
        )
    return member


async def may_review(actor: Actor, hub: Hub, app_type: ApplicationType) -> bool:
    """Holders of review_applications review every type; holders of a type's reviewer
    roles review that type."""
    if (await grant_of(actor, hub)).has(REVIEW):
        return True
    reviewers = set(app_type.reviewer_role_ids or [])
    return bool(reviewers & await held_role_ids(hub, actor.user_id))


async def require_review(actor: Actor, hub: Hub, app_type: ApplicationType) -> None:
    if not await may_review(actor, hub, app_type):
        raise missing_permission(REVIEW)


async def reviewer_user_ids(hub: Hub, app_type: ApplicationType) -> list[int]:
    """Who is told of a new application: holders of the type's reviewer roles, else holders
    of a role granting review_applications, else the hub's owner."""
    roles = await Role.filter(hub_id=hub.id)
    wanted = [r for r in roles if r.id in set(app_type.reviewer_role_ids or [])]
    if not wanted:
        wanted = [r for r in roles if "review_applications" in (r.permissions or [])]
    users = await _holders(hub, wanted)
    if not users and hub.owner_discord_id is not None:
        owner = await User.get_or_none(discord_id=hub.owner_discord_id).only("id")
        users = [owner.id] if owner is not None else []
    return users


async def _holders(hub: Hub, roles: list[Role]) -> list[int]:
    if not roles:
        return []
    given = await MemberRole.filter(role_id__in=[r.id for r in roles]).values_list(
        "member__user_id", flat=True
    )
    linked = {r.discord_role_id for r in roles if r.discord_role_id is not None}
    users = set(given)
    if linked:
        # A hub has few members with Discord roles of interest; JSON containment differs
        # between SQLite and PostgreSQL, so the role lists are read.
        rows = await sql.fetch(
            "SELECT user_id, discord_role_ids FROM members WHERE hub_id = ?"
            " AND discord_role_ids <> '[]'",
            [hub.id],
        )
        for row in rows:
            held = {int(r) for r in sql.as_json(row["discord_role_ids"]) or []}
            if held & linked:
                users.add(int(row["user_id"]))
    return sorted(users)


# Views


def person(user: User | None) -> Person | None:
    if user is None:
        return None
    return Person(
        id=user.id, name=user.username, discord_id=str(user.discord_id) if user.discord_id else None
    )


def _snowflake(value: int | None) -> str | None:
    return str(value) if value else None


def application_view(row: Application) -> ApplicationView:
    """A row loaded with its type and people (`application_in`)."""
    return _view(
        row,
        row.type.name,
        person(row.applicant),  # type: ignore[arg-type]
        person(row.claimed_by),
        person(row.decided_by),
    )


async def page_views(page: Page[Application]) -> Page[ApplicationView]:
    """A page of bare rows as views: the types' names and the people in two queries for the
    whole page (loading them with every row cost more than the list's query itself)."""
    rows = page.items
    names = dict(
        await ApplicationType.filter(id__in={r.type_id for r in rows}).values_list("id", "name")
    )
    ids = {i for r in rows for i in (r.applicant_id, r.claimed_by_id, r.decided_by_id) if i}
    people = {
        u["id"]: Person(
            id=u["id"],
            name=u["username"],
            discord_id=str(u["discord_id"]) if u["discord_id"] else None,
        )
        for u in await User.filter(id__in=ids).values("id", "username", "discord_id")
    }
    items = [
        _view(
            row,
            names.get(row.type_id, ""),
            people[row.applicant_id],
            people.get(row.claimed_by_id) if row.claimed_by_id else None,
            people.get(row.decided_by_id) if row.decided_by_id else None,
        )
        for row in rows
    ]
    return Page[ApplicationView](items=items, next_cursor=page.next_cursor)


def _view(
    row: Application,
    type_name: str,
    applicant: Person,
    claimed_by: Person | None,
    decided_by: Person | None,
) -> ApplicationView:
    return ApplicationView(
        id=row.id,
        type_id=row.type_id,
        type_name=type_name,
        applicant=applicant,
        answers=dict(row.answers or {}),
        state=row.state,
        claimed_by=claimed_by,
        decided_by=decided_by,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
        created_at=row.created_at,
        review_channel_id=_snowflake(row.review_channel_id),
        review_message_id=_snowflake(row.review_message_id),
        review_thread_id=_snowflake(row.review_thread_id),
    )


def message_view(row: ApplicationMessage) -> MessageView:
    """A message loaded with its author."""
    return MessageView(
        id=row.id,
        application_id=row.application_id,
        author=person(row.author),
        from_staff=row.from_staff,
        text=row.text,
        created_at=row.created_at,
    )


# Side effects


async def queue_review(hub: Hub, application: Application, app_type: ApplicationType) -> None:
    """Ask the bot to post (or edit) the application's review message: it renders the
    application as it is when it sends, so one action per application stays waiting."""
    channel = application.review_channel_id or app_type.review_channel_id
    if hub.guild_id is None or channel is None:
        return
    await discord_actions.enqueue(
        hub.id,
        hub.guild_id,
        ActionKind.POST,
        target_key=f"application:{application.id}",
        channel_id=channel,
        payload={"render": "applications.review", "application_id": application.id},
    )


async def queue_message(hub: Hub, application: Application, message: ApplicationMessage) -> None:
    """Ask the bot to post an applicant's message in the application's review thread."""
    channel = application.review_thread_id or application.review_channel_id
    if hub.guild_id is None or channel is None:
        return
    await discord_actions.enqueue(
        hub.id,
        hub.guild_id,
        ActionKind.POST,
        target_key=f"application-message:{message.id}",
        channel_id=channel,
        payload={"render": "applications.message", "message_id": message.id},
    )


async def change_roles(
    actor: Actor,
    hub: Hub,
    member: Member,
    *,
    give: Iterable[int] = (),
    take: Iterable[int] = (),
    reason: str,
) -> tuple[list[int], list[int]]:
    """Give and take hub roles the type names (those still existing), on the type's behalf:
    staff who configured the type chose them. Returns the ids really given and taken."""
    user = member.user if isinstance(member.user, User) else await User.get(id=member.user_id)
    given: list[int] = []
    taken: list[int] = []
    wanted = set(give) | set(take)
    roles = {r.id: r for r in await Role.filter(hub_id=hub.id, id__in=list(wanted))}
    for role_id in give:
        role = roles.get(role_id)
        if role is None:
            continue
        _grant, created = await MemberRole.get_or_create(member_id=member.id, role_id=role.id)
        if created:
            given.append(role.id)
            await _role_changed(actor, hub, member, user, role, add=True, reason=reason)
    for role_id in take:
        role = roles.get(role_id)
        if role is None:
            continue
        if await MemberRole.filter(member_id=member.id, role_id=role.id).delete():
            taken.append(role.id)
            await _role_changed(actor, hub, member, user, role, add=False, reason=reason)
    return given, taken


async def _role_changed(
    actor: Actor, hub: Hub, member: Member, user: User, role: Role, *, add: bool, reason: str
) -> None:
    action = "role_given" if add else "role_taken"
    await _change(actor, hub, member, action, reason, role=role.id, role_name=role.name)
    if role.discord_role_id is not None:
        await discord_actions.follow_role(
            hub, user.discord_id, role.discord_role_id, add=add, reason=reason
        )


def details(application: Application, **more: Any) -> dict[str, Any]:
    """Audit details of an application."""
    return {"type": application.type_id, "applicant": application.applicant_id, **more}
