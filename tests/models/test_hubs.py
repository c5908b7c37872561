"""Hubs: created from guilds, unique slugs, settings with audit, public views."""

from __future__ import annotations

import asyncio

import pytest

from models import hubs
from models.actor import SYSTEM, Actor, Channel
from models.audit import AuditLog
from models.errors import Conflict, Forbidden, Invalid, NotFound, ReauthenticationRequired
from models.hubs import Hub, HubUpdate, slugify
from models.pagination import PageQuery, encode_cursor
from models.validation import validate


def test_slugify_makes_ascii_slugs_and_falls_back() -> None:
    assert slugify("Täst VTC!  Logistics", "x") == "tast-vtc-logistics"
    assert slugify("トラック", "hub-42") == "hub-42"


async def test_joining_a_guild_creates_a_hub_with_a_unique_slug() -> None:
    first = await hubs.ensure_hub_for_guild(1, "Road Kings", 10, "de")
    second = await hubs.ensure_hub_for_guild(2, "Road Kings", 20)
    assert (first.slug, second.slug) == ("road-kings", "road-kings-2")
    assert first.language == "de"
    assert await Hub.all().count() == 2


async def test_leaving_deactivates_and_rejoining_reactivates_keeping_data() -> None:
    hub = await hubs.ensure_hub_for_guild(1, "Road Kings", 10)
    await hubs.update_hub(SYSTEM, hub, HubUpdate(language="de"))
    await hubs.deactivate_guild(1)
    with pytest.raises(NotFound):
        await hubs.get_hub("road-kings")
    again = await hubs.ensure_hub_for_guild(1, "Road Kings Renamed", 10)
    assert again.id == hub.id
    assert (again.active, again.language, again.name) == (True, "de", "Road Kings Renamed")


async def test_reconcile_deactivates_only_missing_guilds_of_this_shard() -> None:
    for guild_id in (1 << 22, 2 << 22, 3 << 22):
        await hubs.ensure_hub_for_guild(guild_id, f"g{guild_id}", None)
    # Shard 0 of 2 serves even guild ids (>> 22); guild 2<<22 is gone, 1<<22 is another shard's.
    gone = await hubs.reconcile_guilds([], lambda g: (g >> 22) % 2 == 0)
    assert gone == 1
    active = set(await Hub.filter(active=True).values_list("guild_id", flat=True))
    assert active == {1 << 22, 3 << 22}


async def test_update_needs_manage_hub_and_is_audited() -> None:
    hub = await hubs.ensure_hub_for_guild(1, "Road Kings", 10)
    stranger = Actor(user_id=None, discord_id=99)
    with pytest.raises(Forbidden):
        await hubs.update_hub(stranger, hub, HubUpdate(language="de"))
    owner = Actor(user_id=None, discord_id=10, channel=Channel.DISCORD)
    # "convoys" stands for a plugin that was uninstalled: its key is kept, unused.
    await Hub.filter(id=hub.id).update(plugins=["convoys", "shoutbox"])
    hub = await Hub.get(id=hub.id)
    change = HubUpdate(
        distance_unit="mi", plugins={"shoutbox": False}, settings={"description": "Hi"}
    )
    await hubs.update_hub(owner, hub, change)
    hub = await Hub.get(id=hub.id)
    assert hub.distance_unit == "mi"
    assert hub.plugins == ["convoys"]
    assert not hub.has_plugin("convoys")
    assert hub.hub_settings.description == "Hi"
    entry = await AuditLog.get(hub_id=hub.id, action="hub.update")
    assert entry.details["distance_unit"] == {"before": "km", "after": "mi"}


def test_bad_settings_are_refused_with_every_field_named() -> None:
    with pytest.raises(Invalid) as caught:
        validate(HubUpdate, {"timezone": "Mars/Olympus", "language": "xx", "extra": 1})
    fields = {error["field"] for error in caught.value.params["errors"]}
    assert fields == {"timezone", "language", "extra"}


async def test_hub_view_is_cached_and_invalidated_on_update() -> None:
    hub = await hubs.ensure_hub_for_guild(1, "Road Kings", 10)
    assert (await hubs.hub_view("road-kings"))["language"] == "en"
    await Hub.filter(id=hub.id).update(language="de")  # behind the domain's back: still cached
    assert (await hubs.hub_view("road-kings"))["language"] == "en"
    await hubs.update_hub(SYSTEM, hub, HubUpdate(distance_unit="mi"))
    assert (await hubs.hub_view("road-kings"))["distance_unit"] == "mi"


async def test_public_list_is_paginated_and_hides_private_and_inactive_hubs() -> None:
    for i in range(5):
        await hubs.ensure_hub_for_guild(i + 1, f"Hub {i}", None)
    await Hub.filter(guild_id=1).update(public=False)
    await hubs.deactivate_guild(2)
    first = await hubs.list_public_hubs(PageQuery(limit=2))
    assert [h.name for h in first.items] == ["Hub 2", "Hub 3"]
    last = await hubs.list_public_hubs(PageQuery(limit=2, cursor=first.next_cursor))
    assert ([h.name for h in last.items], last.next_cursor) == (["Hub 4"], None)


