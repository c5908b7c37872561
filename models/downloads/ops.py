"""Every downloads operation, for the adapters: `from models.downloads import ops`.

Staff (manage_downloads) add items: an external link, or a file uploaded into the file
store (streamed, under the configured size). Members list what they may see and ask for a
personal link to one item: it works for a few minutes (repeatedly, so download managers
and HEAD probes work), names the member it was made for, and counts one download the first
time it is followed. Members never see an item's real address.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from core.storage import FileStore, FileTooLarge
from models import audit, plugins
from models.actor import Actor
from models.auth import now
from models.downloads.schemas import (
    DownloadInput,
    DownloadQuery,
    DownloadUpdate,
    DownloadView,
    LinkView,
)
from models.downloads.tables import CONTENT_TYPE_LENGTH, FILE_NAME_LENGTH, Download, DownloadLink
from models.errors import Forbidden, Gone, Invalid, NotFound, TooLarge
from models.hubs import Hub
from models.i18n import N_, Lazy
from models.markdown import to_html
from models.members.roles import check_hub_roles, held_role_ids
from models.members.tables import Member, MemberState
from models.pagination import Page, paginate
from models.permissions import grant_of, missing_permission
from models.validation import field_error

KEY = "downloads"
MANAGE = "manage_downloads"
# Expired links are kept this long (a late click still learns "expired", not "unknown").
LINK_KEPT = timedelta(days=1)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
ORDERS = {
    "position": ("-pin_rank", "position", "id"),
    "clicks": ("-pin_rank", "-clicks", "id"),
    "newest": ("-pin_rank", "-id"),
}


def download_not_found() -> NotFound:
    return NotFound(N_("That download does not exist."), code="download_not_found")


def link_not_found() -> NotFound:
    return NotFound(N_("That download link does not exist."), code="link_not_found")


@dataclass(frozen=True)
class Reader:
    """What one person may see of a hub's downloads."""

    staff: bool  # manage_downloads: every item, their addresses and counts
    member: bool
    roles: frozenset[int]

    def sees(self, row: Download) -> bool:
        if self.staff:
            return True
        if not self.member or not (row.url or row.file_key):
            return False
        return not row.role_ids or bool(self.roles & set(row.role_ids))


async def _reader(actor: Actor, hub: Hub) -> Reader:
    if actor.user_id is None:
        return Reader(False, False, frozenset())
    if (await grant_of(actor, hub)).has(MANAGE):
        return Reader(True, True, frozenset())
    return await _member_reader(hub, actor.user_id)


async def _member_reader(hub: Hub, user_id: int) -> Reader:
    state = await Member.filter(hub_id=hub.id, user_id=user_id).values_list("state", flat=True)
    if not state or state[0] != MemberState.MEMBER:
        return Reader(False, False, frozenset())
    return Reader(False, True, frozenset(await held_role_ids(hub, user_id)))


async def _visible(actor: Actor, hub: Hub, download_id: int) -> tuple[Download, Reader]:
    """An item the actor may see; a hidden one is as unknown as a missing one (404)."""
    reader = await _reader(actor, hub)
    row = await Download.get_or_none(id=download_id, hub_id=hub.id)
    if row is None or not reader.sees(row):
        raise download_not_found()
    return row, reader


# Reading


