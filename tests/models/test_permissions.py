"""The one authorization function: roles, linked Discord roles, hierarchy, owners, superusers."""

from __future__ import annotations

import pytest

from models import auth, hubs, members, plugins, users
from models.actor import SYSTEM, Actor
from models.errors import Forbidden, Unauthorized
from models.members import MemberRole, Role, lifecycle
from models.permissions import Permission, authorize, grant_of, permission_catalog


@pytest.fixture
async def hub() -> hubs.Hub:
    return await hubs.ensure_hub_for_guild(1, "Road Kings", owner_discord_id=100)


async def _member(hub: hubs.Hub, discord_id: int, *roles: Role, discord_roles=(), admin=False):
    user = await users.user_for_discord(discord_id, f"user{discord_id}")
    member = await members.sync_discord_state(hub.id, user, discord_roles, is_admin=admin)
    for role in roles:
        await MemberRole.create(member=member, role=role)
    return Actor(user.id, discord_id)


async def test_permission_from_a_role_given_in_the_hub(hub: hubs.Hub) -> None:
    staff = await Role.create(hub=hub, name="Staff", position=5, permissions=["manage_members"])
    actor = await _member(hub, 2, staff)
    await authorize(actor, hub, "manage_members")
    with pytest.raises(Forbidden) as refused:
        await authorize(actor, hub, Permission.MANAGE_HUB)
    assert refused.value.code == "missing_permission"


async def test_linked_discord_role_applies_and_stops_when_removed(hub: hubs.Hub) -> None:
    await Role.create(hub=hub, name="HR", permissions=["manage_roles"], discord_role_id=55)
    actor = await _member(hub, 2, discord_roles=[55])
    await authorize(actor, hub, "manage_roles")
    user = await users.User.get(discord_id=2)
    await members.sync_discord_state(hub.id, user, [], is_admin=False)
    with pytest.raises(Forbidden):
        await authorize(actor, hub, "manage_roles")


async def test_administrator_role_grants_everything_but_obeys_hierarchy(hub: hubs.Hub) -> None:
    admin_role = await Role.create(
        hub=hub, name="Admin", position=10, permissions=["administrator"]
    )
    actor = await _member(hub, 2, admin_role)
    await authorize(actor, hub, "driver")
    await authorize(actor, hub, "manage_roles", over_rank=9)
    with pytest.raises(Forbidden) as refused:
        await authorize(actor, hub, "manage_roles", over_rank=10)
    assert refused.value.code == "role_hierarchy"


async def test_discord_administrators_are_hub_administrators(hub: hubs.Hub) -> None:
    actor = await _member(hub, 2, admin=True)
    grant = await authorize(actor, hub, "manage_members", over_rank=1000)
    assert not grant.unrestricted


async def test_owner_and_superusers_may_do_everything(hub: hubs.Hub) -> None:
    owner = Actor(user_id=None, discord_id=100)
    assert (await grant_of(owner, hub)).unrestricted
    await authorize(SYSTEM, hub, "manage_roles", over_rank=10**9)
    superuser = await users.User.create(username="root", is_superuser=True)
    await authorize(Actor(superuser.id, is_superuser=True), hub, Permission.ADMINISTRATOR)


async def test_strangers_and_dismissed_members_hold_nothing(hub: hubs.Hub) -> None:
    staff = await Role.create(hub=hub, name="Staff", position=5, permissions=["manage_hub"])
    actor = await _member(hub, 2, staff)
    member = await members.Member.get(hub_id=hub.id, user__discord_id=2)
    await lifecycle.accept(SYSTEM, hub, member.id)
    await lifecycle.dismiss(SYSTEM, hub, member.id, "inactive")  # takes the hub's roles
    with pytest.raises(Forbidden):
        await authorize(actor, hub, Permission.MANAGE_HUB)
    with pytest.raises(Forbidden):
        await authorize(Actor(user_id=None, discord_id=999), hub, "driver")


async def test_roles_in_another_hub_do_not_count(hub: hubs.Hub) -> None:
    other = await hubs.ensure_hub_for_guild(2, "Night Owls", owner_discord_id=200)
    foreign = await Role.create(hub=other, name="Boss", permissions=["administrator"])
    actor = await _member(other, 2, foreign)
    await _member(hub, 2)
    with pytest.raises(Forbidden):
        await authorize(actor, hub, Permission.MANAGE_HUB)


async def test_visitors_keep_the_rights_of_their_roles(hub: hubs.Hub) -> None:
    staff = await Role.create(hub=hub, name="Staff", position=5, permissions=["manage_hub"])
    actor = await _member(hub, 2, staff)  # seen by the bot: a visitor, never accepted
    await authorize(actor, hub, Permission.MANAGE_HUB)
    await members.mark_left(hub.id, 2)  # left the server; the hub keeps their given role
    await authorize(actor, hub, Permission.MANAGE_HUB)


async def test_permissions_of_packages_that_are_not_installed_are_ignored(
    hub: hubs.Hub,
) -> None:
    # A role may still hold a permission of a plugin that was uninstalled: it grants nothing.
    old = await Role.create(hub=hub, name="Old", position=3, permissions=["manage_convoys"])
    actor = await _member(hub, 2, old)
    grant = await grant_of(actor, hub)
    assert grant.permissions == frozenset()
    with pytest.raises(Forbidden):
        await authorize(actor, hub, "manage_convoys")


def test_the_catalog_has_the_platforms_and_every_packages_permissions() -> None:
    catalog = permission_catalog()
    assert {"administrator", "manage_hub", "view_audit_log"} <= set(catalog)
    for package in plugins.packages():
        assert set(package.permissions) <= set(catalog), package.key


async def test_demoting_a_superuser_ends_their_sessions() -> None:
    root = await users.User.create(username="root", is_superuser=True)
    pair = await auth.start_session(root, "password")
    claims = auth.decode_access_token(pair.access_token)
    assert (await auth.actor_for(claims)).is_superuser
    await users.set_superuser(SYSTEM, "root", False)
    with pytest.raises(Unauthorized):
        await auth.actor_for(claims)  # the database decides, not the token's claims
    assert await auth.active_sessions(root.id) == []


async def test_superuser_power_comes_from_the_database_not_the_token() -> None:
    user = await users.User.create(username="mallory")
    pair = await auth.start_session(user, "password")
    claims = auth.decode_access_token(pair.access_token)
    forged = type(claims)(**{**claims.__dict__, "is_superuser": True})
    assert not (await auth.actor_for(forged)).is_superuser
