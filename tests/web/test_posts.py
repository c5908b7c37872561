"""The hub posts API: triggers, destinations (CRUD with template checks), preview and test."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from models.discord_actions import ActionKind, DiscordAction
from models.hubs import Hub
from models.posts import PostDestination
from tests.web.conftest import problem_of
from tests.web.test_points import HUB, _headers, _holder, _hub, _member, _owner

POSTS = f"{HUB}/posts"
DESTINATIONS = f"{POSTS}/destinations"
CHANNEL = "6000000001"
TOKEN = "a" * 68
HOOK = f"https://discord.com/api/webhooks/123456789012345678/{TOKEN}"


def new(**fields: object) -> dict[str, object]:
    return {"trigger": "member.accepted", "channel_id": CHANNEL, **fields}


async def _create(client: TestClient, headers: dict[str, str], **fields: object) -> dict:
    response = await client.post(DESTINATIONS, json=new(**fields), headers=headers)
    assert response.status == 201, await response.text()
    return await response.json()


async def test_triggers_list_their_variables_in_the_readers_language(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    headers = await _headers(alice.user)
    response = await client.get(f"{POSTS}/triggers", headers=headers)
    assert response.status == 200
    items = {item["key"]: item for item in (await response.json())["items"]}
    assert {"member.accepted", "member.left", "member.rank_up"} <= set(items)
    accepted = items["member.accepted"]
    assert accepted["package"] == "members"
    assert "mention" in [v["name"] for v in accepted["variables"]]
    assert accepted["content"] == "Welcome {mention}, our driver #{number}!"
    anonymous = await client.get(f"{POSTS}/triggers")
    await problem_of(anonymous, 401, None)


async def test_staff_create_read_update_and_delete_a_destination(client: TestClient) -> None:
    hub = await _hub()
    staff = await _holder(hub, "sam", ["manage_posts"])
    created = await _create(
        client, staff, content="Hi {member}", embed={"title": "{hub}", "color": 255}
    )
    assert (created["kind"], created["channel_id"], created["audience"]) == (
        "channel",
        CHANNEL,
        "public",
    )
    assert created["embed"]["title"] == "{hub}"
    assert not created["broken"]
    url = f"{DESTINATIONS}/{created['id']}"
    fetched = await client.get(url, headers=staff)
    assert (await fetched.json())["content"] == "Hi {member}"
    changed = await client.patch(
        url, json={"content": "Bye {member}", "audience": "members"}, headers=staff
    )
    assert changed.status == 200, await changed.text()
    assert ((await changed.json())["content"], (await changed.json())["audience"]) == (
        "Bye {member}",
        "members",
    )
    listed = await client.get(DESTINATIONS, params={"trigger": "member.accepted"}, headers=staff)
    assert [d["id"] for d in (await listed.json())["items"]] == [created["id"]]
    gone = await client.delete(url, headers=staff)
    assert gone.status == 204
    await problem_of(await client.get(url, headers=staff), 404, "destination_not_found")


async def test_a_webhook_url_is_never_shown_back(client: TestClient) -> None:
    hub = await _hub()
    owner = await _owner(hub)
    created = await _create(client, owner, channel_id=None, webhook_url=HOOK)
    assert (created["kind"], created["webhook_id"]) == ("webhook", "123456789012345678")
    listed = await client.get(DESTINATIONS, headers=owner)
    assert TOKEN not in await listed.text()
    assert TOKEN not in (await PostDestination.get(id=created["id"])).webhook_url


async def test_bad_templates_are_refused_naming_the_field(client: TestClient) -> None:
    hub = await _hub()
    owner = await _owner(hub)
    unknown = await client.post(
        DESTINATIONS, json=new(content="Hi {membre}", embed={"title": "{rnk}"}), headers=owner
    )
    problem = await problem_of(unknown, 422, "validation_failed")
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert set(fields) == {"content", "embed.title"}
    assert "{membre}" in fields["content"]
    assert "{rnk}" in fields["embed.title"]
    too_long = await client.post(
        DESTINATIONS, json=new(embed={"description": "x" * 4097}), headers=owner
    )
    problem = await problem_of(too_long, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["embed.description"]
    total = await client.post(
        DESTINATIONS,
        json=new(embed={"description": "x" * 4096, "footer": "y" * 2048}),
        headers=owner,
    )
    problem = await problem_of(total, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["embed"]
    trigger = await client.post(DESTINATIONS, json=new(trigger="nope"), headers=owner)
    problem = await problem_of(trigger, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["trigger"]


async def test_only_discord_webhook_urls_are_taken(client: TestClient) -> None:
    hub = await _hub()
    owner = await _owner(hub)
    for url in (
        "https://example.com/api/webhooks/123456789012345678/" + TOKEN,
        "http://discord.com/api/webhooks/123456789012345678/" + TOKEN,
        "https://discord.com.evil.test/api/webhooks/123456789012345678/" + TOKEN,
        "https://discord.com/api/channels/123456789012345678/" + TOKEN,
    ):
        response = await client.post(
            DESTINATIONS, json=new(channel_id=None, webhook_url=url), headers=owner
        )
        problem = await problem_of(response, 422, "validation_failed")
        assert [e["field"] for e in problem["errors"]] == ["webhook_url"]
        assert url not in await response.text()  # a secret is not echoed back
    both = await client.post(DESTINATIONS, json=new(webhook_url=HOOK), headers=owner)
    await problem_of(both, 422, "validation_failed")


async def test_another_hubs_destination_is_a_404_and_members_get_403(client: TestClient) -> None:
    hub = await _hub()
    other = await _hub(guild_id=43, name="Other VTC", owner=11)
    owner, theirs = await _owner(hub), await _owner(other)
    response = await client.post(
        "/api/v1/hubs/other-vtc/posts/destinations", json=new(), headers=theirs
    )
    assert response.status == 201, await response.text()
    foreign = (await response.json())["id"]
    url = f"{DESTINATIONS}/{foreign}"
    await problem_of(await client.get(url, headers=owner), 404, "destination_not_found")
    await problem_of(await client.patch(url, json={"enabled": False}, headers=owner), 404, None)
    await problem_of(await client.delete(url, headers=owner), 404, None)
    await problem_of(await client.post(f"{url}/test", headers=owner), 404, None)
    await problem_of(await client.get(f"{DESTINATIONS}/abc", headers=owner), 404, None)
    member = await _headers((await _member(hub, "alice")).user)
    await problem_of(await client.get(DESTINATIONS, headers=member), 403, "missing_permission")
    await problem_of(
        await client.post(DESTINATIONS, json=new(), headers=member), 403, "missing_permission"
    )
    await problem_of(
        await client.post(f"{POSTS}/preview", json={"trigger": "member.left"}, headers=member),
        403,
        "missing_permission",
    )


async def test_preview_and_test(client: TestClient) -> None:
    hub = await _hub()
    owner = await _owner(hub)
    draft = await client.post(
        f"{POSTS}/preview",
        json={"trigger": "member.accepted", "embed": {"title": "Hi {member}"}},
        headers=owner,
    )
    assert draft.status == 200, await draft.text()
    assert (await draft.json())["embed"]["title"] == "Hi [member]"
    default = await client.post(
        f"{POSTS}/preview",
        json={"trigger": "member.accepted", "variables": {"mention": "@alice", "number": "7"}},
        headers=owner,
    )
    assert (await default.json())["content"] == "Welcome @alice, our driver #7!"
    bad = await client.post(
        f"{POSTS}/preview", json={"trigger": "member.accepted", "content": "{x}"}, headers=owner
    )
    problem = await problem_of(bad, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["content"]
    created = await _create(client, owner, content="Test {member}")
    stored = await client.post(
        f"{POSTS}/preview", json={"destination": created["id"]}, headers=owner
    )
    assert (await stored.json())["content"] == "Test [member]"
    sent = await client.post(f"{DESTINATIONS}/{created['id']}/test", headers=owner)
    assert sent.status == 202, await sent.text()
    assert (await sent.json())["queued"]
    action = await DiscordAction.get(kind=ActionKind.POST)
    assert action.payload["content"] == "Test [member]"


async def test_a_broken_destination_shows_it(client: TestClient) -> None:
    hub = await _hub()
    owner = await _owner(hub)
    created = await _create(client, owner)
    await PostDestination.filter(id=created["id"]).update(last_error="404 10003 Unknown Channel")
    listed = await client.get(DESTINATIONS, headers=owner)
    (item,) = (await listed.json())["items"]
    assert (item["broken"], item["last_error"]) == (True, "404 10003 Unknown Channel")


async def test_a_hub_without_a_discord_server_is_refused_naming_the_field_sent(
    client: TestClient,
) -> None:
    hub = await _hub()
    owner = await _owner(hub)
    await Hub.filter(id=hub.id).update(guild_id=None)
    response = await client.post(
        DESTINATIONS, json=new(channel_id=None, webhook_url=HOOK), headers=owner
    )
    problem = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["webhook_url"]
    assert "no Discord server" in problem["errors"][0]["message"]
    response = await client.post(DESTINATIONS, json=new(), headers=owner)
    problem = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["channel_id"]


async def test_crossposting_is_for_channel_destinations_only(client: TestClient) -> None:
    hub = await _hub()
    owner = await _owner(hub)
    refused = await client.post(
        DESTINATIONS, json=new(channel_id=None, webhook_url=HOOK, crosspost=True), headers=owner
    )
    problem = await problem_of(refused, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["crosspost"]
    created = await _create(client, owner, crosspost=True)
    assert created["crosspost"] is True
    to_webhook = await client.patch(
        f"{DESTINATIONS}/{created['id']}", json={"webhook_url": HOOK}, headers=owner
    )
    await problem_of(to_webhook, 422, "validation_failed")
    off = await client.patch(
        f"{DESTINATIONS}/{created['id']}", json={"crosspost": False}, headers=owner
    )
    assert (await off.json())["crosspost"] is False
