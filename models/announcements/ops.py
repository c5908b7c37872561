"""Every announcements operation, for the adapters: `from models.announcements import ops`.

Publishing (now or at a scheduled time) tells the hub's members (notifications) and posts
to the hub's channels for the type (hub posts); editing edits those posts, deleting deletes
them. The side effects of a publication go out exactly once: the worker and the publishing
request claim an announcement with one conditional update of `published`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from models import audit, plugins
from models.actor import Actor
from models.announcements.schemas import (
    AnnouncementInput,
    AnnouncementQuery,
    AnnouncementTypeInput,
    AnnouncementTypeUpdate,
    AnnouncementTypeView,
    AnnouncementUpdate,
    AnnouncementView,
)
from models.announcements.tables import Announcement, AnnouncementType, Visibility
from models.auth import now
from models.cache import forget, versioned
from models.errors import Conflict, Forbidden, NotFound, Unauthorized
from models.hubs import Hub
from models.i18n import N_, Lazy
from models.markdown import split, to_html
from models.members.roles import check_hub_roles, held_role_ids
from models.members.tables import Member, MemberState, Role
from models.notifications.center import notify
from models.pagination import Page, paginate
from models.permissions import grant_of, missing_permission, sees_members_only
from models.posts import ops as posts
from models.validation import field_error

KEY = "announcements"
MANAGE = "manage_announcements"
PUBLISHED = "announcement.published"  # notification kind and hub-post trigger
# A hub post's body goes in pieces of at most this many characters, one message each (an
# embed's description holds 4,096; the template may add text around the body).
POST_BODY = 3500


def type_not_found() -> NotFound:
    return NotFound(N_("That announcement type does not exist."), code="type_not_found")


def announcement_not_found() -> NotFound:
    return NotFound(N_("That announcement does not exist."), code="announcement_not_found")


def _denied() -> Forbidden:
    return Forbidden(N_("You may not publish announcements of this type."), code="type_not_allowed")


# Types


async def list_types(actor: Actor, hub: Hub) -> list[AnnouncementTypeView]:
    await plugins.enter(actor, hub, KEY, None, write=False)
    rows = await AnnouncementType.filter(hub_id=hub.id).order_by("key")
    staff, held = await _publishing_rights(actor, hub)
    return [_type_view(row, staff or bool(held & set(row.publisher_role_ids))) for row in rows]


async def create_type(actor: Actor, hub: Hub, data: AnnouncementTypeInput) -> AnnouncementTypeView:
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    await check_hub_roles(hub, {"publisher_role_ids": data.publisher_role_ids})
    if await AnnouncementType.filter(hub_id=hub.id, key=data.key).exists():
        raise Conflict(N_("A type with this key exists."), code="type_exists")
    row = await AnnouncementType.create(hub_id=hub.id, **data.model_dump())
    await audit.record(actor, "announcements.type_created", hub=hub, target=row.key)
    return _type_view(row, True)


async def update_type(
    actor: Actor, hub: Hub, type_id: int, data: AnnouncementTypeUpdate
) -> AnnouncementTypeView:
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    row = await _type_in(hub, type_id)
    patch = data.model_dump(exclude_unset=True)
    if "publisher_role_ids" in patch:
        await check_hub_roles(hub, {"publisher_role_ids": patch["publisher_role_ids"]})
    row.update_from_dict(patch)
    await row.save()
    await audit.record(actor, "announcements.type_changed", hub=hub, target=row.key)
    await _changed(hub.id)  # lists show the type's name
    return _type_view(row, True)


async def delete_type(actor: Actor, hub: Hub, type_id: int) -> None:
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    row = await _type_in(hub, type_id)
    if await Announcement.filter(type_id=row.id).exists():
        raise Conflict(
            N_("Announcements of this type exist: delete them first."), code="type_in_use"
        )
    await row.delete()
    await audit.record(actor, "announcements.type_deleted", hub=hub, target=row.key)


async def _type_in(hub: Hub, type_id: int) -> AnnouncementType:
    row = await AnnouncementType.get_or_none(id=type_id, hub_id=hub.id)
    if row is None:
        raise type_not_found()
    return row


def _type_view(row: AnnouncementType, may_publish: bool) -> AnnouncementTypeView:
    return AnnouncementTypeView(
        id=row.id,
        key=row.key,
        name=row.name,
        publisher_role_ids=list(row.publisher_role_ids or []),
        may_publish=may_publish,
    )


async def _publishing_rights(actor: Actor, hub: Hub) -> tuple[bool, set[int]]:
    """Whether the actor publishes every type (manage_announcements), and their roles."""
    if (await grant_of(actor, hub)).has(MANAGE):
        return True, set()
    return False, await held_role_ids(hub, actor.user_id)


async def _require_publisher(actor: Actor, hub: Hub, row: AnnouncementType) -> None:
    staff, held = await _publishing_rights(actor, hub)
    if not staff and not held & set(row.publisher_role_ids or []):
        raise _denied()


# Announcements


async def publishable_type(actor: Actor, hub: Hub, key: str) -> AnnouncementType:
    """The type `key` if the actor may publish it: 422 naming `type` for an unknown one,
    403 type_not_allowed otherwise (the bot asks before it opens the form)."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    kind = await AnnouncementType.get_or_none(hub_id=hub.id, key=key)
    if kind is None:
        message = Lazy(N_("no such announcement type: {key}"), key=key)
        raise field_error(("type",), message)  # type: ignore[arg-type]
    await _require_publisher(actor, hub, kind)
    return kind


