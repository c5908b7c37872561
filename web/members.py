"""Members, bans, roles and the audit log over HTTP (rules in `models.members`).

Every route is under a hub; an id of another hub is as unknown as a missing one (404).
`{member}` also takes `@me`: the caller's own row in the hub.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from models import plugins
from models.errors import NotFound
from models.hubs import Hub
from models.i18n import N_
from models.members import bans, directory, lifecycle, roles
from models.members.bans import BanInput, BanQuery, BanView, ban_view
from models.members.directory import (
    AuditEntry,
    AuditQuery,
    DirectoryQuery,
    MemberProfile,
    MemberSummary,
)
from models.members.lifecycle import (
    AcceptInput,
    DismissInput,
    JoinDateInput,
    NoteInput,
    ResignInput,
)
from models.members.roles import RoleChange, RoleInput, RoleUpdate
from models.members.tables import (
    NOTE_LENGTH,
    Member,
    MembershipChange,
    MemberState,
    Role,
    StaffNote,
)
from models.pagination import Page, PageQuery
from models.permissions import Permission
from web.api import Router, json_response, parse_query, path_id, read_json
from web.auth import actor_of
from web.gates import hub_of

router = Router("members")

MANAGE_MEMBERS = lifecycle.MANAGE
BAN_MEMBERS = bans.BAN
MANAGE_ROLES = roles.MANAGE_ROLES


# Views of rows the operations return


class MemberView(BaseModel):
    """A membership as it stands after a change."""

    id: int
    user_id: int
    name: str
    number: int | None
    state: MemberState
    joined_at: datetime | None
    ended_at: datetime | None


class HistoryEntry(BaseModel):
    id: int
    action: str = Field(
        description="accepted, restored, dismissed, resigned, banned, role_given..."
    )
    reason: str
    actor_id: int | None
    details: dict[str, Any]
    created_at: datetime


History = Page[HistoryEntry]  # newest first


class NoteView(BaseModel):
    id: int
    member_id: int
    author_id: int | None
    text: str
    created_at: datetime
    updated_at: datetime


Notes = Page[NoteView]  # newest first


class RoleView(BaseModel):
    id: int
    name: str
    position: int
    color: int
    permissions: list[str]
    discord_role_id: str | None
    created_at: datetime


class Roles(BaseModel):
    items: list[RoleView] = Field(description="Most senior first.")


def member_view(member: Member) -> MemberView:
    return MemberView(
        id=member.id,
        user_id=member.user_id,
        name=member.user.username,
        number=member.number,
        state=member.state,
        joined_at=member.joined_at,
        ended_at=member.ended_at,
    )


def history_entry(change: MembershipChange) -> HistoryEntry:
    return HistoryEntry(
        id=change.id,
        action=change.action,
        reason=change.reason,
        actor_id=change.actor_id,
        details=change.details,
        created_at=change.created_at,
    )


def note_view(note: StaffNote) -> NoteView:
    return NoteView(
        id=note.id,
        member_id=note.member_id,
        author_id=note.author_id,
        text=note.text,
        created_at=note.created_at,
        updated_at=note.updated_at,
    )


def role_view(role: Role) -> RoleView:
    return RoleView(
        id=role.id,
        name=role.name,
        position=role.position,
        color=role.color,
        permissions=list(role.permissions),
        discord_role_id=str(role.discord_role_id) if role.discord_role_id else None,
        created_at=role.created_at,
    )


# Path ids: a malformed id names nothing, like an unknown one (the operations' own 404s)


def _no_member() -> NotFound:
    return NotFound(N_("That member does not exist."), code="member_not_found")


async def member_id_of(request: web.Request, hub: Hub) -> int:
    """The `{member}` id, or the caller's own row for `@me`."""
    if request.match_info["member"] == "@me":
        actor = await actor_of(request)
        mine = await directory.my_membership(actor, hub)
        if mine is None:  # a first visit: entering the hub records them as a visitor
            await plugins.enter(actor, hub, "members", None, write=False)
            mine = await directory.my_membership(actor, hub)
        if mine is None:
            raise _no_member()
        return mine.id
    return path_id(request, "member", _no_member())


def _role_id(request: web.Request) -> int:
    return path_id(
        request, "role", NotFound(N_("That role does not exist."), code="role_not_found")
    )


def _ban_id(request: web.Request) -> int:
    return path_id(request, "ban", NotFound(N_("That ban does not exist."), code="ban_not_found"))


