"""Membership: accepting, dismissing, resigning, join dates, history and staff notes.

Every change writes a `MembershipChange` row, an audit entry and the member's notification
(`TOLD`: the changes a member hears of) in the same transaction, and returns the signal it
emits (`Signal`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models import audit, plugins
from models.actor import Actor
from models.auth import now
from models.errors import Conflict, Invalid, NotFound
from models.hubs import Hub
from models.i18n import N_, Lazy
from models.members.tables import (
    FORMER,
    NOTE_LENGTH,
    REASON_LENGTH,
    Member,
    MembershipChange,
    MemberState,
    StaffNote,
)
from models.pagination import Page, PageQuery, paginate
from models.permissions import authorize
from models.text import Text
from models.users import User

KEY = "members"
MANAGE = "manage_members"
AcceptMode = Literal["restore", "fresh"]
# What a hub can require before anyone is accepted, and how people read each.
CONNECTIONS: dict[str, str] = {
    "steam": N_("a linked Steam account"),
    "email": N_("a verified e-mail address"),
}


# What adapters validate before calling the operations (the API and the bot alike)


class AcceptInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: AcceptMode = Field(
        default="restore",
        description="restore: a former member gets their old number back; fresh: a new one.",
    )
    reason: Text(REASON_LENGTH) = ""  # type: ignore[valid-type]


class DismissInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text(REASON_LENGTH) = Field(min_length=1)  # type: ignore[valid-type]


class ResignInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: bool = Field(description="Must be true: leaving takes your hub roles away.")
    reason: Text(REASON_LENGTH) = ""  # type: ignore[valid-type]


class JoinDateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    joined_at: AwareDatetime = Field(description="Not in the future; with a time zone.")


class NoteInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text(NOTE_LENGTH) = Field(min_length=1)  # type: ignore[valid-type]


class ReasonInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text(REASON_LENGTH) = ""  # type: ignore[valid-type]


@dataclass(frozen=True, slots=True)
class Signal:
    """Something that happened in a hub, for notifications and hub posts to pick up."""

    kind: str  # e.g. "member.accepted"
    hub_id: int
    member_id: int
    data: dict[str, Any] = field(default_factory=dict)


async def member_in(hub: Hub, member_id: int) -> Member:
    """A member row of this hub; another hub's id is as unknown as a missing one (404)."""
    member = await Member.get_or_none(id=member_id, hub_id=hub.id).select_related("user")
    if member is None:
        raise NotFound(N_("That member does not exist."), code="member_not_found")
    return member


async def _over(actor: Actor, hub: Hub, member: Member, permission: str) -> None:
    """Staff act only on members strictly below their own highest role."""
    roles = await member.effective_roles()
    await authorize(actor, hub, permission, over_rank=max((r.position for r in roles), default=0))


async def _change(
    actor: Actor,
    hub: Hub,
    member: Member,
    action: str,
    reason: str = "",
    **details: Any,
) -> Signal:
    await MembershipChange.create(
        hub_id=hub.id,
        member_id=member.id,
        actor_id=actor.user_id,
        action=action,
        reason=reason,
        details=details,
    )
    await audit.record(
        actor,
        f"members.{action}",
        hub=hub,
        target=str(member.id),
        details={"reason": reason, **details} if reason else details,
    )
    await _tell(hub, member, action, reason, details)
    return Signal(f"member.{action}", hub.id, member.id, {"reason": reason, **details})


# The changes a member is told about (kinds the members package declares), by action. Join
# dates and unbans are staff bookkeeping, and leaving the server is the member's own doing.
TOLD = {
    "accepted": "member.accepted",
    "restored": "member.accepted",  # a returning member is welcomed like a new one
    "dismissed": "member.dismissed",
    "resigned": "member.resigned",
    "banned": "member.banned",
    "role_given": "member.roles_changed",
    "role_taken": "member.roles_changed",
}
NONE = N_("none")
NO_REASON = N_("none given")