async def publish(actor: Actor, hub: Hub, data: AnnouncementInput) -> AnnouncementView:
    """Publish now, or schedule for `publish_at`; 403 for a type the actor may not publish."""
    kind = await publishable_type(actor, hub, data.type)
    current = now()
    when = data.publish_at or current
    _check_schedule(data.publish_at, current)
    ping = await _ping_role(hub, data.ping_role_id)
    async with in_transaction():
        row = await Announcement.create(
            hub_id=hub.id,
            type_id=kind.id,
            title=data.title,
            body=data.body,
            body_html=to_html(data.body),
            visibility=data.visibility,
            pinned=data.pinned,
            pin_rank=int(data.pinned),
            image_url=data.image_url,
            ping_role_id=ping,
            publish_at=when,
            author_id=actor.user_id,
        )
        await audit.record(actor, "announcements.created", hub=hub, target=str(row.id))
        if when <= current:
            await _go_out(hub, row, kind)
    await _changed(hub.id)
    return await _view(row, kind)


SCHEDULE_AHEAD = timedelta(days=366)


def _check_schedule(when: datetime | None, current: datetime) -> None:
    if when is not None and when <= current:
        raise field_error(("publish_at",), Lazy(N_("must be in the future")))  # type: ignore[arg-type]
    if when is not None and when > current + SCHEDULE_AHEAD:
        raise field_error(("publish_at",), Lazy(N_("must be within a year from now")))  # type: ignore[arg-type]


async def update(
    actor: Actor, hub: Hub, announcement_id: int, data: AnnouncementUpdate
) -> AnnouncementView:
    """Change an announcement (its author, or manage_announcements); its Discord posts follow."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    row, kind = await _own(actor, hub, announcement_id)
    patch = data.model_dump(exclude_unset=True)
    if "publish_at" in patch:
        if row.published:
            raise Conflict(N_("It has gone out already."), code="already_published")
        _check_schedule(patch["publish_at"], now())
    if "ping_role_id" in patch:
        patch["ping_role_id"] = await _ping_role(hub, patch["ping_role_id"])
    if "pinned" in patch:
        patch["pin_rank"] = int(patch["pinned"])
    if "body" in patch:
        patch["body_html"] = to_html(patch["body"])
    async with in_transaction():
        row.update_from_dict(patch)
        await row.save()
        await audit.record(actor, "announcements.changed", hub=hub, target=str(row.id))
        if row.published:
            variables, pinged, rest = await _post(hub, row, kind)
            await posts.update_source(
                hub,
                _source(row),
                variables,
                members_only=row.visibility == Visibility.MEMBERS,
                mention_roles=pinged,
                continued=rest,
            )
    await _changed(hub.id)
    return await _view(row, kind)


async def delete(actor: Actor, hub: Hub, announcement_id: int) -> None:
    """Delete an announcement and its Discord posts (its author, or manage_announcements)."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    row, _ = await _own(actor, hub, announcement_id)
    async with in_transaction():
        await posts.delete_source(hub, _source(row))
        await audit.record(
            actor,
            "announcements.deleted",
            hub=hub,
            target=str(row.id),
            details={"title": row.title},
        )
        await row.delete()
    await _changed(hub.id)


