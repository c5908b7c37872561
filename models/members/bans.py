"""Bans by identity (Discord id, Steam id, e-mail): they refuse the hub everywhere until lifted
or expired, and end the membership of whoever they match."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import audit, plugins
from models.accounts.inputs import Email
from models.actor import Actor
from models.auth import now
from models.cache import cached, forget
from models.errors import Conflict, Forbidden, NotFound
from models.hubs import Hub
from models.i18n import N_
from models.members.lifecycle import KEY, Signal, _change, _end
from models.members.tables import REASON_LENGTH, Ban, Member, MemberState
from models.pagination import Page, PageQuery, paginate
from models.users import User
from models.validation import Problem

BAN = "ban_members"
# Seconds a "not banned" answer may be reused; a ban or unban forgets it at once.
BAN_CHECK_TTL = 30


class BanInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    discord_id: int | None = Field(default=None, gt=0, lt=2**63)
    steam_id: int | None = Field(default=None, gt=0, lt=2**63)
    email: Email | None = None
    reason: str = Field(default="", max_length=REASON_LENGTH)
    expires_at: datetime | None = Field(
        default=None, description="Lifted by itself then; none: until unbanned."
    )

    @model_validator(mode="after")
    def _an_identity(self) -> BanInput:
        if self.discord_id is None and self.steam_id is None and self.email is None:
            raise Problem(N_("name a Discord id, a Steam id or an e-mail address"))
        return self

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and (value.tzinfo is None or value <= now()):
            raise Problem(N_("give a time in the future, with its time zone"))
        return value


def _same_identity(who: User | Ban | BanInput, prefix: str = "") -> Q:
    """Rows sharing any identity of `who` (a user's, a ban's or a ban request's), `prefix`
    e.g. "user__"; matches nothing when `who` has none."""
    condition = Q(id=-1)
    for name in ("discord_id", "steam_id", "email"):
        value = getattr(who, name)
        if value:
            condition |= Q(**{prefix + name: value})
    return condition


def _in_force() -> Q:
    return Q(lifted_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now()))


async def active_ban(hub: Hub, user: User) -> Ban | None:
    condition = _same_identity(user)
    return await Ban.filter(condition, _in_force(), hub_id=hub.id).order_by("-id").first()


def _ban_key(hub_id: int, user_id: int) -> str:
    return f"banned:{hub_id}:{user_id}"


def _banned() -> Forbidden:
    return Forbidden(N_("You are banned from this hub."), code="banned")


async def refuse_if_banned(hub: Hub, user: User, *, name: str | None = None) -> None:
    """Accepting or applying: refused for an identity the hub banned. With `name`, staff
    acting on someone else read who is banned (else the user reads that they are)."""
    if await active_ban(hub, user) is not None:
        if name is not None:
            raise Conflict(N_("{name} is banned from this hub."), code="member_banned", name=name)
        raise _banned()


async def refuse_banned_actor(actor: Actor, hub: Hub) -> None:
    """The gate of every hub operation and command: a banned user is refused (cached)."""
    if actor.user_id is not None and not actor.is_superuser and await is_banned(hub, actor.user_id):
        raise _banned()


async def is_banned(hub: Hub, user_id: int) -> bool:
    """Cached for BAN_CHECK_TTL: every hub request and command asks (plugins.enter)."""

    async def load() -> bool:
        user = await User.get_or_none(id=user_id)
        return bool(user and await active_ban(hub, user))

    return await cached(_ban_key(hub.id, user_id), BAN_CHECK_TTL, load)


async def _forget_matches(hub: Hub, ban: Ban) -> list[Member]:
    condition = _same_identity(ban, "user__")
    matched = await Member.filter(condition, hub_id=hub.id).select_related("user")
    for member in matched:
        await forget(_ban_key(hub.id, member.user_id))
    return matched


async def ban(actor: Actor, hub: Hub, data: BanInput) -> tuple[Ban, list[Signal]]:
    """Ban an identity; members it matches stop being members (their roles are taken away)."""
    await plugins.enter(actor, hub, KEY, BAN, write=True)
    me = await User.get_or_none(id=actor.user_id) if actor.user_id else None
    _refuse_protected(hub, data, me)
    async with in_transaction():
        if await Ban.filter(_same_identity(data), _in_force(), hub_id=hub.id).exists():
            raise Conflict(
                N_("A ban in force already matches that identity: lift it or let it expire."),
                code="already_banned",
            )
        record = await Ban.create(
            hub_id=hub.id,
            discord_id=data.discord_id,
            steam_id=data.steam_id,
            email=data.email,
            reason=data.reason,
            expires_at=data.expires_at,
            created_by_id=actor.user_id,
        )
        signals = await _enforce(actor, hub, record)
    return record, signals


async def _enforce(actor: Actor, hub: Hub, record: Ban) -> list[Signal]:
    """Audit a new ban and end the memberships it matches (their roles are taken away)."""
    await audit.record(
        actor, "members.ban", hub=hub, target=str(record.id), details=_details(record)
    )
    signals = []
    for member in await _forget_matches(hub, record):
        if member.state == MemberState.MEMBER:
            signals.append(
                await _end(actor, hub, member, MemberState.BANNED, "banned", record.reason)
            )
        elif member.state != MemberState.BANNED:
            member.state = MemberState.BANNED
            await member.save(update_fields=["state"])
            signals.append(await _change(actor, hub, member, "banned", record.reason))
    return signals


async def discord_banned(hub: Hub, discord_id: int, reason: str | None) -> Ban | None:
    """Someone was banned in the Discord server: the hub bans their Discord id too (a ban
    with source "discord", lifted when Discord lifts it). None if one is in force already."""
    if await Ban.filter(_in_force(), hub_id=hub.id, discord_id=discord_id).exists():
        return None
    from models.actor import SYSTEM

    async with in_transaction():
        record = await Ban.create(
            hub_id=hub.id,
            discord_id=discord_id,
            reason=(reason or "")[:REASON_LENGTH],
            source="discord",
        )
        await _enforce(SYSTEM, hub, record)
    return record


async def discord_unbanned(hub: Hub, discord_id: int) -> int:
    """Discord lifted a ban: lift the hub bans that mirrored it (not those staff made here)."""
    from models.actor import SYSTEM

    lifted = 0
    for record in await Ban.filter(
        _in_force(), hub_id=hub.id, discord_id=discord_id, source="discord"
    ):
        await _lift(SYSTEM, hub, record)
        lifted += 1
    return lifted


def _refuse_protected(hub: Hub, data: BanInput, me: User | None) -> None:
    """Nobody bans themselves or the hub's owner (409)."""
    if hub.owner_discord_id is not None and data.discord_id == hub.owner_discord_id:
        raise Conflict(N_("The hub's owner cannot be banned."), code="owner_protected")
    if me is not None and (
        (data.discord_id is not None and data.discord_id == me.discord_id)
        or (data.steam_id is not None and data.steam_id == me.steam_id)
        or (data.email is not None and data.email == me.email)
    ):
        raise Conflict(N_("You cannot ban yourself."), code="self_ban")


def _details(record: Ban) -> dict[str, object]:
    return {
        "discord_id": str(record.discord_id) if record.discord_id else None,
        "steam_id": str(record.steam_id) if record.steam_id else None,
        "email": record.email,
        "reason": record.reason,
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
    }


async def _ban_in(hub: Hub, ban_id: int) -> Ban:
    record = await Ban.get_or_none(id=ban_id, hub_id=hub.id)
    if record is None:
        raise NotFound(N_("That ban does not exist."), code="ban_not_found")
    return record


async def unban(actor: Actor, hub: Hub, ban_id: int) -> Ban:
    """Lift a ban; the people it matched become former members (accept them again to return)."""
    await plugins.enter(actor, hub, KEY, BAN, write=True)
    record = await _ban_in(hub, ban_id)
    if record.lifted_at is not None:
        raise Conflict(N_("That ban was already lifted."), code="ban_lifted")
    await _lift(actor, hub, record)
    return record


async def _lift(actor: Actor, hub: Hub, record: Ban) -> None:
    async with in_transaction():
        # Conditional: of two staff lifting the same ban at once, one does it.
        lifted_at = now()
        if not await Ban.filter(id=record.id, lifted_at__isnull=True).update(
            lifted_at=lifted_at, lifted_by_id=actor.user_id
        ):
            raise Conflict(N_("That ban was already lifted."), code="ban_lifted")
        record.lifted_at, record.lifted_by_id = lifted_at, actor.user_id
        await audit.record(
            actor, "members.unban", hub=hub, target=str(record.id), details=_details(record)
        )
        for member in await _forget_matches(hub, record):
            if member.state == MemberState.BANNED and await active_ban(hub, member.user) is None:
                member.state = (
                    MemberState.DISMISSED if member.number is not None else MemberState.VISITOR
                )
                await member.save(update_fields=["state"])
                await _change(actor, hub, member, "unbanned")


async def bans(actor: Actor, hub: Hub) -> list[Ban]:
    """The hub's bans in force, newest first (staff with ban_members)."""
    await plugins.enter(actor, hub, KEY, BAN, write=False)
    return await Ban.filter(_in_force(), hub_id=hub.id).order_by("-id").limit(500)


class BanView(BaseModel):
    id: int
    discord_id: str | None
    steam_id: str | None
    email: str | None
    reason: str
    source: str = Field(description="hub: made by staff; discord: mirrors a ban in Discord.")
    expires_at: datetime | None
    created_by: int | None
    created_at: datetime
    lifted_at: datetime | None
    lifted_by: int | None


def ban_view(record: Ban) -> BanView:
    return BanView(
        id=record.id,
        discord_id=str(record.discord_id) if record.discord_id else None,
        steam_id=str(record.steam_id) if record.steam_id else None,
        email=record.email,
        reason=record.reason,
        source=record.source,
        expires_at=record.expires_at,
        created_by=record.created_by_id,
        created_at=record.created_at,
        lifted_at=record.lifted_at,
        lifted_by=record.lifted_by_id,
    )


class BanQuery(PageQuery):
    lifted: bool = Field(default=False, description="Also list bans lifted or expired.")


async def ban_page(actor: Actor, hub: Hub, query: BanQuery) -> Page[BanView]:
    """The hub's bans, newest first, a page at a time (staff with ban_members)."""
    await plugins.enter(actor, hub, KEY, BAN, write=False)
    rows = Ban.filter(hub_id=hub.id)
    if not query.lifted:
        rows = rows.filter(_in_force())
    return await paginate(rows, query, ("-id",), ban_view)


async def ban_detail(actor: Actor, hub: Hub, ban_id: int) -> Ban:
    await plugins.enter(actor, hub, KEY, BAN, write=False)
    return await _ban_in(hub, ban_id)
