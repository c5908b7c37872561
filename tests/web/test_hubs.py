"""Hubs over HTTP: the public list, one hub, and changes (refused until logins exist)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import BaseModel, Field, SecretStr

from models import auth, hubs, plugins
from models.actor import SYSTEM
from models.hubs import Hub, HubUpdate
from models.plugins import Package
from models.users import User
from tests.web.conftest import problem_of


async def _make_hubs(count: int) -> list[Hub]:
    return [await hubs.ensure_hub_for_guild(i + 1, f"Hub {i:02d}", None) for i in range(count)]


async def _walk(
    client: TestClient, url: str, headers: dict[str, str] | None = None, **params: str
) -> list[dict[str, Any]]:
    """Every page of a list, following next_cursor until it is null."""
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while not pages or cursor is not None:
        query = params | ({"cursor": cursor} if cursor else {})
        response = await client.get(url, params=query, headers=headers)
        assert response.status == 200, await response.text()
        pages.append(await response.json())
        assert set(pages[-1]) == {"items", "next_cursor"}
        cursor = pages[-1]["next_cursor"]
    return pages


async def test_walking_the_pages_shows_every_hub_once_in_name_order(client: TestClient) -> None:
    made = await _make_hubs(7)
    # Equal names are ordered by id: the walk must neither skip nor repeat them.
    twins = [await hubs.ensure_hub_for_guild(100 + i, "Hub 03", None) for i in range(2)]
    pages = await _walk(client, "/api/v1/hubs", limit="3")
    assert [len(p["items"]) for p in pages] == [3, 3, 3]
    expected = sorted([*made, *twins], key=lambda h: (h.name, h.id))
    assert [h["slug"] for p in pages for h in p["items"]] == [h.slug for h in expected]


async def test_list_hubs_defaults_to_20_a_page_and_hides_private_and_inactive(
    client: TestClient,
) -> None:
    road, night, _gone = await _make_hubs(3)
    await hubs.update_hub(SYSTEM, night, HubUpdate(public=False))
    await hubs.deactivate_guild(3)
    response = await client.get("/api/v1/hubs")
    assert response.status == 200
    body = await response.json()
    assert body == {"items": [await hubs.hub_view(road.slug)], "next_cursor": None}
    await _make_hubs(22)
    assert [len(p["items"]) for p in await _walk(client, "/api/v1/hubs")] == [20, 1]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "two"}, "limit"),
        ({"cursor": ""}, "cursor"),
        ({"cursor": "x" * 1025}, "cursor"),
        ({"page": "2"}, "page"),  # the old scheme is refused, not ignored
        ({"sort": "name"}, "sort"),
    ],
)
async def test_list_hubs_rejects_bad_paging_with_a_422(
    client: TestClient, query: dict[str, str], field: str
) -> None:
    response = await client.get("/api/v1/hubs", params=query)
    body = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == [field]


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        _b64("not json"),
        _b64('{"name": "Hub 01", "id": 2}'),
        _b64("[]"),
        _b64('["Hub 01", "2"]'),  # right shape, wrong types
        _b64("[2]"),  # a cursor of another list (by id only)
        _b64('["Hub 01", 2, 3]'),
        _b64('["Hub 01", 99999999999999999999999]'),  # would overflow the database's bigint
        _b64('["Hub\\u0000", 2]'),  # a NUL that PostgreSQL would refuse
        _b64('["\\ud800", 2]'),  # a lone surrogate that cannot be sent as UTF-8
        _b64('["Hub 01", true]'),
    ],
)
async def test_a_tampered_cursor_is_a_422_naming_the_cursor(
    client: TestClient, cursor: str
) -> None:
    await _make_hubs(3)
    response = await client.get("/api/v1/hubs", params={"cursor": cursor, "limit": "1"})
    body = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["cursor"]
    assert "cursor" in body["detail"]


async def test_a_cursor_with_a_flipped_character_is_refused(client: TestClient) -> None:
    await _make_hubs(3)
    first = await (await client.get("/api/v1/hubs", params={"limit": "1"})).json()
    cursor = first["next_cursor"]
    tampered = cursor[:2] + ("A" if cursor[2] != "A" else "B") + cursor[3:]
    response = await client.get("/api/v1/hubs", params={"cursor": tampered})
    body = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["cursor"]


async def test_list_hubs_accepts_the_largest_page_size(client: TestClient) -> None:
    await _make_hubs(2)
    response = await client.get("/api/v1/hubs", params={"limit": "100"})
    assert response.status == 200
    assert len((await response.json())["items"]) == 2


async def test_get_hub_shows_its_public_view(client: TestClient) -> None:
    hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 10, "de")
    await Hub.filter(id=hub.id).update(plugins=["convoys", "shoutbox"])
    response = await client.get("/api/v1/hubs/road-kings")
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["slug"] == "road-kings"
    assert body["name"] == "Road Kings"
    assert body["language"] == "de"
    assert body["members"] == 0
    assert body["plugins"] == ["shoutbox"]  # installed plugins only
    # Nothing operators keep private leaks into the public view.
    assert not {"guild_id", "owner_discord_id", "id", "settings", "active"} & set(body)


async def test_get_hub_shows_changes_at_once(client: TestClient) -> None:
    hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    assert (await (await client.get("/api/v1/hubs/road-kings")).json())["language"] == "en"
    await hubs.update_hub(SYSTEM, hub, HubUpdate(language="de"))
    assert (await (await client.get("/api/v1/hubs/road-kings")).json())["language"] == "de"


@pytest.mark.parametrize(
    "slug",
    [
        "ghost-riders",
        "Road-Kings",
        "road%20kings",
        "x%00y",
        "%3Cb%3E",
        "r%C3%B6ad",
        "a" * 300,
        "-x-",
    ],
)
async def test_unknown_hub_is_a_404_problem(client: TestClient, slug: str) -> None:
    await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    response = await client.get(f"/api/v1/hubs/{slug}")
    body = await problem_of(response, 404, "hub_not_found")
    assert body["detail"].startswith("There is no hub called ")


async def test_inactive_hub_is_a_404_problem(client: TestClient) -> None:
    await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    assert (await client.get("/api/v1/hubs/road-kings")).status == 200  # now cached
    await hubs.deactivate_guild(42)
    response = await client.get("/api/v1/hubs/road-kings")
    await problem_of(response, 404, "hub_not_found")


async def test_problem_detail_follows_accept_language(client: TestClient) -> None:
    german = await client.get("/api/v1/hubs/ghost-riders", headers={"Accept-Language": "de"})
    regional = await client.get(
        "/api/v1/hubs/ghost-riders", headers={"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"}
    )
    unknown = await client.get("/api/v1/hubs/ghost-riders", headers={"Accept-Language": "fr"})
    assert (await problem_of(german, 404, "hub_not_found"))["detail"] == (
        "Es gibt keinen Hub namens ghost-riders."
    )
    assert (await regional.json(content_type=None))["detail"].startswith("Es gibt keinen Hub")
    assert (await unknown.json(content_type=None))["detail"] == (
        "There is no hub called ghost-riders."
    )


async def test_changing_a_hub_needs_authentication(client: TestClient) -> None:
    hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    response = await client.patch("/api/v1/hubs/road-kings", json={"language": "de"})
    await problem_of(response, 401, None)
    assert (await Hub.get(id=hub.id)).language == "en"
    assert (await (await client.get("/api/v1/hubs/road-kings")).json())["language"] == "en"


async def test_authentication_is_checked_before_the_body(client: TestClient) -> None:
    await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    malformed = await client.patch(
        "/api/v1/hubs/road-kings", data="{", headers={"Content-Type": "application/json"}
    )
    unknown_hub = await client.patch("/api/v1/hubs/ghost-riders", json={"language": "xx"})
    await problem_of(malformed, 401, None)
    await problem_of(unknown_hub, 401, None)  # credentials first: nothing about the hub leaks


async def _bearer_for(discord_id: int) -> dict[str, str]:
    user = await User.create(username=f"u{discord_id}", discord_id=discord_id)
    pair = await auth.start_session(user, "discord")
    return {"Authorization": f"Bearer {pair.access_token}"}


async def test_the_owner_changes_a_hub_through_the_api(client: TestClient) -> None:
    await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    headers = await _bearer_for(10)
    response = await client.patch(
        "/api/v1/hubs/road-kings",
        json={"language": "de", "settings": {"description": "Convoys every Friday"}},
        headers=headers,
    )
    assert response.status == 200
    body = await response.json()
    assert (body["language"], body["description"]) == ("de", "Convoys every Friday")
    public = await (await client.get("/api/v1/hubs/road-kings")).json()
    assert public["language"] == "de"


async def test_a_member_without_manage_hub_is_refused(client: TestClient) -> None:
    await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    headers = await _bearer_for(11)
    response = await client.patch(
        "/api/v1/hubs/road-kings", json={"language": "de"}, headers=headers
    )
    await problem_of(response, 403, "missing_permission")


async def test_bad_settings_name_every_field(client: TestClient) -> None:
    await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    headers = await _bearer_for(10)
    response = await client.patch(
        "/api/v1/hubs/road-kings",
        json={"timezone": "Mars/Olympus", "plugins": {"nope": True}},
        headers=headers,
    )
    body = await problem_of(response, 422, "validation_failed")
    assert {e["field"] for e in body["errors"]} == {"timezone", "plugins"}
    assert "nope" in body["detail"]


async def test_turning_plugins_off_needs_a_recent_login(client: TestClient) -> None:
    hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    headers = await _bearer_for(10)
    await auth.Session.all().update(authenticated_at=auth.now().replace(year=2000))
    on = await client.patch(
        "/api/v1/hubs/road-kings", json={"plugins": {"shoutbox": True}}, headers=headers
    )
    assert on.status == 200
    off = await client.patch(
        "/api/v1/hubs/road-kings", json={"plugins": {"shoutbox": False}}, headers=headers
    )
    await problem_of(off, 403, "reauthentication_required")
    assert "shoutbox" in (await Hub.get(id=hub.id)).plugins  # still on


async def test_settings_history_and_revert(client: TestClient) -> None:
    await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    headers = await _bearer_for(10)
    base = "/api/v1/hubs/road-kings"
    await client.patch(base, json={"language": "de"}, headers=headers)
    await client.patch(
        base, json={"distance_unit": "mi", "timezone": "Europe/Berlin"}, headers=headers
    )
    history = await (await client.get(f"{base}/settings/history", headers=headers)).json()
    assert history["next_cursor"] is None
    newest, oldest = history["items"]
    assert newest["changes"]["distance_unit"] == {"before": "km", "after": "mi"}
    assert oldest["changes"]["language"] == {"before": "en", "after": "de"}
    reverted = await client.post(f"{base}/settings/history/{newest['id']}/revert", headers=headers)
    body = await reverted.json()
    assert (body["distance_unit"], body["timezone"], body["language"]) == ("km", "UTC", "de")
    again = await (await client.get(f"{base}/settings/history", headers=headers)).json()
    assert again["items"][0]["action"] == "hub.revert"


async def test_settings_history_pages_newest_first(client: TestClient) -> None:
    await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    headers = await _bearer_for(10)
    base = "/api/v1/hubs/road-kings"
    timezones = ["Europe/Berlin", "Europe/Paris", "Europe/Rome", "Europe/Oslo", "Asia/Tokyo"]
    for timezone in timezones:
        await client.patch(base, json={"timezone": timezone}, headers=headers)
    pages = await _walk(client, f"{base}/settings/history", headers, limit="2")
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    entries = [e for p in pages for e in p["items"]]
    assert [e["changes"]["timezone"]["after"] for e in entries] == timezones[::-1]
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    # A cursor of the hub list (name, id) does not fit this list (id only).
    await _make_hubs(2)
    hub_cursor = (await (await client.get("/api/v1/hubs", params={"limit": 1})).json())[
        "next_cursor"
    ]
    response = await client.get(
        f"{base}/settings/history", params={"cursor": hub_cursor}, headers=headers
    )
    body = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["cursor"]


async def test_history_needs_permission_and_changes_belong_to_their_hub(client: TestClient) -> None:
    await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    await hubs.ensure_hub_for_guild(43, "Night Owls", 20)
    owner, stranger = await _bearer_for(10), await _bearer_for(11)
    await client.patch("/api/v1/hubs/road-kings", json={"language": "de"}, headers=owner)
    refused = await client.get("/api/v1/hubs/road-kings/settings/history", headers=stranger)
    await problem_of(refused, 403, "missing_permission")
    entry = (
        await (await client.get("/api/v1/hubs/road-kings/settings/history", headers=owner)).json()
    )["items"][0]
    night_owner = await _bearer_for(20)
    foreign = await client.post(
        f"/api/v1/hubs/night-owls/settings/history/{entry['id']}/revert", headers=night_owner
    )
    await problem_of(foreign, 404, "change_not_found")


async def test_accept_language_weights_are_honoured(client: TestClient) -> None:
    response = await client.get(
        "/api/v1/hubs/ghost-riders", headers={"Accept-Language": "en;q=0.4, de;q=0.9, *;q=1"}
    )
    assert (await response.json(content_type=None))["detail"].startswith("Es gibt keinen Hub")


async def test_the_plugin_catalog_lists_installed_packages_in_the_callers_language(
    client: TestClient,
) -> None:
    response = await client.get("/api/v1/plugins", headers={"Accept-Language": "de"})
    assert response.status == 200
    body = await response.json()
    packages = {p["key"]: p for p in body["packages"]}
    assert packages["members"]["core"] is True
    assert packages["shoutbox"]["core"] is False
    assert packages["shoutbox"]["label"] == "Pinnwand"
    labels = {p["key"]: p["label"] for p in body["permissions"]}
    assert labels["manage_hub"] == "Hub-Einstellungen verwalten"
    assert "post_shouts" in labels


async def test_plugin_switches_take_true_or_false_only(client: TestClient) -> None:
    await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    headers = await _bearer_for(10)
    response = await client.patch(
        "/api/v1/hubs/road-kings", json={"plugins": {"shoutbox": "yes"}}, headers=headers
    )
    body = await problem_of(response, 422, "validation_failed")
    assert body["errors"][0]["field"] == "plugins.shoutbox"
    core = await client.patch(
        "/api/v1/hubs/road-kings", json={"plugins": {"members": False}}, headers=headers
    )
    body = await problem_of(core, 422, "validation_failed")
    assert body["errors"][0]["message"] == "members is a core package: it is always on"


async def test_a_packages_own_settings_are_validated_kept_and_shown_to_staff(
    client: TestClient,
) -> None:
    class BoardSettings(BaseModel):
        max_length: int = Field(default=200, ge=10, le=500)
        channel_id: int | None = None

    board = plugins.register(Package(key="board", label="Board", settings=BoardSettings))
    try:
        await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
        headers = await _bearer_for(10)
        url = "/api/v1/hubs/road-kings"
        bad = await client.patch(
            url, json={"plugin_settings": {"board": {"max_length": 5}}}, headers=headers
        )
        body = await problem_of(bad, 422, "validation_failed")
        assert "board.max_length" in body["detail"]
        unknown = await client.patch(url, json={"plugin_settings": {"nope": {}}}, headers=headers)
        await problem_of(unknown, 422, "validation_failed")
        for patch in ({"max_length": 300}, {"channel_id": 99}):
            ok = await client.patch(
                url, json={"plugin_settings": {"board": patch}}, headers=headers
            )
            assert ok.status == 200
        shown = await (await client.get(f"{url}/settings", headers=headers)).json()
        assert shown["plugins"]["board"] == {"max_length": 300, "channel_id": 99}
        hub = await hubs.get_hub("road-kings")
        assert plugins.settings_of(hub, "board") == BoardSettings(max_length=300, channel_id=99)
        public = await (await client.get(url)).json()
        assert "max_length" not in str(public)  # settings are for staff, not the public view
    finally:
        plugins.unregister(board.key)


async def test_hub_settings_need_manage_hub(client: TestClient) -> None:
    await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    headers = await _bearer_for(77)
    response = await client.get("/api/v1/hubs/road-kings/settings", headers=headers)
    await problem_of(response, 403, "missing_permission")


async def test_secret_package_settings_are_write_only_and_stored_encrypted(
    client: TestClient,
) -> None:
    class HookSettings(BaseModel):
        webhook_url: SecretStr | None = None
        username: str = "Drivers Hub"

    hook = plugins.register(Package(key="hook", label="Hook", settings=HookSettings))
    secret = "https://hooks.example.com/abc?token=s3cret"
    try:
        hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
        headers = await _bearer_for(10)
        url = "/api/v1/hubs/road-kings"
        for patch in ({"webhook_url": secret}, {"username": "Dispatch"}):
            changed = await client.patch(
                url, json={"plugin_settings": {"hook": patch}}, headers=headers
            )
            assert changed.status == 200
        raw = (await Hub.get(id=hub.id)).settings["plugins"]["hook"]
        assert secret not in str(raw)
        assert raw["username"] == "Dispatch"
        shown = await (await client.get(f"{url}/settings", headers=headers)).json()
        assert shown["plugins"]["hook"]["webhook_url"] == "********"
        history = await (await client.get(f"{url}/settings/history", headers=headers)).text()
        assert "s3cret" not in history
        settings = plugins.settings_of(await Hub.get(id=hub.id), "hook")
        assert settings.webhook_url.get_secret_value() == secret  # type: ignore[union-attr]
    finally:
        plugins.unregister(hook.key)