async def get(actor: Actor, hub: Hub, announcement_id: int) -> AnnouncementView:
    await plugins.enter(actor, hub, KEY, None, write=False)
    row = await Announcement.get_or_none(id=announcement_id, hub_id=hub.id).select_related("type")
    if row is None or not await _may_read(actor, hub, row):
        raise announcement_not_found()
    return await _view(row, row.type)


async def list_announcements(
    actor: Actor, hub: Hub, query: AnnouncementQuery
) -> Page[AnnouncementView]:
    """Pinned first, then newest. Readers see what went out (members-only ones if members);
    staff may ask for the scheduled ones (`scheduled`)."""
    raw = await list_announcements_json(actor, hub, query)
    return Page[AnnouncementView].model_validate_json(raw)


async def list_announcements_json(actor: Actor, hub: Hub, query: AnnouncementQuery) -> str:
    """`list_announcements` as the JSON of its page: what the API answers, cached as such
    per hub, audience and query until the hub's announcements change (no parsing and
    serialising on a cache hit)."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    if query.scheduled:  # staff see every waiting one, publishers their own
        if actor.user_id is None:
            raise Unauthorized()
        staff, _ = await _publishing_rights(actor, hub)
        page = await _page(hub, query, members=True, author=None if staff else actor.user_id)
        return page.model_dump_json()
    members = await _sees_members_only(actor, hub)
    fingerprint = hashlib.sha256(query.model_dump_json().encode()).hexdigest()[:16]
    key = f"announcements:{hub.id}:{'m' if members else 'p'}:{fingerprint}"

    async def load() -> str:
        return (await _page(hub, query, members=members)).model_dump_json()

    return await versioned(_version_key(hub.id), key, LIST_TTL, load)


# A list page is cached until the hub's announcements change (a new version) or LIST_TTL
# passes (which bounds a missed invalidation).
LIST_TTL = 60


def _version_key(hub_id: int) -> str:
    return f"announcements:{hub_id}:version"


async def _changed(hub_id: int) -> None:
    """After a commit that changed what a list shows: every cached page is old."""
    await forget(_version_key(hub_id))


async def _page(
    hub: Hub, query: AnnouncementQuery, *, members: bool, author: int | None = None
) -> Page[AnnouncementView]:
    rows = Announcement.filter(hub_id=hub.id, published=not query.scheduled)
    if author is not None:
        rows = rows.filter(author_id=author)
    if not members:
        rows = rows.filter(visibility=Visibility.PUBLIC)
    if query.type is not None:
        rows = rows.filter(type__key=query.type)
    if query.author is not None:
        rows = rows.filter(author_id=query.author)
    if query.since is not None:
        rows = rows.filter(publish_at__gte=query.since)
    if query.until is not None:
        rows = rows.filter(publish_at__lt=query.until)
    page = await paginate(rows, query, ("-pin_rank", "-publish_at", "-id"), lambda row: row)
    kinds = {t.id: t for t in await AnnouncementType.filter(id__in={r.type_id for r in page.items})}
    authors = await _names({r.author_id for r in page.items if r.author_id})
    return Page[AnnouncementView](
        items=[_view_of(r, kinds[r.type_id], authors) for r in page.items],
        next_cursor=page.next_cursor,
    )


async def publish_due(current: datetime | None = None) -> int:
    """Send out the scheduled announcements whose time came (the worker); how many."""
    current = current or now()
    sent = 0
    for row in await Announcement.filter(published=False, publish_at__lte=current).limit(100):
        async with in_transaction():
            hub = await Hub.get(id=row.hub_id)
            kind = await AnnouncementType.get(id=row.type_id)
            went = await _go_out(hub, row, kind)
        if went:
            sent += 1
            await _changed(row.hub_id)
    return sent


async def _go_out(hub: Hub, row: Announcement, kind: AnnouncementType) -> bool:
    """The publication's side effects, once (the claim is a conditional update): members
    are told, and the hub's channels for announcements get a post. In the caller's
    transaction."""
    claimed = await Announcement.filter(id=row.id, published=False).update(published=True)
    if not claimed:
        return False
    row.published = True
    members_only = row.visibility == Visibility.MEMBERS
    users = await Member.filter(hub_id=hub.id, state=MemberState.MEMBER).values_list(
        "user_id", flat=True
    )
    readers = [u for u in users if u != row.author_id]
    if readers:
        await notify(
            readers,
            PUBLISHED,
            {"hub": hub.name, "title": row.title, "type": kind.name, "announcement": row.id},
            hub=hub,
        )
    variables, pinged, rest = await _post(hub, row, kind)
    await posts.emit(
        hub,
        PUBLISHED,
        variables,
        source=_source(row),
        members_only=members_only,
        mention_roles=pinged,
        continued=rest,
    )
    return True


async def _post(
    hub: Hub, row: Announcement, kind: AnnouncementType
) -> tuple[dict, list[int], list[str]]:
    """The hub post's variables, the only role it may ping (Discord ids), and the rest of a
    body too long for one message (posted after it, in more messages)."""
    author = (await _names({row.author_id})).get(row.author_id) if row.author_id else None
    body = split(row.body, POST_BODY)
    pinged: list[int] = []
    if row.ping_role_id is not None:
        role = await Role.get_or_none(id=row.ping_role_id)
        if role is not None and role.discord_role_id is not None:
            pinged = [role.discord_role_id]
    variables = {
        "hub": hub.name,
        "title": row.title,
        "body": body[0] if body else "",
        "type": kind.name,
        "author": author or "",
        "image": row.image_url,
        "mention": " ".join(f"<@&{r}>" for r in pinged),
    }
    return variables, pinged, body[1:]


def _source(row: Announcement) -> str:
    return f"announcement:{row.id}"


async def _own(
    actor: Actor, hub: Hub, announcement_id: int
) -> tuple[Announcement, AnnouncementType]:
    """An announcement the actor may change: their own of a type they may still publish,
    or any with manage_announcements; another hub's (or a hidden one) is unknown."""
    row = await Announcement.get_or_none(id=announcement_id, hub_id=hub.id).select_related("type")
    if row is None or not await _may_read(actor, hub, row):
        raise announcement_not_found()
    staff, held = await _publishing_rights(actor, hub)
    mine = actor.user_id is not None and row.author_id == actor.user_id
    if not staff and not (mine and held & set(row.type.publisher_role_ids or [])):
        raise missing_permission(MANAGE)
    return row, row.type


