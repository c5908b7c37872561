"""Members as the bot records them from Discord."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise.exceptions import IntegrityError

from models import hubs, members, plugins, users
from models.actor import Actor
from models.cache import clear_cache


async def test_unchanged_presence_is_found_in_one_query_only_while_nothing_changed() -> None:
    hub = await hubs.ensure_hub_for_guild(77, "Road Kings", 10)
    user = await users.user_for_discord(555, "alice")
    await members.sync_discord_state(hub.id, user, [3, 1], is_admin=False)
    same = {
        "username": "alice",
        "avatar": "",
        "guild_name": "Road Kings",
        "owner_discord_id": 10,
        "role_ids": [1, 3],
        "is_admin": False,
    }
    found = await members.unchanged_presence(77, 555, **same)
    assert found is not None
    assert (found.user.id, found.hub.id) == (user.id, hub.id)
    for change in (
        {"username": "alicia"},
        {"guild_name": "Night Owls"},
        {"owner_discord_id": 11},
        {"role_ids": [1]},
        {"is_admin": True},
    ):
        assert await members.unchanged_presence(77, 555, **(same | change)) is None, change
    assert await members.unchanged_presence(78, 555, **same) is None  # another guild
    await members.mark_left(hub.id, 555)
    assert await members.unchanged_presence(77, 555, **same) is None  # must be reactivated


async def test_activity_in_a_hub_writes_last_seen_at_most_once_per_interval() -> None:
    hub = await hubs.ensure_hub_for_guild(77, "Road Kings", 10)
    user = await users.user_for_discord(555, "alice")
    member = await members.ensure_member(hub.id, user)
    assert member.last_seen_at is None
    actor = Actor(user.id, 555)
    await plugins.enter(actor, hub, "members", None, write=False)
    first = (await members.Member.get(id=member.id)).last_seen_at
    assert first is not None
    # Within the interval a second request writes nothing, even if the row looks stale.
    await members.Member.filter(id=member.id).update(last_seen_at=first - timedelta(hours=1))
    await plugins.enter(actor, hub, "members", None, write=False)
    assert (await members.Member.get(id=member.id)).last_seen_at == first - timedelta(hours=1)
    # Once the cache forgot the touch, the next request refreshes it.
    await clear_cache()
    await plugins.enter(actor, hub, "members", None, write=False)
    assert (await members.Member.get(id=member.id)).last_seen_at > first - timedelta(minutes=1)


async def test_a_first_visit_from_the_website_makes_a_visitor_staff_can_find() -> None:
    hub = await hubs.ensure_hub_for_guild(77, "Road Kings", 10)
    user = await users.User.create(username="Ärger")
    admin = await users.User.create(username="root", is_superuser=True)
    await plugins.enter(Actor(user.id), hub, "members", None, write=False)
    await plugins.enter(Actor(admin.id, is_superuser=True), hub, "members", None, write=False)
    visitor = await members.Member.get(hub_id=hub.id, user_id=user.id)
    assert (visitor.state, visitor.number, visitor.in_guild) == ("visitor", None, False)
    assert visitor.search_name == "ärger"
    assert not await members.Member.filter(hub_id=hub.id, user_id=admin.id).exists()


async def test_one_membership_per_user_and_hub_and_one_number_per_hub() -> None:
    # SQLite lost both unique constraints when 0005 rebuilt the table; 0008 restores them.
    hub = await hubs.ensure_hub_for_guild(77, "Road Kings", 10)
    alice = await users.user_for_discord(555, "alice")
    bob = await users.user_for_discord(556, "bob")
    await members.Member.create(hub_id=hub.id, user_id=alice.id, number=1)
    with pytest.raises(IntegrityError):
        await members.Member.create(hub_id=hub.id, user_id=alice.id)
    with pytest.raises(IntegrityError):
        await members.Member.create(hub_id=hub.id, user_id=bob.id, number=1)
