"""Downloads over HTTP (rules in `models.downloads`).

Members list the items they may see and ask for a personal link to one; the link itself
needs no login (a download manager follows it) and works for a few minutes. Staff
(manage_downloads) add items, upload their files and see the counts. An id of another hub
is as unknown as a missing one (404).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import ClientPayloadError, hdrs, web
from multidict import CIMultiDict

from core.storage import LocalFiles, UnknownFile
from models.downloads import ops
from models.downloads.schemas import (
    DownloadInput,
    DownloadQuery,
    DownloadUpdate,
    DownloadView,
    LinkView,
    UploadQuery,
)
from models.errors import BadRequest, TooLarge
from models.i18n import N_
from models.pagination import Page
from web.api import Router, json_response, parse_query, path_id, read_json
from web.auth import actor_of
from web.gates import hub_of
from web.keys import SETTINGS

router = Router("downloads", plugin="downloads")

MANAGE = ops.MANAGE
CHUNK = 256 * 1024


def _download(request: web.Request) -> int:
    return path_id(request, "download", ops.download_not_found())


def _files(request: web.Request) -> LocalFiles:
    return LocalFiles(request.app[SETTINGS].data_dir)


# The link (registered before the `{download}` routes)


@router.get(
    "/hubs/{hub}/downloads/links/{token}",
    content_type="application/octet-stream",
    head=True,
    redirect=True,
    ranges=True,
    errors=(404, 410),
    description=(
        "No login: a personal link from `POST …/downloads/{download}/link`. A link item"
        " answers 302 to its address, a file item with the file (ranges work). It may be"
        " followed repeatedly until it expires (410 link_expired); a GET counts one download"
        " per link, a HEAD none."
    ),
)
async def follow_download_link(request: web.Request) -> web.StreamResponse:
    """Follow a download link."""
    hub = await hub_of(request)
    token = request.match_info["token"]
    target = await ops.follow(hub, token, count=request.method == "GET")
    no_store = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}
    if target.url:
        return web.Response(status=302, headers={"Location": target.url, **no_store})
    try:
        path = _files(request).path(target.file_key)
    except UnknownFile:
        raise ops.download_not_found() from None
    served = _ranges_we_serve(request, path)
    headers = {
        "Content-Type": target.content_type or "application/octet-stream",
        "Content-Disposition": _attachment(target.file_name),
        # An uploaded file is never run as a page of the API's origin.
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        **no_store,
    }
    return _File(served, path, chunk_size=CHUNK, headers=headers)


class _File(web.FileResponse):
    """A file response that answers `served` (the request as _ranges_we_serve left it)."""

    def __init__(self, served: web.Request, path: Path, **options: Any) -> None:
        super().__init__(path, **options)
        self._served = served

    async def prepare(self, request: web.BaseRequest) -> Any:
        return await super().prepare(self._served)


def _ranges_we_serve(request: web.Request, path: Path) -> web.Request:
    """The request without its Range where a part would be wrong or refused: a resume
    (If-Range) naming another version of the file by ETag (aiohttp compares only dates:
    a client would splice two files), and several ranges at once (aiohttp answers 416).
    Without the Range the whole file is sent (200), as HTTP allows."""
    wanted = request.headers.get(hdrs.RANGE, "")
    if not wanted:
        return request
    if_range = request.headers.get(hdrs.IF_RANGE, "").strip()
    stale = if_range.startswith(('"', "W/")) and if_range != _etag(path)
    if "," not in wanted and not stale:
        return request
    headers = CIMultiDict(request.headers)
    del headers[hdrs.RANGE]
    return request.clone(headers=headers)


def _etag(path: Path) -> str:
    """The strong ETag aiohttp gives a file (its modification time and size)."""
    st = path.stat()
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


def _attachment(name: str) -> str:
    plain = (c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    fallback = "".join(plain)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


# Items


@router.get(
    "/hubs/{hub}/downloads",
    query=DownloadQuery,
    response=Page[DownloadView],
    errors=(401, 403, 404, 422),
    auth=True,
    description=(
        "Members: the items for every member and for their roles, pinned first. Staff"
        " (manage_downloads) see every item with its address and count, and may filter by"
        " `min_clicks`. 403 not_a_member for others."
    ),
)
async def list_downloads(request: web.Request) -> web.Response:
    """Downloads."""
    actor, hub = await actor_of(request), await hub_of(request)
    query = parse_query(request, DownloadQuery)
    return json_response(await ops.list_downloads(actor, hub, query))


@router.post(
    "/hubs/{hub}/downloads",
    body=DownloadInput,
    response=DownloadView,
    status=201,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=MANAGE,
    description=(
        "Needs manage_downloads. With `url` it is a link; without, upload its file with"
        " `PUT …/file` (members see it once it has one)."
    ),
)
async def create_download(request: web.Request) -> web.Response:
    """Add a download."""
    actor, hub = await actor_of(request), await hub_of(request)
    body = await read_json(request, DownloadInput)
    return json_response(await ops.create(actor, hub, body), status=201)


@router.get(
    "/hubs/{hub}/downloads/{download}",
    response=DownloadView,
    errors=(401, 403, 404),
    auth=True,
    description="404 for an item you may not see (a visitor, or without its roles).",
)
async def get_download(request: web.Request) -> web.Response:
    """One download."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await ops.get(actor, hub, _download(request)))