def _note_id(request: web.Request) -> int:
    return path_id(
        request, "note", NotFound(N_("That note does not exist."), code="note_not_found")
    )


async def _optional_body(request: web.Request, model: type[Any]) -> Any:
    """Routes whose body only adds a reason: no body at all takes the defaults."""
    return await read_json(request, model) if request.body_exists else model()


# The directory and profiles


@router.get(
    "/hubs/{hub}/members",
    query=DirectoryQuery,
    response=Page[MemberSummary],
    errors=(401, 403, 404, 422),
    auth=True,
    description=(
        "For members, holders of a hub role and people in the hub's Discord server (403"
        " not_a_member otherwise); members see members, staff with manage_members every state"
        " (`state`). 404 role_not_found for an unknown `role`."
    ),
)
async def list_members(request: web.Request) -> web.Response:
    """The member directory: search, filter and sort the hub's members."""
    actor, hub = await actor_of(request), await hub_of(request)
    page = await directory.directory(actor, hub, parse_query(request, DirectoryQuery))
    return json_response(page)


@router.get(
    "/hubs/{hub}/members/{member}",
    response=MemberProfile,
    errors=(401, 403, 404),
    auth=True,
    description=(
        "`{member}` is the `id` of a directory entry, or `@me` (your own row, whatever its"
        " state). Readers as for the directory. Connections and last seen follow the member's"
        " privacy choices; staff with manage_members see them and the `staff` part."
    ),
)
async def get_member(request: web.Request) -> web.Response:
    """A member's profile."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await directory.profile(actor, hub, await member_id_of(request, hub)))


# Membership


@router.post(
    "/hubs/{hub}/members/{member}/accept",
    body=AcceptInput,
    response=MemberView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE_MEMBERS,
    description=(
        "Needs manage_members. The body is optional (restore, no reason). 409 already_member;"
        " 403 banned for a banned identity; 422 missing_connection when the hub requires a"
        " connection the user lacks."
    ),
)
async def accept_member(request: web.Request) -> web.Response:
    """Make a visitor or a former member a member."""
    actor, hub = await actor_of(request), await hub_of(request)
    member_id = await member_id_of(request, hub)
    body: AcceptInput = await _optional_body(request, AcceptInput)
    member, _signal = await lifecycle.accept(
        actor, hub, member_id, mode=body.mode, reason=body.reason
    )
    return json_response(member_view(member))


@router.post(
    "/hubs/{hub}/members/{member}/dismiss",
    body=DismissInput,
    response=MemberView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE_MEMBERS,
    description=(
        "Needs manage_members, over a member strictly below your highest role (403"
        " role_hierarchy). Their hub roles are taken away. 409 not_a_member."
    ),
)
async def dismiss_member(request: web.Request) -> web.Response:
    """End someone's membership, with a reason."""
    actor, hub = await actor_of(request), await hub_of(request)
    member_id = await member_id_of(request, hub)
    body = await read_json(request, DismissInput)
    member, _signal = await lifecycle.dismiss(actor, hub, member_id, body.reason)
    return json_response(member_view(member))


@router.post(
    "/hubs/{hub}/resign",
    body=ResignInput,
    response=MemberView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    description=(
        "Any member. `confirm` must be true (422 confirmation_required); 409 not_a_member."
    ),
)
async def resign(request: web.Request) -> web.Response:
    """End your own membership; your hub roles are taken away."""
    actor, hub = await actor_of(request), await hub_of(request)
    body = await read_json(request, ResignInput)
    member, _signal = await lifecycle.resign(actor, hub, confirm=body.confirm, reason=body.reason)
    return json_response(member_view(member))


@router.put(
    "/hubs/{hub}/members/{member}/join-date",
    body=JoinDateInput,
    response=MemberView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE_MEMBERS,
    description=(
        "Needs manage_members: carry seniority over from another system. 422 future_join_date;"
        " 409 not_a_member for someone never accepted."
    ),
)
async def set_join_date(request: web.Request) -> web.Response:
    """Set a member's join date."""
    actor, hub = await actor_of(request), await hub_of(request)
    member_id = await member_id_of(request, hub)
    body = await read_json(request, JoinDateInput)
    member = await lifecycle.set_join_date(actor, hub, member_id, body.joined_at)
    return json_response(member_view(member))