async def list_downloads(actor: Actor, hub: Hub, query: DownloadQuery) -> Page[DownloadView]:
    """Pinned first, then in the staff's order (or by downloads, or newest). Members see the
    items for every member and for their roles; staff see all, with addresses and counts."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    reader = await _reader(actor, hub)
    if not reader.member:
        raise Forbidden(N_("Only members of this hub can see that."), code="not_a_member")
    if (query.min_clicks is not None or query.sort == "clicks") and not reader.staff:
        raise missing_permission(MANAGE)  # the order alone would tell the hidden counts
    rows = Download.filter(hub_id=hub.id)
    if query.min_clicks is not None:
        rows = rows.filter(clicks__gte=query.min_clicks)
    if not reader.staff:  # items without a target yet are the staff's work in progress
        rows = rows.filter(Q(url__not="") | Q(file_key__not=""))
    keep = None if reader.staff else reader.sees
    return await paginate(
        rows, query, ORDERS[query.sort], lambda row: _view(row, reader), keep=keep
    )


async def get(actor: Actor, hub: Hub, download_id: int) -> DownloadView:
    await plugins.enter(actor, hub, KEY, None, write=False)
    row, reader = await _visible(actor, hub, download_id)
    return _view(row, reader)


# Staff


async def create(actor: Actor, hub: Hub, data: DownloadInput) -> DownloadView:
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    await check_hub_roles(hub, {"role_ids": data.role_ids})
    async with in_transaction():
        row = await Download.create(
            hub_id=hub.id,
            title=data.title,
            description=data.description,
            description_html=to_html(data.description),
            url=data.url,
            role_ids=data.role_ids,
            pinned=data.pinned,
            pin_rank=int(data.pinned),
            position=data.position,
            created_by_id=actor.user_id,
        )
        await audit.record(actor, "downloads.created", hub=hub, target=str(row.id))
    return _view(row, STAFF)


async def update(
    actor: Actor, hub: Hub, download_id: int, data: DownloadUpdate, *, store: FileStore
) -> DownloadView:
    """Change an item; a new `url` makes it a link and deletes its file."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    row = await _in_hub(hub, download_id)
    patch = data.model_dump(exclude_unset=True)
    if "role_ids" in patch:
        await check_hub_roles(hub, {"role_ids": patch["role_ids"]})
    if "description" in patch:
        patch["description_html"] = to_html(patch["description"])
    if "pinned" in patch:
        patch["pin_rank"] = int(patch["pinned"])
    old_file = row.file_key if "url" in patch else ""
    if old_file:
        patch |= {"file_key": "", "file_name": "", "file_size": 0, "file_sha256": ""}
        patch["content_type"] = ""
    async with in_transaction():
        row.update_from_dict(patch)
        await row.save()
        await audit.record(actor, "downloads.changed", hub=hub, target=str(row.id))
    if old_file:
        await store.delete(old_file)
    return _view(row, STAFF)


async def delete(actor: Actor, hub: Hub, download_id: int, *, store: FileStore) -> None:
    """Delete an item, its links, and its file."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    row = await _in_hub(hub, download_id)
    async with in_transaction():
        await audit.record(
            actor, "downloads.deleted", hub=hub, target=str(row.id), details={"title": row.title}
        )
        await row.delete()
    if row.file_key:  # after the commit: a rolled-back delete keeps a readable file
        await store.delete(row.file_key)


async def upload(
    actor: Actor,
    hub: Hub,
    download_id: int,
    chunks: AsyncIterator[bytes],
    *,
    file_name: str,
    content_type: str,
    store: FileStore,
    max_size: int,
) -> DownloadView:
    """Store the item's file (streamed; 413 over `max_size`), replacing its file or link."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    name = clean_file_name(file_name)
    row = await _in_hub(hub, download_id)
    try:
        stored = await store.save(chunks, max_size=max_size)
    except FileTooLarge:
        raise TooLarge(limit=max_size) from None
    old_file = row.file_key
    try:
        async with in_transaction():
            changed = await Download.filter(id=row.id).update(
                url="",
                file_key=stored.key,
                file_name=name,
                file_size=stored.size,
                file_sha256=stored.sha256,
                content_type=_content_type(content_type),
                updated_at=now(),  # a bulk update skips auto_now
            )
            if not changed:  # deleted while the file streamed in
                raise download_not_found()
            details = {"name": name, "size": stored.size}
            await audit.record(
                actor, "downloads.uploaded", hub=hub, target=str(row.id), details=details
            )
    except BaseException:
        await store.delete(stored.key)
        raise
    if old_file:
        await store.delete(old_file)
    return _view(await Download.get(id=row.id), STAFF)


STAFF = Reader(True, True, frozenset())


def clean_file_name(raw: str) -> str:
    """The name a download is saved under: its last path part, printable, at most 200
    characters (422 naming `name` if nothing is left)."""
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().strip(".")
    if not name:
        raise field_error(("name",), Lazy(N_("must be a file name")))  # type: ignore[arg-type]
    if len(name) > FILE_NAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        keep = FILE_NAME_LENGTH - len(ext) - 1 if dot and len(ext) <= 16 else FILE_NAME_LENGTH
        name = stem[:keep] + "." + ext if keep < FILE_NAME_LENGTH else name[:FILE_NAME_LENGTH]
    return name