async def _may_read(actor: Actor, hub: Hub, row: Announcement) -> bool:
    if actor.user_id is not None and row.author_id == actor.user_id:
        return True  # its author, whatever they are in the hub now
    if not row.published:
        staff, _ = await _publishing_rights(actor, hub)
        return staff
    return row.visibility == Visibility.PUBLIC or await _sees_members_only(actor, hub)


async def _sees_members_only(actor: Actor, hub: Hub) -> bool:
    return await sees_members_only(actor, hub, MANAGE)


async def _ping_role(hub: Hub, role_id: int | None) -> int | None:
    """A hub role of this hub linked to a Discord role (what a Discord post can mention)."""
    if role_id is None:
        return None
    role = await Role.get_or_none(id=role_id, hub_id=hub.id)
    if role is None or role.discord_role_id is None:
        message = Lazy(N_("must be a role of this hub linked to a Discord role"))
        raise field_error(("ping_role_id",), message)  # type: ignore[arg-type]
    return role.id


async def _names(user_ids: set[int | None]) -> dict[int, str]:
    from models.users import User

    wanted = {u for u in user_ids if u is not None}
    if not wanted:
        return {}
    return dict(await User.filter(id__in=wanted).values_list("id", "username"))


async def _view(row: Announcement, kind: AnnouncementType) -> AnnouncementView:
    return _view_of(row, kind, await _names({row.author_id}))


def _view_of(
    row: Announcement, kind: AnnouncementType, authors: dict[int, str]
) -> AnnouncementView:
    return AnnouncementView(
        id=row.id,
        type=kind.key,
        type_name=kind.name,
        title=row.title,
        body=row.body,
        html=row.body_html,
        visibility=row.visibility,
        pinned=row.pinned,
        image_url=row.image_url,
        ping_role_id=row.ping_role_id,
        publish_at=row.publish_at,
        published=row.published,
        author_id=row.author_id,
        author_name=authors.get(row.author_id) if row.author_id else None,
        updated_at=row.updated_at,
    )


__all__ = [
    "KEY",
    "MANAGE",
    "PUBLISHED",
    "announcement_not_found",
    "create_type",
    "delete",
    "delete_type",
    "get",
    "list_announcements",
    "list_announcements_json",
    "list_types",
    "publish",
    "publish_due",
    "publishable_type",
    "type_not_found",
    "update",
    "update_type",
]