async def test_a_cursor_survives_the_row_it_points_at_going_away() -> None:
    for i in range(4):
        await hubs.ensure_hub_for_guild(i + 1, f"Hub {i}", None)
    first = await hubs.list_public_hubs(PageQuery(limit=2))
    await hubs.deactivate_guild(2)  # "Hub 1", the last row of the first page
    rest = await hubs.list_public_hubs(PageQuery(limit=2, cursor=first.next_cursor))
    assert [h.name for h in rest.items] == ["Hub 2", "Hub 3"]


async def test_settings_history_pages_newest_first() -> None:
    hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    for unit in ["mi", "km", "mi"]:
        await hubs.update_hub(SYSTEM, hub, HubUpdate(distance_unit=unit))
    first = await hubs.settings_history(SYSTEM, hub, PageQuery(limit=2))
    rest = await hubs.settings_history(SYSTEM, hub, PageQuery(limit=2, cursor=first.next_cursor))
    entries = [*first.items, *rest.items]
    assert [e.changes["distance_unit"]["after"] for e in entries] == ["mi", "km", "mi"]
    assert [e.id for e in entries] == sorted((e.id for e in entries), reverse=True)
    assert rest.next_cursor is None
    with pytest.raises(Invalid) as refused:
        await hubs.settings_history(SYSTEM, hub, PageQuery(cursor=encode_cursor(["Hub", 1])))
    assert [e["field"] for e in refused.value.params["errors"]] == ["cursor"]


async def test_create_hub_is_for_operators_and_checks_the_slug() -> None:
    with pytest.raises(Forbidden):
        await hubs.create_hub(Actor(user_id=1), "X")
    with pytest.raises(Invalid):
        await hubs.create_hub(SYSTEM, "X", slug="Bad Slug")
    hub = await hubs.create_hub(SYSTEM, "Night Owls")
    assert hub.slug == "night-owls"
    assert hub.guild_id is None


async def test_a_guild_named_like_a_site_route_gets_another_slug() -> None:
    api = await hubs.ensure_hub_for_guild(1, "API", 10)
    second = await hubs.ensure_hub_for_guild(2, "api", 20)
    login = await hubs.create_hub(SYSTEM, "Login")
    slugs = [api.slug, second.slug, login.slug]
    assert slugs == ["api-hub", "api-hub-2", "login-hub"]
    assert not set(slugs) & hubs.RESERVED_SLUGS


@pytest.mark.parametrize("slug", ["login", "api", "admin", "www"])
async def test_create_hub_refuses_a_reserved_slug(slug: str) -> None:
    with pytest.raises(Invalid) as refused:
        await hubs.create_hub(SYSTEM, "Anything", slug=slug)
    assert refused.value.code == "reserved_slug"
    assert not await Hub.filter(slug=slug).exists()


async def test_create_hub_refuses_a_taken_slug_instead_of_adding_a_suffix() -> None:
    await hubs.create_hub(SYSTEM, "Night Owls")
    for name, slug in (("Night  Owls!", None), ("Other", "night-owls")):
        with pytest.raises(Conflict) as refused:
            await hubs.create_hub(SYSTEM, name, slug=slug)
        assert (refused.value.code, refused.value.params) == ("slug_taken", {"slug": "night-owls"})
    assert await Hub.all().values_list("slug", flat=True) == ["night-owls"]


async def test_create_hub_names_the_slug_it_tried_for_a_site_route_name() -> None:
    await hubs.create_hub(SYSTEM, "Login")
    with pytest.raises(Conflict) as refused:
        await hubs.create_hub(SYSTEM, "login")
    assert refused.value.params == {"slug": "login-hub"}
    assert await Hub.filter(slug__startswith="login").count() == 1


async def test_two_concurrent_creates_of_one_slug_make_one_hub() -> None:
    results = await asyncio.gather(
        hubs.create_hub(SYSTEM, "Night Owls"),
        hubs.create_hub(SYSTEM, "Night Owls"),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, Conflict)]
    assert [r.code for r in refused] == ["slug_taken"], results
    assert await Hub.filter(slug__startswith="night-owls").count() == 1


async def test_a_guild_still_gets_a_suffix_when_an_operator_hub_has_its_name() -> None:
    await hubs.create_hub(SYSTEM, "Road Kings")
    guild_hub = await hubs.ensure_hub_for_guild(1, "Road Kings", 10)
    assert guild_hub.slug == "road-kings-2"


async def test_turning_a_plugin_off_needs_a_recent_login_in_the_domain() -> None:
    # No permissive default: an actor whose last login is unknown is not recent.
    hub = await hubs.ensure_hub_for_guild(1, "Road Kings", 10)
    await Hub.filter(id=hub.id).update(plugins=["shoutbox"])
    hub = await Hub.get(id=hub.id)
    stale = Actor(user_id=None, discord_id=10, channel=Channel.SESSION)
    with pytest.raises(ReauthenticationRequired):
        await hubs.update_hub(stale, hub, HubUpdate(plugins={"shoutbox": False}))
    await hubs.update_hub(stale, hub, HubUpdate(plugins={"shoutbox": True}))  # not destructive
    assert (await Hub.get(id=hub.id)).plugins == ["shoutbox"]