async def _tell(
    hub: Hub, member: Member, action: str, reason: str, details: dict[str, Any]
) -> None:
    """Notify the member of a change, in the change's transaction (a rollback tells nothing)."""
    kind = TOLD.get(action)
    if kind is None:
        return
    data: dict[str, Any] = {"hub": hub.name}
    if kind == "member.accepted":
        data["number"] = member.number
    elif kind in ("member.dismissed", "member.banned"):
        data["reason"] = reason or {"t": NO_REASON}  # {"t": ...}: translated for the reader
    elif kind == "member.roles_changed":
        role, none = details.get("role_name", ""), {"t": NONE}
        data["added"] = role if action == "role_given" else none
        data["removed"] = role if action == "role_taken" else none
    from models.notifications.center import notify

    await notify([member.user_id], kind, data, hub=hub)


def missing_connections(hub: Hub, user: User) -> list[str]:
    """The hub's required connections the user lacks (keys of CONNECTIONS)."""
    required = plugins.settings_of(hub, KEY).required_connections
    have = {"steam": user.steam_id is not None, "email": bool(user.email and user.is_verified)}
    return [name for name in required if not have.get(name, False)]


async def _next_number(hub: Hub) -> int:
    """The hub's next member number; the counter only grows, so no number is given twice."""
    await Hub.filter(id=hub.id).update(member_numbers=F("member_numbers") + 1)
    return (await Hub.get(id=hub.id).only("id", "member_numbers")).member_numbers


async def accept(
    actor: Actor, hub: Hub, member_id: int, *, mode: AcceptMode = "restore", reason: str = ""
) -> tuple[Member, Signal]:
    """Make a visitor (or a former member) a member.

    A former member keeps their number with `restore`, or gets a new one with `fresh`
    (their history stays either way). Refused for a banned user, a member, and anyone
    lacking a connection the hub requires (named in the refusal).
    """
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    from models.members.bans import refuse_if_banned

    async with in_transaction():
        await member_in(hub, member_id)  # 404 for another hub's id
        # Locked on PostgreSQL, so two staff accepting at once give one number.
        # (PostgreSQL refuses FOR UPDATE with the outer join select_related makes.)
        member = await Member.filter(id=member_id).select_for_update().get()
        await member.fetch_related("user")
        if member.state == MemberState.MEMBER:
            raise Conflict(
                N_("{name} is already a member."), code="already_member", name=member.user.username
            )
        await refuse_if_banned(hub, member.user, name=member.user.username)
        missing = missing_connections(hub, member.user)
        if missing:
            raise Invalid(
                N_("{name} cannot be accepted yet: {missing} is needed."),
                code="missing_connection",
                name=member.user.username,
                missing=Lazy(CONNECTIONS[missing[0]]),
                connections=missing,
            )
        was_former = member.state in FORMER
        restore = mode == "restore" and was_former and member.number is not None
        if not restore:
            member.number = await _next_number(hub)
        # A restored member keeps their seniority (a join date staff set included).
        joined = member.joined_at if restore and member.joined_at is not None else now()
        member.state, member.joined_at, member.ended_at = MemberState.MEMBER, joined, None
        await member.save(update_fields=["state", "number", "joined_at", "ended_at"])
        action = "restored" if restore else "accepted"
        signal = await _change(actor, hub, member, action, reason, number=member.number)
        from models.posts.ops import emit_member

        await emit_member(hub, "member.accepted", member)  # the hub's welcome post
        if not restore and was_former and member.points:
            from models.points.ledger import reset

            # A fresh start: a correction row brings the total to zero (history stays).
            await reset(hub, member, actor, "fresh start")
    return member, signal


async def _end(
    actor: Actor, hub: Hub, member: Member, state: MemberState, action: str, reason: str
) -> Signal:
    """End a membership: the state, the end date, and the hub's roles taken away."""
    if member.state != MemberState.MEMBER:
        raise Conflict(
            N_("{name} is not a member."), code="not_a_member", name=member.user.username
        )
    from models.members.roles import strip_roles

    member.state, member.ended_at = state, now()
    await member.save(update_fields=["state", "ended_at"])
    roles = await strip_roles(hub, member, f"membership {action}")
    from models.posts.ops import emit_member

    await emit_member(hub, "member.left", member)  # dismissed, resigned or left the server
    return await _change(actor, hub, member, action, reason, roles_removed=roles)


