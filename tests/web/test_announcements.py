"""The announcements API: types and who may publish them, bad input per field, who reads
what, the cleaned HTML, scheduled publishing once, and the Discord posts that follow."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import time_machine
from aiohttp.test_utils import TestClient

from models import auth, hubs, members
from models.actor import SYSTEM
from models.announcements import Announcement, ops
from models.discord_actions import ActionKind, DiscordAction
from models.hubs import Hub
from models.members import lifecycle, roles
from models.members.roles import RoleInput
from models.members.tables import Member, Role
from models.notifications.tables import Notification
from models.posts import ops as posts
from models.posts.schemas import DestinationInput
from models.users import User
from models.validation import validate
from tests.web.conftest import problem_of

HUB = "/api/v1/hubs/road-kings"
NEWS = f"{HUB}/announcements"
TYPES = f"{NEWS}/types"
Headers = dict[str, str]
PUBLIC_CHANNEL, STAFF_CHANNEL, NEWS_ROLE = 7001, 7002, 880


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


async def _role(hub: Hub, name: str, permissions: list[str], discord_role_id: int | None) -> Role:
    data = RoleInput(name=name, position=10, permissions=permissions)
    role = await roles.create_role(SYSTEM, hub, data)
    if discord_role_id is not None:
        await Role.filter(id=role.id).update(discord_role_id=discord_role_id)
    return await Role.get(id=role.id)


async def _give(hub: Hub, user: User, role: Role) -> None:
    member = await Member.get(hub_id=hub.id, user_id=user.id)
    await roles.give_role(SYSTEM, hub, member.id, role.id)


def _news(**more: Any) -> dict[str, Any]:
    return {"type": "news", "title": "Server move", "body": "We move **tonight**.", **more}


async def _world(client: TestClient) -> dict[str, Any]:
    hub = await _hub()
    staff_user, staff = await _person(hub, "sam", 5)
    await _give(hub, staff_user, await _role(hub, "Press", ["manage_announcements"], None))
    writer_user, writer = await _person(hub, "wendy", 6)
    writers = await _role(hub, "Writers", [], NEWS_ROLE)
    await _give(hub, writer_user, writers)
    reader_user, reader = await _person(hub, "rita", 7)
    _, visitor = await _person(hub, "vic", 8, member=False)
    for key, name, publishers in (("news", "News", [writers.id]), ("maintenance", "Maint", [])):
        made = await client.post(
            TYPES, json={"key": key, "name": name, "publisher_role_ids": publishers}, headers=staff
        )
        assert made.status == 201, await made.text()
    return {
        "hub": hub,
        "staff": staff,
        "writer": writer,
        "writer_user": writer_user,
        "reader": reader,
        "reader_user": reader_user,
        "visitor": visitor,
        "writers": writers,
    }


async def test_types_are_managed_by_staff_with_clear_errors(client: TestClient) -> None:
    w = await _world(client)
    again = await client.post(TYPES, json={"key": "news", "name": "Again"}, headers=w["staff"])
    await problem_of(again, 409, "type_exists")
    unknown = await client.post(
        TYPES, json={"key": "x", "name": "X", "publisher_role_ids": [999999]}, headers=w["staff"]
    )
    problem = await problem_of(unknown, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["publisher_role_ids.0"]
    bad_key = await client.post(TYPES, json={"key": "Bad Key", "name": "X"}, headers=w["staff"])
    await problem_of(bad_key, 422, "validation_failed")
    denied = await client.post(TYPES, json={"key": "y", "name": "Y"}, headers=w["writer"])
    await problem_of(denied, 403, "missing_permission")
    listed = (await (await client.get(TYPES, headers=w["writer"])).json())["items"]
    assert {t["key"]: t["may_publish"] for t in listed} == {"maintenance": False, "news": True}
    news_id = next(t["id"] for t in listed if t["key"] == "news")
    await client.post(NEWS, json=_news(), headers=w["writer"])
    in_use = await client.delete(f"{TYPES}/{news_id}", headers=w["staff"])
    await problem_of(in_use, 409, "type_in_use")
    renamed = await client.patch(
        f"{TYPES}/{news_id}", json={"name": "Newsroom"}, headers=w["staff"]
    )
    assert (await renamed.json())["name"] == "Newsroom"


async def test_bad_input_is_refused_per_field_and_types_per_role(client: TestClient) -> None:
    w = await _world(client)
    past = (auth.now() - timedelta(hours=1)).isoformat()
    other_hub = await _hub(43, "Other")
    foreign = await _role(other_hub, "Theirs", [], 990)
    unlinked = await _role(w["hub"], "Unlinked", [], None)
    cases = [
        (_news(body="x" * 6001), "body"),
        (_news(image_url="javascript:alert(1)"), "image_url"),
        (_news(image_url="ftp://files.example/a.png"), "image_url"),
        (_news(publish_at=past), "publish_at"),
        (_news(ping_role_id=foreign.id), "ping_role_id"),
        (_news(ping_role_id=unlinked.id), "ping_role_id"),
        (_news(type="nope"), "type"),
        (_news(title=""), "title"),
        (_news(body=""), "body"),
        (_news(image_url="https://"), "image_url"),
        (_news(pinned="yes"), "pinned"),
        (_news(publish_at=(auth.now() + timedelta(days=400)).isoformat()), "publish_at"),
    ]
    for body, field in cases:
        response = await client.post(NEWS, json=body, headers=w["staff"])
        problem = await problem_of(response, 422, "validation_failed")
        assert [e["field"] for e in problem["errors"]] == [field], body
    not_theirs = await client.post(NEWS, json=_news(type="maintenance"), headers=w["writer"])
    await problem_of(not_theirs, 403, "type_not_allowed")
    reader = await client.post(NEWS, json=_news(), headers=w["reader"])
    await problem_of(reader, 403, "type_not_allowed")
    assert not await Announcement.exists()


async def test_who_reads_what_pinned_first_and_html_is_inert(client: TestClient) -> None:
    w = await _world(client)
    body = (
        "Hi <script>alert(1)</script>\n\n[click](javascript:alert(1))\r\n\t[ok](https://ok.example)"
    )
    public = await (await client.post(NEWS, json=_news(body=body), headers=w["writer"])).json()
    assert "<script" not in public["html"]
    assert 'href="javascript' not in public["html"]  # left as text, not a link
    assert 'href="https://ok.example"' in public["html"]
    secret = await client.post(NEWS, json=_news(visibility="members"), headers=w["writer"])
    secret_id = (await secret.json())["id"]
    pinned = await client.post(
        NEWS, json=_news(type="maintenance", pinned=True, title="Read me"), headers=w["staff"]
    )
    assert pinned.status == 201
    anonymous = await (await client.get(NEWS)).json()
    assert [i["title"] for i in anonymous["items"]] == ["Read me", "Server move"]
    member = await (await client.get(NEWS, headers=w["reader"])).json()
    assert len(member["items"]) == 3
    assert member["items"][0]["title"] == "Read me"
    hidden = await client.get(f"{NEWS}/{secret_id}", headers=w["visitor"])
    await problem_of(hidden, 404, "announcement_not_found")
    assert (await client.get(f"{NEWS}/{secret_id}")).status == 404
    assert (await client.get(f"{NEWS}/{secret_id}", headers=w["reader"])).status == 200
    by_type = await (await client.get(f"{NEWS}?type=maintenance", headers=w["reader"])).json()
    assert [i["title"] for i in by_type["items"]] == ["Read me"]
    mine = await (
        await client.get(f"{NEWS}?author={w['writer_user'].id}", headers=w["reader"])
    ).json()
    assert len(mine["items"]) == 2
    paged = await (await client.get(f"{NEWS}?limit=1", headers=w["reader"])).json()
    rest = await (
        await client.get(f"{NEWS}?limit=5&cursor={paged['next_cursor']}", headers=w["reader"])
    ).json()
    assert len(paged["items"]) + len(rest["items"]) == 3
    told = await Notification.filter(kind="announcement.published").values_list(
        "user_id", flat=True
    )
    assert w["reader_user"].id in told
    assert w["writer_user"].id not in told or told.count(w["writer_user"].id) == 1


async def test_scheduled_ones_go_out_once_at_their_time(client: TestClient) -> None:
    w = await _world(client)
    when = auth.now() + timedelta(hours=2)
    made = await client.post(NEWS, json=_news(publish_at=when.isoformat()), headers=w["writer"])
    item = await made.json()
    assert item["published"] is False
    assert (await (await client.get(NEWS, headers=w["reader"])).json())["items"] == []
    waiting = await client.get(f"{NEWS}?scheduled=true", headers=w["staff"])
    assert [i["id"] for i in (await waiting.json())["items"]] == [item["id"]]
    denied = await client.get(f"{NEWS}?scheduled=true", headers=w["reader"])
    assert (await denied.json())["items"] == []  # a reader has nothing waiting
    mine = await client.get(f"{NEWS}?scheduled=true", headers=w["writer"])
    assert [i["id"] for i in (await mine.json())["items"]] == [item["id"]]
    await problem_of(await client.get(f"{NEWS}?scheduled=true"), 401, "unauthorized")
    assert await ops.publish_due() == 0
    with time_machine.travel(when + timedelta(seconds=1)):
        sent = await asyncio.gather(ops.publish_due(), ops.publish_due())
    assert sum(sent) == 1
    # The empty page read above was cached; going out made it old.
    shown = await (await client.get(NEWS, headers=w["reader"])).json()
    assert [i["id"] for i in shown["items"]] == [item["id"]]
    news_type = (await (await client.get(TYPES, headers=w["staff"])).json())["items"]
    news_id = next(t["id"] for t in news_type if t["key"] == "news")
    await client.patch(f"{TYPES}/{news_id}", json={"name": "Headlines"}, headers=w["staff"])
    renamed = await (await client.get(NEWS, headers=w["reader"])).json()
    assert renamed["items"][0]["type_name"] == "Headlines"
    told = await Notification.filter(kind="announcement.published").count()
    assert told == 2  # the staff member and the reader; the author is not told
    moved = await client.patch(
        f"{NEWS}/{item['id']}", json={"publish_at": when.isoformat()}, headers=w["writer"]
    )
    await problem_of(moved, 409, "already_published")


async def test_discord_posts_follow_and_ping_only_the_chosen_role(client: TestClient) -> None:
    w = await _world(client)
    hub = w["hub"]
    for channel, audience in ((PUBLIC_CHANNEL, "public"), (STAFF_CHANNEL, "members")):
        data = validate(
            DestinationInput,
            {"trigger": "announcement.published", "channel_id": channel, "audience": audience},
        )
        await posts.create_destination(SYSTEM, hub, data)
    public = await client.post(
        NEWS, json=_news(ping_role_id=w["writers"].id, body="@everyone read"), headers=w["writer"]
    )
    item = await public.json()
    sent = await DiscordAction.filter(hub_id=hub.id, kind=ActionKind.POST).order_by("id")
    assert sorted(a.channel_id for a in sent) == [PUBLIC_CHANNEL, STAFF_CHANNEL]
    for action in sent:
        assert action.payload["mention_roles"] == [NEWS_ROLE]
        assert action.payload["content"] == f"<@&{NEWS_ROLE}>"
        assert "@everyone read" in action.payload["embed"]["description"]
    members_only = await client.post(
        NEWS, json=_news(visibility="members", title="Inside"), headers=w["writer"]
    )
    assert members_only.status == 201
    inside = await DiscordAction.filter(hub_id=hub.id, kind=ActionKind.POST).count()
    assert inside == 3  # the members' channel only
    before = await DiscordAction.filter(hub_id=hub.id, kind=ActionKind.POST).count()
    edited = await client.patch(
        f"{NEWS}/{item['id']}", json={"title": "Server move (new time)"}, headers=w["writer"]
    )
    assert edited.status == 200
    # Waiting edits of one message replace each other: the posts' actions carry the new title.
    posted = await DiscordAction.filter(hub_id=hub.id, kind=ActionKind.POST).count()
    assert posted >= before
    latest = (
        await DiscordAction.filter(hub_id=hub.id, kind=ActionKind.POST, channel_id=PUBLIC_CHANNEL)
        .order_by("-id")
        .first()
    )
    assert latest is not None
    assert latest.payload["embed"]["title"] == "Server move (new time)"
    other_writer, other = await _person(hub, "otto", 9)
    await _give(hub, other_writer, w["writers"])
    denied = await client.delete(f"{NEWS}/{item['id']}", headers=other)
    await problem_of(denied, 403, "missing_permission")
    assert (await client.delete(f"{NEWS}/{item['id']}", headers=w["writer"])).status == 204
    assert (await client.delete(f"{NEWS}/{item['id']}", headers=w["writer"])).status == 404
    assert not await Announcement.filter(id=item["id"]).exists()


async def test_an_author_always_sees_their_own(client: TestClient) -> None:
    w = await _world(client)
    guest_user, guest = await _person(w["hub"], "gus", 11, member=False)
    await _give(w["hub"], guest_user, w["writers"])  # a publisher who is only a visitor
    made = await client.post(NEWS, json=_news(visibility="members"), headers=guest)
    item = await made.json()
    assert (await client.get(f"{NEWS}/{item['id']}", headers=guest)).status == 200
    edited = await client.patch(f"{NEWS}/{item['id']}", json={"title": "Fixed"}, headers=guest)
    assert (await edited.json())["title"] == "Fixed"
    assert (await client.get(f"{NEWS}/{item['id']}", headers=w["visitor"])).status == 404