@router.patch(
    "/hubs/{hub}/downloads/{download}",
    body=DownloadUpdate,
    response=DownloadView,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=MANAGE,
    description="Needs manage_downloads. Fields left out stay; a `url` replaces a file.",
)
async def update_download(request: web.Request) -> web.Response:
    """Change a download."""
    actor, hub = await actor_of(request), await hub_of(request)
    download_id = _download(request)
    body = await read_json(request, DownloadUpdate)
    files = _files(request)
    return json_response(await ops.update(actor, hub, download_id, body, store=files))


@router.delete(
    "/hubs/{hub}/downloads/{download}",
    status=204,
    errors=(401, 403, 404),
    auth=True,
    permission=MANAGE,
    description="Needs manage_downloads. Its file and links go with it.",
)
async def delete_download(request: web.Request) -> web.Response:
    """Delete a download."""
    actor, hub = await actor_of(request), await hub_of(request)
    await ops.delete(actor, hub, _download(request), store=_files(request))
    return web.Response(status=204)


@router.put(
    "/hubs/{hub}/downloads/{download}/file",
    query=UploadQuery,
    upload=True,
    response=DownloadView,
    errors=(401, 403, 404, 413, 422),
    auth=True,
    permission=MANAGE,
    description=(
        "Needs manage_downloads. The body is the file itself, streamed to the data"
        " directory; `name` is what members save it as, the Content-Type is kept. Over the"
        " configured size ([downloads] max_file_size): 413 too_large, nothing kept. Replaces"
        " the item's file or link."
    ),
)
async def upload_download_file(request: web.Request) -> web.Response:
    """Upload a download's file."""
    actor, hub = await actor_of(request), await hub_of(request)
    download_id = _download(request)
    query = parse_query(request, UploadQuery)
    limit = request.app[SETTINGS].downloads.max_file_size
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(limit=limit)  # before a byte is read
    try:
        view = await ops.upload(
            actor,
            hub,
            download_id,
            request.content.iter_chunked(CHUNK),
            file_name=query.name,
            content_type=request.headers.get("Content-Type", ""),
            store=_files(request),
            max_size=limit,
        )
    except (ClientPayloadError, ConnectionResetError):
        # The sender went away mid-file: nothing was kept, and no one is left to answer.
        raise BadRequest(N_("The upload was cut off."), code="upload_incomplete") from None
    return json_response(view)


@router.post(
    "/hubs/{hub}/downloads/{download}/link",
    response=LinkView,
    status=201,
    errors=(401, 403, 404, 422),
    auth=True,
    description=(
        "Your personal link to the item, working for a few minutes ([downloads] link_ttl)."
        " 404 for an item you may not see; 422 download_empty before its file is uploaded."
    ),
)
async def create_download_link(request: web.Request) -> web.Response:
    """Get a download link."""
    actor, hub = await actor_of(request), await hub_of(request)
    settings = request.app[SETTINGS]
    links = await ops.create_links(
        actor,
        hub,
        [_download(request)],
        ttl=settings.downloads.link_ttl,
        base_url=settings.web.public_url,
    )
    return json_response(links[0], status=201)
