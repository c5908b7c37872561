"""What the bot sees: who is in the server, with which Discord roles, and when they were last
active. Presence never makes anyone a member: staff accept members (models.members.lifecycle)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache

from tortoise.expressions import Q

from models import sql
from models.members.tables import Member, Role
from models.text import fold
from models.users import User

# Last-seen is written at most this often per member (every interaction would be a write).
LAST_SEEN_EVERY = timedelta(minutes=5)
SEEN_MARK_LOCAL = 60  # seconds a process skips asking the cache again (cache.mark_once)


async def ensure_member(hub_id: int, user: User) -> Member:
    """The user's row in the hub: a visitor when first seen (no number: staff accept members)."""
    member, _ = await Member.get_or_create(
        hub_id=hub_id, user_id=user.id, defaults={"search_name": fold(user.username)[:64]}
    )
    return member


def _seen_recently(member: Member, now: datetime) -> bool:
    return member.last_seen_at is not None and now - member.last_seen_at < LAST_SEEN_EVERY


# What the check and the bot's actor read of the member and its user (partial instances):
# every interaction runs this query, and the other columns cost their transfer and parsing.
_MEMBER_COLUMNS = (
    *("id", "hub_id", "user_id", "in_guild", "last_seen_at", "discord_role_ids", "discord_admin"),
)
_USER_COLUMNS = ("id", "discord_id", "username", "avatar", "locale", "is_superuser", "is_active")


@cache
def _presence_sql() -> str:
    """Built on first use: the models' columns are known once Tortoise is initialised."""
    from models.hubs import Hub  # models.hubs imports this package

    member, user = sql.columns(Member, "m", _MEMBER_COLUMNS), sql.columns(User, "u", _USER_COLUMNS)
    return (
        f"SELECT {member}, {user}, {sql.columns(Hub, 'h')}"  # noqa: S608 - names from the models
        f" FROM {Member._meta.db_table} m"
        f" JOIN {Hub._meta.db_table} h ON h.id = m.hub_id"
        f" JOIN {User._meta.db_table} u ON u.id = m.user_id"
        " WHERE h.guild_id = ? AND u.discord_id = ? LIMIT 1"
    )


async def unchanged_presence(
    guild_id: int,
    discord_id: int,
    *,
    username: str,
    avatar: str,
    guild_name: str,
    owner_discord_id: int | None,
    role_ids: Iterable[int],
    is_admin: bool,
) -> Member | None:
    """The member row (with its user and hub loaded; member and user partial: the columns
    this check and the bot's actor read) when the stored state already matches
    what Discord just sent and last-seen is recent, else None: the caller records it the
    slow way.

    One hand-written query for the bot's common case (a known member of a known hub; every
    interaction runs it, and the ORM's join costs four times the statement), instead of one
    per record; the writes stay in `user_for_discord`, `ensure_hub_for_guild` and
    `sync_discord_state`.
    """
    rows = await sql.fetch(_presence_sql(), [guild_id, discord_id])
    if not rows:
        return None
    from models.hubs import Hub

    member = sql.part(Member, "m", rows[0])
    user, hub = sql.part(User, "u", rows[0]), sql.part(Hub, "h", rows[0])
    member.user, member.hub = user, hub
    current = (
        member.in_guild
        and _seen_recently(member, datetime.now(UTC))
        and (sorted(member.discord_role_ids), member.discord_admin)
        == (sorted({int(r) for r in role_ids}), is_admin)
        and (user.username, user.avatar) == (username, avatar or user.avatar)
        and (hub.active, hub.name, hub.owner_discord_id)
        == (True, guild_name[:100], owner_discord_id)
    )
    return member if current else None


async def sync_discord_state(
    hub_id: int, user: User, role_ids: Iterable[int], *, is_admin: bool
) -> Member:
    """Record that the user is in the server now, with these Discord roles and Administrator
    flag, and seen now (written only when something changed or last-seen is stale)."""
    member = await ensure_member(hub_id, user)
    roles = sorted({int(r) for r in role_ids})
    now = datetime.now(UTC)
    wanted = {"discord_role_ids": roles, "discord_admin": is_admin, "in_guild": True}
    changed = [key for key, value in wanted.items() if getattr(member, key) != value]
    if changed or not _seen_recently(member, now):
        member.update_from_dict({**wanted, "last_seen_at": now})
        await member.save(update_fields=[*changed, "last_seen_at"])
    return member


async def mark_left(hub_id: int, discord_id: int) -> Member | None:
    """The user left the Discord server: keep the record, drop what Discord granted.

    Whether that also ends a membership is the hub's choice (lifecycle.left_server).
    """
    member = await Member.get_or_none(hub_id=hub_id, user__discord_id=discord_id)
    if member is not None:
        member.update_from_dict({"in_guild": False, "discord_role_ids": [], "discord_admin": False})
        await member.save(update_fields=["in_guild", "discord_role_ids", "discord_admin"])
    return member


async def forget_discord_role(hub_id: int, discord_role_id: int) -> None:
    """A Discord role was deleted: unlink the hub role that pointed at it."""
    await Role.filter(hub_id=hub_id, discord_role_id=discord_role_id).update(discord_role_id=None)


async def touch(hub_id: int, user_id: int, *, visit: bool = True) -> None:
    """Activity in the hub (a website request, a command): keep last-seen fresh, and record
    a first visit from the website as a visitor row (so staff find and can accept them).

    At most one write per member per LAST_SEEN_EVERY: the cache remembers the touch, and the
    update is conditional, so processes sharing no cache still write rarely. Without a cache,
    nothing is written (activity is not worth a write per request).
    """
    from models.cache import CacheUnavailable, cache

    ttl = int(LAST_SEEN_EVERY.total_seconds())
    try:
        if not await cache().mark_once(f"seen:{hub_id}:{user_id}", ttl, SEEN_MARK_LOCAL):
            return  # touched recently
    except CacheUnavailable:  # no cache: nothing is written
        return
    current = datetime.now(UTC)
    stale = Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=current - LAST_SEEN_EVERY)
    if await Member.filter(stale, hub_id=hub_id, user_id=user_id).update(last_seen_at=current):
        return
    if visit and not await Member.filter(hub_id=hub_id, user_id=user_id).exists():
        user = await User.get_or_none(id=user_id).only("id", "username")
        if user is not None:
            await Member.get_or_create(
                hub_id=hub_id,
                user_id=user_id,
                defaults={
                    "search_name": fold(user.username)[:64],
                    "in_guild": False,
                    "last_seen_at": current,
                },
            )
