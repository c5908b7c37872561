"""The downloads API: who sees which item, streamed uploads under the size limit, personal
links that expire and count once, and the staff's counts, order and filters."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from core.config import Settings
from core.storage import FILES_DIR
from models import auth, hubs, members
from models.actor import SYSTEM
from models.downloads import Download, DownloadLink, ops
from models.hubs import Hub
from models.members import lifecycle, roles
from models.members.roles import RoleInput
from models.members.tables import Member, Role
from models.users import User
from tests.web.conftest import ClientFactory, problem_of

HUB = "/api/v1/hubs/road-kings"
FILES = f"{HUB}/downloads"
Headers = dict[str, str]
MOD = b"mod-bytes-" * 1000  # 10,000 bytes


async def _hub(guild_id: int = 42, name: str = "Road Kings") -> Hub:
    return await hubs.ensure_hub_for_guild(guild_id, name, 10)


async def _person(
    hub: Hub, name: str, discord_id: int, *, member: bool = True
) -> tuple[User, Headers]:
    user = await User.create(username=name, discord_id=discord_id)
    row = await members.ensure_member(hub.id, user)
    if member:
        await lifecycle.accept(SYSTEM, hub, row.id)
    pair = await auth.start_session(user, "discord")
    return user, {"Authorization": f"Bearer {pair.access_token}"}


async def _role(hub: Hub, name: str, permissions: list[str]) -> Role:
    return await roles.create_role(
        SYSTEM, hub, RoleInput(name=name, position=10, permissions=permissions)
    )  # type: ignore[return-value]


async def _give(hub: Hub, user: User, role_id: int) -> None:
    member = await Member.get(hub_id=hub.id, user_id=user.id)
    await roles.give_role(SYSTEM, hub, member.id, role_id)


async def _world() -> dict[str, Any]:
    hub = await _hub()
    staff_user, staff = await _person(hub, "sam", 5)
    await _give(hub, staff_user, (await _role(hub, "Files", ["manage_downloads"])).id)
    member_user, member = await _person(hub, "rita", 7)
    skinner_user, skinner = await _person(hub, "sky", 8)
    skins = await _role(hub, "Skinners", [])
    await _give(hub, skinner_user, skins.id)
    _, visitor = await _person(hub, "vic", 9, member=False)
    return {
        "hub": hub,
        "staff": staff,
        "member": member,
        "member_user": member_user,
        "skinner": skinner,
        "visitor": visitor,
        "skins": skins,
    }


async def _item(client: TestClient, headers: Headers, **fields: Any) -> dict[str, Any]:
    made = await client.post(FILES, json={"title": "Item", **fields}, headers=headers)
    assert made.status == 201, await made.text()
    return await made.json()


async def _upload(
    client: TestClient, headers: Headers, item_id: int, data: Any = MOD, name: str = "mod.scs"
) -> Any:
    return await client.put(
        f"{FILES}/{item_id}/file",
        params={"name": name},
        data=data,
        headers={**headers, "Content-Type": "application/zip"},
    )


async def _link(client: TestClient, headers: Headers, item_id: int) -> str:
    made = await client.post(f"{FILES}/{item_id}/link", headers=headers)
    assert made.status == 201, await made.text()
    body = await made.json()
    assert body["url"] == "http://127.0.0.1" + body["path"]
    return body["path"]


def _stored(settings: Settings) -> list[Path]:
    root = settings.data_dir / FILES_DIR
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_members_see_their_items_and_never_the_real_address(client: TestClient) -> None:
    w = await _world()
    link = await _item(client, w["staff"], title="Guide", url="https://example.com/guide.pdf")
    await _item(
        client, w["staff"], title="Skin pack", url="https://example.com/s", role_ids=[w["skins"].id]
    )
    empty = await _item(client, w["staff"], title="Coming soon")
    assert empty["kind"] == "empty"
    staff_view = await (await client.get(FILES, headers=w["staff"])).json()
    assert [i["title"] for i in staff_view["items"]] == ["Guide", "Skin pack", "Coming soon"]
    assert staff_view["items"][0]["url"] == "https://example.com/guide.pdf"
    assert staff_view["items"][0]["clicks"] == 0
    seen = await (await client.get(FILES, headers=w["member"])).json()
    assert [i["title"] for i in seen["items"]] == ["Guide"]
    assert seen["items"][0]["url"] is None
    assert seen["items"][0]["clicks"] is None
    by_skinner = await (await client.get(FILES, headers=w["skinner"])).json()
    assert [i["title"] for i in by_skinner["items"]] == ["Guide", "Skin pack"]
    one = await client.get(f"{FILES}/{link['id']}", headers=w["member"])
    assert (await one.json())["title"] == "Guide"
    await problem_of(
        await client.get(f"{FILES}/{empty['id']}", headers=w["member"]), 404, "download_not_found"
    )


async def test_visitors_and_strangers_get_nothing(client: TestClient) -> None:
    w = await _world()
    item = await _item(client, w["staff"], url="https://example.com/x")
    await problem_of(await client.get(FILES, headers=w["visitor"]), 403, "not_a_member")
    await problem_of(
        await client.get(f"{FILES}/{item['id']}", headers=w["visitor"]), 404, "download_not_found"
    )
    link = await client.post(f"{FILES}/{item['id']}/link", headers=w["visitor"])
    await problem_of(link, 404, "download_not_found")
    await problem_of(await client.get(FILES), 401, None)
    other = await _hub(43, "Other Hub")
    foreign = await Download.create(hub_id=other.id, title="Theirs", url="https://example.com/t")
    await problem_of(
        await client.get(f"{FILES}/{foreign.id}", headers=w["staff"]), 404, "download_not_found"
    )
    await problem_of(
        await client.delete(f"{FILES}/{foreign.id}", headers=w["staff"]), 404, "download_not_found"
    )


async def test_bad_input_is_refused_per_field(client: TestClient) -> None:
    w = await _world()
    bad = await client.post(
        FILES,
        json={"title": "", "url": "javascript:alert(1)", "role_ids": [999999], "pinned": "yes"},
        headers=w["staff"],
    )
    problem = await problem_of(bad, 422, "validation_failed")
    assert {e["field"] for e in problem["errors"]} == {"title", "url", "pinned"}
    foreign = await client.post(
        FILES, json={"title": "X", "role_ids": [999999]}, headers=w["staff"]
    )
    problem = await problem_of(foreign, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["role_ids.0"]
    denied = await client.post(FILES, json={"title": "X"}, headers=w["member"])
    await problem_of(denied, 403, "missing_permission")
    item = await _item(client, w["staff"])
    nameless = await _upload(client, w["staff"], item["id"], name="../")
    problem = await problem_of(nameless, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["name"]
    no_name = await client.put(f"{FILES}/{item['id']}/file", data=b"x", headers=w["staff"])
    await problem_of(no_name, 422, "validation_failed")
    empty_link = await client.post(f"{FILES}/{item['id']}/link", headers=w["staff"])
    await problem_of(empty_link, 422, "download_empty")
    members_sort = await client.get(FILES, params={"min_clicks": "1"}, headers=w["member"])
    await problem_of(members_sort, 403, "missing_permission")
    # The order by downloads alone would tell members the counts they may not see.
    by_clicks = await client.get(FILES, params={"sort": "clicks"}, headers=w["member"])
    await problem_of(by_clicks, 403, "missing_permission")


async def test_an_upload_streams_to_the_store_and_a_link_serves_it(
    client: TestClient, settings: Settings
) -> None:
    w = await _world()
    item = await _item(client, w["staff"], title="Mod")
    uploaded = await _upload(client, w["staff"], item["id"], name="C:\\mods\\Größe mod.scs")
    assert uploaded.status == 200, await uploaded.text()
    view = await uploaded.json()
    assert (view["kind"], view["file_name"], view["file_size"]) == (
        "file",
        "Größe mod.scs",
        len(MOD),
    )
    row = await Download.get(id=item["id"])
    assert row.file_sha256 == hashlib.sha256(MOD).hexdigest()
    assert [p.read_bytes() for p in _stored(settings)] == [MOD]
    path = await _link(client, w["member"], item["id"])
    probe = await client.head(path)
    assert probe.status == 200
    assert int(probe.headers["Content-Length"]) == len(MOD)
    got = await client.get(path)
    assert got.status == 200
    assert await got.read() == MOD
    assert got.headers["Content-Type"] == "application/zip"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in got.headers["Content-Disposition"]
    assert "Gr%C3%B6%C3%9Fe%20mod.scs" in got.headers["Content-Disposition"]
    part = await client.get(path, headers={"Range": "bytes=0-3"})
    assert part.status == 206
    assert await part.read() == MOD[:4]
    # One link, followed three times (and probed once): one download.
    assert (await Download.get(id=item["id"])).clicks == 1
    await client.get(await _link(client, w["skinner"], item["id"]))
    staff_view = await (await client.get(f"{FILES}/{item['id']}", headers=w["staff"])).json()
    assert staff_view["clicks"] == 2


async def test_an_upload_over_the_limit_is_413_and_nothing_is_kept(
    api_client: ClientFactory, settings: Settings
) -> None:
    w = await _world()
    async with api_client(downloads={"max_file_size": 4096}) as client:
        item = await _item(client, w["staff"])
        declared = await _upload(client, w["staff"], item["id"])
        await problem_of(declared, 413, "too_large")

        async def chunks() -> Any:  # no Content-Length: found out while streaming
            for _ in range(10):
                yield b"x" * 1000

        streamed = await _upload(client, w["staff"], item["id"], data=chunks())
        await problem_of(streamed, 413, "too_large")
        assert _stored(settings) == []
        assert (await Download.get(id=item["id"])).file_key == ""
        fits = await _upload(client, w["staff"], item["id"], data=b"y" * 4096)
        assert fits.status == 200


async def test_links_expire_and_follow_their_member(client: TestClient) -> None:
    w = await _world()
    item = await _item(client, w["staff"], url="https://example.com/pack.zip")
    path = await _link(client, w["member"], item["id"])
    moved = await client.get(path, allow_redirects=False)
    assert moved.status == 302
    assert moved.headers["Location"] == "https://example.com/pack.zip"
    await DownloadLink.all().update(expires_at=auth.now() - timedelta(seconds=1))
    await problem_of(await client.get(path, allow_redirects=False), 410, "link_expired")
    await problem_of(await client.get(f"{FILES}/links/{'a' * 43}"), 404, "link_not_found")
    await problem_of(await client.get(f"{FILES}/links/short"), 404, "link_not_found")
    # A link is only as good as its member's access: after leaving the hub it is unknown.
    fresh = await _link(client, w["member"], item["id"])
    member = await Member.get(hub_id=w["hub"].id, user_id=w["member_user"].id)
    await lifecycle.dismiss(SYSTEM, w["hub"], member.id, "inactive")
    await problem_of(await client.get(fresh, allow_redirects=False), 404, "link_not_found")
    # And another hub's path does not open it.
    await _hub(43, "Other Hub")
    token = fresh.rsplit("/", 1)[1]
    await problem_of(
        await client.get(f"/api/v1/hubs/other-hub/downloads/links/{token}"), 404, "link_not_found"
    )
    assert await ops.purge_links(auth.now() + timedelta(days=2)) == 2
    assert await DownloadLink.all().count() == 0


async def test_staff_order_pin_filter_replace_and_delete(
    client: TestClient, settings: Settings
) -> None:
    w = await _world()
    first = await _item(client, w["staff"], title="First", url="https://example.com/1", position=1)
    second = await _item(
        client, w["staff"], title="Second", url="https://example.com/2", position=2
    )
    pinned = await _item(
        client, w["staff"], title="Pinned", url="https://example.com/3", position=9, pinned=True
    )
    for _ in range(2):
        await client.get(await _link(client, w["member"], second["id"]), allow_redirects=False)

    async def titles(**query: str) -> list[str]:
        page = await (await client.get(FILES, params=query, headers=w["staff"])).json()
        return [i["title"] for i in page["items"]]

    assert await titles() == ["Pinned", "First", "Second"]
    assert await titles(sort="clicks") == ["Pinned", "Second", "First"]
    assert await titles(sort="newest") == ["Pinned", "Second", "First"]
    assert await titles(min_clicks="1") == ["Second"]
    assert await titles(limit="1", cursor=await _cursor(client, w["staff"])) == ["Second"]
    await problem_of(
        await client.get(FILES, params={"sort": "size"}, headers=w["staff"]),
        422,
        "validation_failed",
    )
    # A file replaces the link; a link replaces the file (which leaves the disk).
    assert (await _upload(client, w["staff"], first["id"])).status == 200
    assert len(_stored(settings)) == 1
    relinked = await client.patch(
        f"{FILES}/{first['id']}", json={"url": "https://example.com/new"}, headers=w["staff"]
    )
    assert (await relinked.json())["kind"] == "link"
    assert _stored(settings) == []
    await _upload(client, w["staff"], first["id"])
    gone = await client.delete(f"{FILES}/{first['id']}", headers=w["staff"])
    assert gone.status == 204
    assert _stored(settings) == []
    assert await Download.filter(id=first["id"]).count() == 0
    unpinned = await client.patch(
        f"{FILES}/{pinned['id']}", json={"pinned": False}, headers=w["staff"]
    )
    assert (await unpinned.json())["pinned"] is False
    assert await titles() == ["Second", "Pinned"]


async def _cursor(client: TestClient, headers: Headers) -> str:
    page = await (await client.get(FILES, params={"limit": "2"}, headers=headers)).json()
    return page["next_cursor"]


async def test_descriptions_are_cleaned_html(client: TestClient) -> None:
    w = await _world()
    item = await _item(
        client,
        w["staff"],
        url="https://example.com/x",
        description="**Bold** <script>alert(1)</script> [x](javascript:alert(1))",
    )
    assert "<strong>Bold</strong>" in item["html"]
    assert "<script" not in item["html"]
    assert "href" not in item["html"]  # the link is refused: inert text


async def test_an_upload_is_never_held_whole_in_memory(
    client: TestClient, settings: Settings
) -> None:
    """24 MB through the API (client and server in this process): memory grows by a small
    fraction of it, as the file streams to disk."""
    import tracemalloc

    w = await _world()
    item = await _item(client, w["staff"])
    total, chunk = 24 * 1024 * 1024, b"z" * (64 * 1024)

    async def chunks() -> Any:
        for _ in range(total // len(chunk)):
            yield chunk

    tracemalloc.start()
    try:
        uploaded = await _upload(client, w["staff"], item["id"], data=chunks())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert uploaded.status == 200, await uploaded.text()
    assert (await uploaded.json())["file_size"] == total
    assert peak < 4 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for a 24 MB upload"
    (stored,) = _stored(settings)
    assert stored.stat().st_size == total


async def test_a_resume_of_another_version_gets_the_whole_file(client: TestClient) -> None:
    """If-Range naming an old ETag must not splice two files; several ranges at once get
    the whole file rather than a 416."""
    w = await _world()
    item = await _item(client, w["staff"], title="Mod")
    first = await _upload(client, w["staff"], item["id"])
    uploaded_at = (await first.json())["updated_at"]
    path = await _link(client, w["member"], item["id"])
    old_etag = (await client.head(path)).headers["ETag"]
    newer = b"v2-" * 4000
    second = await _upload(client, w["staff"], item["id"], data=newer)
    assert (await second.json())["updated_at"] != uploaded_at  # the upload changed it
    stale = await client.get(path, headers={"Range": "bytes=0-9", "If-Range": old_etag})
    assert stale.status == 200
    assert await stale.read() == newer
    current = (await client.head(path)).headers["ETag"]
    resumed = await client.get(path, headers={"Range": "bytes=0-9", "If-Range": current})
    assert resumed.status == 206
    assert await resumed.read() == newer[:10]
    several = await client.get(path, headers={"Range": "bytes=0-1,5-6"})
    assert several.status == 200
    assert await several.read() == newer