@router.get(
    "/hubs/{hub}/members/{member}/history",
    query=PageQuery,
    response=History,
    errors=(401, 403, 404, 422),
    auth=True,
    description="Staff with manage_members, or the member themselves (`@me`).",
)
async def member_history(request: web.Request) -> web.Response:
    """A member's membership changes: who did what, when and why."""
    actor, hub = await actor_of(request), await hub_of(request)
    query = parse_query(request, PageQuery)
    page = await lifecycle.history(actor, hub, await member_id_of(request, hub), query)
    return json_response(
        History(items=[history_entry(c) for c in page.items], next_cursor=page.next_cursor)
    )


# Staff notes


@router.get(
    "/hubs/{hub}/members/{member}/notes",
    query=PageQuery,
    response=Notes,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=MANAGE_MEMBERS,
    description="Needs manage_members; members never see the notes kept on them.",
)
async def list_notes(request: web.Request) -> web.Response:
    """Staff notes on a member."""
    actor, hub = await actor_of(request), await hub_of(request)
    query = parse_query(request, PageQuery)
    page = await lifecycle.notes(actor, hub, await member_id_of(request, hub), query)
    return json_response(
        Notes(items=[note_view(n) for n in page.items], next_cursor=page.next_cursor)
    )


@router.post(
    "/hubs/{hub}/members/{member}/notes",
    body=NoteInput,
    response=NoteView,
    status=201,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=MANAGE_MEMBERS,
    description=f"Needs manage_members. At most {NOTE_LENGTH} characters.",
)
async def add_note(request: web.Request) -> web.Response:
    """Add a staff note on a member."""
    actor, hub = await actor_of(request), await hub_of(request)
    member_id = await member_id_of(request, hub)
    body = await read_json(request, NoteInput)
    note = await lifecycle.add_note(actor, hub, member_id, body.text)
    return json_response(note_view(note), status=201)


@router.patch(
    "/hubs/{hub}/notes/{note}",
    body=NoteInput,
    response=NoteView,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=MANAGE_MEMBERS,
    description="Needs manage_members. The text before and after is kept in the audit log.",
)
async def edit_note(request: web.Request) -> web.Response:
    """Change a staff note's text."""
    actor, hub = await actor_of(request), await hub_of(request)
    note_id = _note_id(request)
    body = await read_json(request, NoteInput)
    return json_response(note_view(await lifecycle.edit_note(actor, hub, note_id, body.text)))


@router.delete(
    "/hubs/{hub}/notes/{note}",
    status=204,
    errors=(401, 403, 404),
    auth=True,
    permission=MANAGE_MEMBERS,
    description="Needs manage_members. The text is kept in the audit log.",
)
async def delete_note(request: web.Request) -> web.Response:
    """Delete a staff note."""
    actor, hub = await actor_of(request), await hub_of(request)
    await lifecycle.delete_note(actor, hub, _note_id(request))
    return web.Response(status=204)


# Bans


@router.get(
    "/hubs/{hub}/bans",
    query=BanQuery,
    response=Page[BanView],
    errors=(401, 403, 404, 422),
    auth=True,
    permission=BAN_MEMBERS,
    description="Needs ban_members. Bans in force, newest first; `lifted=true` adds the others.",
)
async def list_bans(request: web.Request) -> web.Response:
    """The hub's bans."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await bans.ban_page(actor, hub, parse_query(request, BanQuery)))


@router.post(
    "/hubs/{hub}/bans",
    body=BanInput,
    response=BanView,
    status=201,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=BAN_MEMBERS,
    description=(
        "Needs ban_members. Bans a Discord id, a Steam id or an e-mail address; members it"
        " matches stop being members. 409 self_ban, owner_protected."
    ),
)
async def create_ban(request: web.Request) -> web.Response:
    """Ban an identity from the hub."""
    actor, hub = await actor_of(request), await hub_of(request)
    body = await read_json(request, BanInput)
    record, _signals = await bans.ban(actor, hub, body)
    return json_response(ban_view(record), status=201)


@router.get(
    "/hubs/{hub}/bans/{ban}",
    response=BanView,
    errors=(401, 403, 404),
    auth=True,
    permission=BAN_MEMBERS,
    description="Needs ban_members.",
)
async def get_ban(request: web.Request) -> web.Response:
    """One ban, in force or lifted."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(ban_view(await bans.ban_detail(actor, hub, _ban_id(request))))