async def dismiss(actor: Actor, hub: Hub, member_id: int, reason: str) -> tuple[Member, Signal]:
    """Staff end someone's membership, with a reason; their hub roles are taken away."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    async with in_transaction():
        member = await member_in(hub, member_id)
        await _over(actor, hub, member, MANAGE)
        signal = await _end(actor, hub, member, MemberState.DISMISSED, "dismissed", reason)
    return member, signal


async def resign(
    actor: Actor, hub: Hub, *, confirm: bool, reason: str = ""
) -> tuple[Member, Signal]:
    """A member ends their own membership (`confirm` must be true: there is no undo)."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    if not confirm:
        raise Invalid(
            N_("Confirm that you want to leave: your hub roles are taken away."),
            code="confirmation_required",
        )
    async with in_transaction():
        member = await Member.get_or_none(hub_id=hub.id, user_id=actor.user_id).select_related(
            "user"
        )
        if member is None:
            raise Conflict(N_("You are not a member of this hub."), code="not_a_member")
        signal = await _end(actor, hub, member, MemberState.RESIGNED, "resigned", reason)
    return member, signal


async def left_server(hub: Hub, member: Member) -> Signal | None:
    """The bot saw a member leave the server: that ends the membership when the hub says so."""
    from models.actor import SYSTEM

    if (
        member.state != MemberState.MEMBER
        or not plugins.settings_of(hub, KEY).leaving_ends_membership
    ):
        return None
    async with in_transaction():
        await member.fetch_related("user")
        return await _end(SYSTEM, hub, member, MemberState.LEFT, "left", "")


async def set_join_date(actor: Actor, hub: Hub, member_id: int, joined_at: datetime) -> Member:
    """Staff carry seniority over from another system: the member's join date."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    if joined_at > now():
        raise Invalid(N_("A join date cannot be in the future."), code="future_join_date")
    async with in_transaction():
        member = await member_in(hub, member_id)
        if member.number is None:
            raise Conflict(
                N_("{name} is not a member."), code="not_a_member", name=member.user.username
            )
        before = member.joined_at
        member.joined_at = joined_at
        await member.save(update_fields=["joined_at"])
        await _change(
            actor,
            hub,
            member,
            "join_date_set",
            before=before.isoformat() if before else None,
            after=joined_at.isoformat(),
        )
    return member


async def history(
    actor: Actor, hub: Hub, member_id: int, query: PageQuery | None = None
) -> Page[MembershipChange]:
    """A member's changes, newest first, a page at a time: for staff, and for the member."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    member = await member_in(hub, member_id)
    if member.user_id != actor.user_id:
        await authorize(actor, hub, MANAGE)
    rows = MembershipChange.filter(member_id=member.id)
    return await paginate(rows, query or PageQuery(), ("-id",), lambda row: row)


async def notes(
    actor: Actor, hub: Hub, member_id: int, query: PageQuery | None = None
) -> Page[StaffNote]:
    """Staff notes on a member, newest first, a page at a time (staff only)."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=False)
    member = await member_in(hub, member_id)
    rows = StaffNote.filter(member_id=member.id)
    return await paginate(rows, query or PageQuery(), ("-id",), lambda row: row)


async def add_note(actor: Actor, hub: Hub, member_id: int, text: str) -> StaffNote:
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    async with in_transaction():
        member = await member_in(hub, member_id)
        note = await StaffNote.create(
            hub_id=hub.id, member_id=member.id, author_id=actor.user_id, text=text
        )
        await audit.record(
            actor,
            "members.note_added",
            hub=hub,
            target=str(member.id),
            details={"note": note.id},
        )
    return note


async def _note_in(hub: Hub, note_id: int) -> StaffNote:
    note = await StaffNote.get_or_none(id=note_id, hub_id=hub.id)
    if note is None:
        raise NotFound(N_("That note does not exist."), code="note_not_found")
    return note


async def edit_note(actor: Actor, hub: Hub, note_id: int, text: str) -> StaffNote:
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    async with in_transaction():
        note = await _note_in(hub, note_id)
        before, note.text = note.text, text
        await note.save(update_fields=["text", "updated_at"])
        await audit.record(
            actor,
            "members.note_edited",
            hub=hub,
            target=str(note.member_id),
            details={"note": note.id, "before": before, "after": text},
        )
    return note


async def delete_note(actor: Actor, hub: Hub, note_id: int) -> None:
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    async with in_transaction():
        note = await _note_in(hub, note_id)
        await note.delete()
        await audit.record(
            actor,
            "members.note_deleted",
            hub=hub,
            target=str(note.member_id),
            details={"note": note.id, "text": note.text},
        )
