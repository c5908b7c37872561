"""Application types (staff, manage_applications) and who may apply for one (eligibility)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from models import audit, plugins
from models.actor import Actor
from models.applications.common import KEY, MANAGE, type_in, type_not_found
from models.applications.forms import Form, steps
from models.applications.schemas import (
    ROLE_FIELDS,
    OpenTypeView,
    TypeInput,
    TypeUpdate,
    TypeView,
)
from models.applications.tables import (
    Application,
    ApplicationState,
    ApplicationType,
    MemberRule,
)
from models.auth import now
from models.errors import Conflict, Forbidden
from models.hubs import Hub
from models.i18n import N_
from models.members.bans import refuse_if_banned
from models.members.roles import check_hub_roles
from models.members.tables import Member, MemberState, Role
from models.users import User

TYPES_PER_HUB = 50


def type_view(row: ApplicationType) -> TypeView:
    return TypeView.model_validate(_type_values(row))


def _type_values(row: ApplicationType) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in TypeView.model_fields}
    values["review_channel_id"] = str(row.review_channel_id) if row.review_channel_id else None
    return values


def open_type_view(row: ApplicationType) -> OpenTypeView:
    form = Form.model_validate(row.form)
    return OpenTypeView(
        id=row.id, name=row.name, description=row.description, form=form, steps=len(steps(form))
    )


def form_of(row: ApplicationType) -> Form:
    return Form.model_validate(row.form)


async def open_types(actor: Actor, hub: Hub) -> list[ApplicationType]:
    """The active types anyone the hub lets in may apply for, in the hub's order."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    return await ApplicationType.filter(hub_id=hub.id, active=True).order_by("position", "id")


async def all_types(actor: Actor, hub: Hub) -> list[ApplicationType]:
    """Every type, inactive ones too (staff)."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=False)
    return await ApplicationType.filter(hub_id=hub.id).order_by("position", "id")


async def get_type(
    actor: Actor, hub: Hub, type_id: int, *, for_applying: bool = False
) -> ApplicationType:
    """A type of the hub. Applying, an inactive type is as unknown as a missing one;
    otherwise staff (manage_applications) read inactive ones too."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    found = await type_in(hub, type_id)
    if not found.active:
        if for_applying:
            raise type_not_found()
        await plugins.enter(actor, hub, KEY, MANAGE, write=False)
    return found


async def _check_roles(hub: Hub, values: dict[str, Any]) -> None:
    """Every role a type names is a role of this hub (422 naming the field)."""
    await check_hub_roles(hub, {name: values.get(name) for name in ROLE_FIELDS})


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    if "form" in values and values["form"] is not None:
        values["form"] = Form.model_validate(values["form"]).model_dump(mode="json")
    for name in ROLE_FIELDS:
        if name in values:
            values[name] = list(dict.fromkeys(values[name]))  # in order, once each
    return values


async def create_type(actor: Actor, hub: Hub, data: TypeInput) -> ApplicationType:
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    values = _stored(data.model_dump(mode="json"))
    values["review_channel_id"] = data.review_channel_id
    await _check_roles(hub, values)
    async with in_transaction():
        if await ApplicationType.filter(hub_id=hub.id).count() >= TYPES_PER_HUB:
            raise Conflict(
                N_("A hub has at most {limit} application types."),
                code="too_many_types",
                limit=TYPES_PER_HUB,
            )
        row = await ApplicationType.create(hub_id=hub.id, **values)
        await audit.record(
            actor, "applications.type_created", hub=hub, target=str(row.id), details=values
        )
    return row


async def update_type(actor: Actor, hub: Hub, type_id: int, data: TypeUpdate) -> ApplicationType:
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    changes = _stored(data.model_dump(mode="json", exclude_unset=True))
    if "review_channel_id" in changes:
        changes["review_channel_id"] = data.review_channel_id
    await _check_roles(hub, changes)
    async with in_transaction():
        row = await type_in(hub, type_id)
        before = {name: getattr(row, name) for name in changes}
        row.update_from_dict(changes)
        await row.save()
        await audit.record(
            actor,
            "applications.type_updated",
            hub=hub,
            target=str(row.id),
            details={"before": _jsonable(before), "after": _jsonable(changes)},
        )
    return row


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if k == "review_channel_id" and v else v) for k, v in values.items()}