def _content_type(raw: str) -> str:
    value = raw.split(";", 1)[0].strip().lower()
    if _CONTENT_TYPE.match(value) and len(value) <= CONTENT_TYPE_LENGTH:
        return value
    return "application/octet-stream"


async def _in_hub(hub: Hub, download_id: int) -> Download:
    row = await Download.get_or_none(id=download_id, hub_id=hub.id)
    if row is None:
        raise download_not_found()
    return row


# Links


async def create_links(
    actor: Actor, hub: Hub, download_ids: list[int], *, ttl: int, base_url: str
) -> list[LinkView]:
    """A personal link to each item (in that order), valid for `ttl` seconds."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    reader = await _reader(actor, hub)
    if actor.user_id is None or not reader.member:
        raise download_not_found()
    rows = {r.id: r for r in await Download.filter(hub_id=hub.id, id__in=download_ids)}
    if any(i not in rows or not reader.sees(rows[i]) for i in download_ids):
        raise download_not_found()
    if any(not (rows[i].url or rows[i].file_key) for i in download_ids):
        raise Invalid(N_("This download has no file yet."), code="download_empty")
    expires = now() + timedelta(seconds=ttl)
    tokens = [secrets.token_urlsafe(32) for _ in download_ids]
    await DownloadLink.bulk_create(
        [
            DownloadLink(
                download_id=i, user_id=actor.user_id, token_hash=_hash(t), expires_at=expires
            )
            for i, t in zip(download_ids, tokens, strict=True)
        ]
    )
    base = base_url.rstrip("/")
    paths = [link_path(hub, t) for t in tokens]
    return [LinkView(path=p, url=base + p, expires_at=expires) for p in paths]


def link_path(hub: Hub, token: str) -> str:
    return f"/api/v1/hubs/{hub.slug}/downloads/links/{token}"


@dataclass(frozen=True)
class Target:
    """Where a link leads: an external address, or a stored file."""

    url: str = ""
    file_key: str = ""  # in the file store
    file_name: str = ""
    content_type: str = ""
    size: int = 0


async def follow(hub: Hub, token: str, *, count: bool) -> Target:
    """Where a personal link leads (404 unknown, 410 link_expired), while its member may
    still see the item. `count`: a download (a GET, not a HEAD probe) counts once per link."""
    plugins.require_enabled(hub, KEY)
    if not _TOKEN.match(token):
        raise link_not_found()
    link = await DownloadLink.get_or_none(token_hash=_hash(token)).select_related("download")
    if link is None or link.download.hub_id != hub.id:
        raise link_not_found()
    if link.expires_at <= now():
        raise Gone(N_("This download link has expired: ask for a new one."), code="link_expired")
    row = link.download
    staff = (await grant_of(Actor(user_id=link.user_id), hub)).has(MANAGE)
    reader = STAFF if staff else await _member_reader(hub, link.user_id)
    if not reader.sees(row):  # left the hub, or lost the role, since
        raise link_not_found()
    target = _target(row)
    if count:
        async with in_transaction():
            if await DownloadLink.filter(id=link.id, counted=False).update(counted=True):
                await Download.filter(id=row.id).update(clicks=F("clicks") + 1)
    return target


def _target(row: Download) -> Target:
    if row.url:
        return Target(url=row.url)
    return Target(
        file_key=row.file_key,
        file_name=row.file_name,
        content_type=row.content_type,
        size=row.file_size,
    )


async def purge_links(current: datetime | None = None) -> int:
    """Delete links that expired over a day ago (housekeeping); how many."""
    return await DownloadLink.filter(expires_at__lt=(current or now()) - LINK_KEPT).delete()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _view(row: Download, reader: Reader) -> DownloadView:
    kind = "link" if row.url else "file" if row.file_key else "empty"
    return DownloadView(
        id=row.id,
        title=row.title,
        description=row.description,
        html=row.description_html,
        kind=kind,
        file_name=row.file_name or None,
        file_size=row.file_size if row.file_key else None,
        pinned=row.pinned,
        position=row.position,
        role_ids=list(row.role_ids or []),
        url=row.url if reader.staff else None,
        clicks=row.clicks if reader.staff else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


__all__ = [
    "KEY",
    "MANAGE",
    "Target",
    "clean_file_name",
    "create",
    "create_links",
    "delete",
    "download_not_found",
    "follow",
    "get",
    "link_not_found",
    "link_path",
    "list_downloads",
    "purge_links",
    "update",
    "upload",
]