@router.delete(
    "/hubs/{hub}/bans/{ban}",
    response=BanView,
    errors=(401, 403, 404, 409),
    auth=True,
    permission=BAN_MEMBERS,
    description=(
        "Needs ban_members. The ban is kept, lifted; the people it matched become former"
        " members (accept them again to return). 409 ban_lifted."
    ),
)
async def lift_ban(request: web.Request) -> web.Response:
    """Lift a ban."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(ban_view(await bans.unban(actor, hub, _ban_id(request))))


# Roles


@router.get(
    "/hubs/{hub}/roles",
    response=Roles,
    errors=(401, 403, 404),
    auth=True,
    description="Anyone the hub lets in (not banned).",
)
async def list_roles(request: web.Request) -> web.Response:
    """The hub's roles."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(Roles(items=[role_view(r) for r in await roles.roles(actor, hub)]))


@router.post(
    "/hubs/{hub}/roles",
    body=RoleInput,
    response=RoleView,
    status=201,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE_ROLES,
    description=(
        "Needs manage_roles; the position must be below your highest role (403"
        " role_hierarchy) and you can grant only permissions you hold (403"
        " permission_not_held). 409 role_name_taken, discord_role_linked, too_many_roles."
    ),
)
async def create_role(request: web.Request) -> web.Response:
    """Create a role."""
    actor, hub = await actor_of(request), await hub_of(request)
    body = await read_json(request, RoleInput)
    return json_response(role_view(await roles.create_role(actor, hub, body)), status=201)


@router.patch(
    "/hubs/{hub}/roles/{role}",
    body=RoleUpdate,
    response=RoleView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE_ROLES,
    description=(
        "Needs manage_roles over a role below your highest. Relinking the Discord role moves"
        " its holders' Discord roles. 409 last_manager_role when it would leave no role that"
        " can manage roles."
    ),
)
async def edit_role(request: web.Request) -> web.Response:
    """Change a role."""
    actor, hub = await actor_of(request), await hub_of(request)
    role_id = _role_id(request)
    body = await read_json(request, RoleUpdate)
    return json_response(role_view(await roles.edit_role(actor, hub, role_id, body)))


@router.delete(
    "/hubs/{hub}/roles/{role}",
    status=204,
    errors=(401, 403, 404, 409),
    auth=True,
    permission=MANAGE_ROLES,
    description=(
        "Needs manage_roles over a role below your highest; its holders lose it (and its"
        " Discord role). 409 last_manager_role for the hub's last role that manages roles."
    ),
)
async def delete_role(request: web.Request) -> web.Response:
    """Delete a role."""
    actor, hub = await actor_of(request), await hub_of(request)
    await roles.delete_role(actor, hub, _role_id(request))
    return web.Response(status=204)


@router.put(
    "/hubs/{hub}/members/{member}/roles/{role}",
    body=RoleChange,
    status=204,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE_ROLES,
    description=(
        "Needs manage_roles over the role (403 role_hierarchy at or above your highest). The"
        " body (a reason) is optional. A linked Discord role follows through the bot's queue."
        " 409 role_already_given, member_banned."
    ),
)
async def give_role(request: web.Request) -> web.Response:
    """Give a member a role."""
    actor, hub = await actor_of(request), await hub_of(request)
    member_id, role_id = await member_id_of(request, hub), _role_id(request)
    body: RoleChange = await _optional_body(request, RoleChange)
    await roles.give_role(actor, hub, member_id, role_id, body.reason)
    return web.Response(status=204)


@router.delete(
    "/hubs/{hub}/members/{member}/roles/{role}",
    body=RoleChange,
    status=204,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE_ROLES,
    description=(
        "Needs manage_roles over the role. The body (a reason) is optional. A linked Discord"
        " role follows through the bot's queue. 409 role_not_given."
    ),
)
async def take_role(request: web.Request) -> web.Response:
    """Take a role from a member."""
    actor, hub = await actor_of(request), await hub_of(request)
    member_id, role_id = await member_id_of(request, hub), _role_id(request)
    body: RoleChange = await _optional_body(request, RoleChange)
    await roles.take_role(actor, hub, member_id, role_id, body.reason)
    return web.Response(status=204)


# The audit log


@router.get(
    "/hubs/{hub}/audit-log",
    query=AuditQuery,
    response=Page[AuditEntry],
    errors=(401, 403, 404, 422),
    auth=True,
    permission=Permission.VIEW_AUDIT_LOG,
    description="Needs view_audit_log. Newest first; `action` ending in a dot is a category.",
)
async def audit_log(request: web.Request) -> web.Response:
    """The hub's audit log."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await directory.audit_log(actor, hub, parse_query(request, AuditQuery)))