async def delete_type(actor: Actor, hub: Hub, type_id: int) -> None:
    """Delete a type and its applications (deactivate it to keep them)."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    async with in_transaction():
        row = await type_in(hub, type_id)
        count = await Application.filter(type_id=row.id).count()
        await audit.record(
            actor,
            "applications.type_deleted",
            hub=hub,
            target=str(row.id),
            details={"name": row.name, "applications": count},
        )
        await row.delete()


# Eligibility: each rule refuses with its own code and a message naming it.


async def check_eligible(actor: Actor, hub: Hub, app_type: ApplicationType) -> None:
    """Refuse (403, or 409 already_pending) unless the actor may apply for `app_type` now."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    if actor.user_id is None:
        raise Forbidden(N_("Only a person can apply."), code="person_required")
    user = await User.get(id=actor.user_id)
    await refuse_if_banned(hub, user)
    _connections(app_type, user)
    # Read only (the bot checks while someone picks a type): no row yet is a visitor.
    member = await Member.get_or_none(hub_id=hub.id, user_id=user.id)
    state = member.state if member is not None else MemberState.VISITOR
    name = app_type.name
    if app_type.member_state == MemberRule.MEMBER and state != MemberState.MEMBER:
        raise Forbidden(
            N_("Only members of the hub can apply for {type}."), code="members_only", type=name
        )
    if app_type.member_state == MemberRule.NOT_MEMBER and state == MemberState.MEMBER:
        raise Forbidden(
            N_("You are a member already: {type} is for those who are not."),
            code="not_for_members",
            type=name,
        )
    in_guild = member is not None and member.in_guild and user.discord_id is not None
    if app_type.require_in_guild and not in_guild:
        raise Forbidden(N_("Join the hub's Discord server before you apply."), code="not_in_server")
    await _roles(hub, app_type, member)
    await _history(app_type, user.id)


def _connections(app_type: ApplicationType, user: User) -> None:
    if app_type.require_steam and user.steam_id is None:
        raise Forbidden(N_("Link your Steam account before you apply."), code="steam_required")
    if app_type.require_verified_email and not (user.email and user.is_verified):
        raise Forbidden(N_("Verify your e-mail address before you apply."), code="email_required")


async def _roles(hub: Hub, app_type: ApplicationType, member: Member | None) -> None:
    needed, forbidden = set(app_type.any_of_role_ids or []), set(app_type.forbidden_role_ids or [])
    if not needed and not forbidden:
        return
    roles = await member.effective_roles() if member is not None else []
    held = {role.id: role for role in roles}
    if needed and not needed & set(held):
        names = await Role.filter(hub_id=hub.id, id__in=list(needed)).values_list("name", flat=True)
        raise Forbidden(
            N_("You need one of these roles to apply: {roles}."),
            code="role_required",
            roles=", ".join(sorted(names)),
        )
    blocking = sorted(held[r].name for r in forbidden & set(held))
    if blocking:
        raise Forbidden(
            N_("You cannot apply while you hold the role {role}."),
            code="role_forbidden",
            role=blocking[0],
        )


async def _history(app_type: ApplicationType, user_id: int) -> None:
    """One pending application per type (unless several are allowed), and the cooldown after
    a decline."""
    mine = Application.filter(type_id=app_type.id, applicant_id=user_id)
    if (
        not app_type.allow_several_pending
        and await mine.filter(state=ApplicationState.PENDING).exists()
    ):
        raise Conflict(
            N_("You already have a pending application for {type}."),
            code="already_pending",
            type=app_type.name,
        )
    if app_type.cooldown_days <= 0:
        return
    declined = await mine.filter(state=ApplicationState.DECLINED).order_by("-decided_at").first()
    if declined is None or declined.decided_at is None:
        return
    again = declined.decided_at + timedelta(days=app_type.cooldown_days)
    if again > now():
        raise Forbidden(
            N_("You can apply for {type} again from {date} (UTC)."),
            code="cooldown",
            type=app_type.name,
            date=again.strftime("%Y-%m-%d %H:%M"),
            until=again.isoformat(),
        )
