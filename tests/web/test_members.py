"""The members API: directory and profiles, membership, notes, bans, roles and the audit log."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from models import auth, hubs, members
from models.actor import SYSTEM
from models.audit import AuditLog
from models.discord_actions import ActionKind, ActionStatus, DiscordAction
from models.hubs import Hub
from models.members import lifecycle, roles
from models.members.bans import BanInput, ban
from models.members.roles import RoleInput
from models.members.tables import Ban, Member, MemberRole, MembershipChange, MemberState, Role
from models.users import User
from tests.web.conftest import problem_of

API = "/api/v1/hubs"
OWNER_DISCORD_ID = 10
STAFF_PERMISSIONS = ["manage_members", "ban_members", "manage_roles", "view_audit_log"]
MAX_ID = 2**63 - 1
Headers = dict[str, str]


# The world: a hub, its owner, staff (a visitor holding a role) and people


async def _hub(guild_id: int = 42, name: str = "Road Kings", owner: int = OWNER_DISCORD_ID) -> Hub:
    return await hubs.ensure_hub_for_guild(guild_id, name, owner)


async def _headers(user: User) -> Headers:
    pair = await auth.start_session(user, "discord")
    return {"Authorization": f"Bearer {pair.access_token}"}


async def _person(hub: Hub, name: str, discord_id: int | None = None, **fields: Any) -> Member:
    """A visitor of the hub (with their user loaded)."""
    user = await User.create(username=name, discord_id=discord_id, **fields)
    member = await members.ensure_member(hub.id, user)
    return await Member.get(id=member.id).select_related("user")


async def _member(hub: Hub, name: str, discord_id: int | None = None, **fields: Any) -> Member:
    """An accepted member."""
    person = await _person(hub, name, discord_id, **fields)
    accepted, _signal = await lifecycle.accept(SYSTEM, hub, person.id)
    return accepted


async def _role(hub: Hub, name: str, position: int, permissions: list[str] | None = None, **kw):
    data = RoleInput(name=name, position=position, permissions=permissions or [], **kw)
    return await roles.create_role(SYSTEM, hub, data)


async def _staff(
    hub: Hub, name: str = "sam", discord_id: int = 77, position: int = 10
) -> tuple[Member, Headers]:
    """A visitor holding a staff role at `position`: roles count whatever the state."""
    person = await _person(hub, name, discord_id)
    role = await _role(hub, f"Staff {name}", position, STAFF_PERMISSIONS)
    await roles.give_role(SYSTEM, hub, person.id, role.id)
    return person, await _headers(person.user)


async def _owner(hub: Hub) -> Headers:
    user = await User.get_or_none(discord_id=hub.owner_discord_id)
    if user is None:
        user = await User.create(username=f"owner{hub.id}", discord_id=hub.owner_discord_id)
    return await _headers(user)


@dataclass
class Hubs:
    a: Hub
    b: Hub


async def _walk(client: TestClient, url: str, headers: Headers, **params: str) -> list[dict]:
    """Every page of a list, following next_cursor until it is null."""
    pages: list[dict] = []
    cursor: str | None = None
    while not pages or cursor is not None:
        query = params | ({"cursor": cursor} if cursor else {})
        response = await client.get(url, params=query, headers=headers)
        assert response.status == 200, await response.text()
        pages.append(await response.json())
        cursor = pages[-1]["next_cursor"]
    return pages


# The directory and profiles


async def test_the_directory_lists_members_with_their_roles(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    await _person(hub, "victor")  # a visitor: not in the directory by default
    driver = await _role(hub, "Driver", 3, ["driver"])
    await roles.give_role(SYSTEM, hub, alice.id, driver.id)
    _sam, staff = await _staff(hub)
    response = await client.get(f"{API}/road-kings/members", headers=staff)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert [(m["name"], m["number"]) for m in body["items"]] == [("alice", 1)]
    assert [r["name"] for r in body["items"][0]["roles"]] == ["Driver"]
    visitors = await client.get(
        f"{API}/road-kings/members", params={"state": "visitor"}, headers=staff
    )
    assert {m["name"] for m in (await visitors.json())["items"]} == {"victor", "sam"}


async def test_directory_search_folds_case_for_non_ascii_names(client: TestClient) -> None:
    hub = await _hub()
    for name in ("Ärger", "ÄRGER", "Arger", "Berger"):
        await _member(hub, name)
    headers = await _owner(hub)
    found = await client.get(f"{API}/road-kings/members", params={"q": "ärger"}, headers=headers)
    assert found.status == 200
    assert sorted(m["name"] for m in (await found.json())["items"]) == ["ÄRGER", "Ärger"]


async def test_directory_finds_a_member_by_number_and_by_discord_id(client: TestClient) -> None:
    hub = await _hub()
    for i, name in enumerate(("anna", "bert", "cleo")):
        await _member(hub, name, discord_id=555_000_000_000_000_001 + i)
    headers = await _owner(hub)
    url = f"{API}/road-kings/members"
    by_number = await (await client.get(url, params={"q": "#3"}, headers=headers)).json()
    assert [m["name"] for m in by_number["items"]] == ["cleo"]
    by_id = await client.get(url, params={"q": "555000000000000002"}, headers=headers)
    assert [m["name"] for m in (await by_id.json())["items"]] == ["bert"]


async def test_directory_pages_with_a_cursor(client: TestClient) -> None:
    hub = await _hub()
    names = ["emma", "dave", "carl", "bea", "adam"]
    for name in names:
        await _member(hub, name)
    pages = await _walk(client, f"{API}/road-kings/members", await _owner(hub), limit="2")
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert [m["name"] for p in pages for m in p["items"]] == sorted(names)


async def test_profile_hides_connections_from_other_members_when_private_but_staff_see_them(
    client: TestClient,
) -> None:
    hub = await _hub()
    bob = await _member(
        hub, "bob", discord_id=501, steam_id=76561198000000001, privacy={"show_connections": False}
    )
    carol = await _member(hub, "carol", discord_id=502)
    _sam, staff = await _staff(hub)
    url = f"{API}/road-kings/members/{bob.id}"
    as_member = await (await client.get(url, headers=await _headers(carol.user))).json()
    assert as_member["connections"] is None
    assert as_member["staff"] is None
    as_staff = await (await client.get(url, headers=staff)).json()
    assert as_staff["connections"] == {
        "discord_id": "501",
        "steam_id": "76561198000000001",
        "truckersmp_id": None,
    }
    assert as_staff["staff"]["last_change"] == "accepted"
    mine = await client.get(f"{API}/road-kings/members/@me", headers=await _headers(bob.user))
    assert (await mine.json())["connections"]["discord_id"] == "501"


async def test_a_stranger_cannot_read_the_directory_but_becomes_a_visitor(
    client: TestClient,
) -> None:
    hub = await _hub()
    await _member(hub, "first")
    stranger = await User.create(username="eve")
    response = await client.get(f"{API}/road-kings/members", headers=await _headers(stranger))
    await problem_of(response, 403, "not_a_member")
    # The visit recorded them as a visitor: staff can find and accept them; they see their own
    # row, but no one else's.
    mine = await client.get(f"{API}/road-kings/members/@me", headers=await _headers(stranger))
    assert mine.status == 200, await mine.text()
    assert ((await mine.json())["state"], (await mine.json())["number"]) == ("visitor", None)
    first = await Member.get(hub_id=hub.id, number=1)
    other = await client.get(
        f"{API}/road-kings/members/{first.id}", headers=await _headers(stranger)
    )
    await problem_of(other, 403, "not_a_member")


async def test_asking_for_your_own_row_first_records_the_visit(client: TestClient) -> None:
    hub = await _hub()
    newcomer = await User.create(username="nina")
    mine = await client.get(f"{API}/road-kings/members/@me", headers=await _headers(newcomer))
    assert mine.status == 200, await mine.text()
    assert (await mine.json())["state"] == "visitor"
    assert await Member.filter(hub_id=hub.id, user_id=newcomer.id).count() == 1


# Membership


async def test_staff_accept_a_visitor_who_gets_the_next_number(client: TestClient) -> None:
    hub = await _hub()
    await _member(hub, "first")
    victor = await _person(hub, "victor")
    _sam, staff = await _staff(hub)
    response = await client.post(
        f"{API}/road-kings/members/{victor.id}/accept", json={"reason": "passed"}, headers=staff
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["state"], body["number"], body["name"]) == ("member", 2, "victor")
    change = await MembershipChange.get(member_id=victor.id)
    assert (change.action, change.reason) == ("accepted", "passed")
    assert await AuditLog.filter(hub_id=hub.id, action="members.accepted").count() == 2
    again = await client.post(f"{API}/road-kings/members/{victor.id}/accept", headers=staff)
    await problem_of(again, 409, "already_member")


async def test_accepting_again_restores_the_number_or_gives_a_fresh_one(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    await _member(hub, "bert")
    headers = await _owner(hub)
    url = f"{API}/road-kings/members/{alice.id}"
    for mode, number in (("restore", 1), ("fresh", 3)):
        gone = await client.post(f"{url}/dismiss", json={"reason": "inactive"}, headers=headers)
        assert (await gone.json())["state"] == "dismissed"
        back = await client.post(f"{url}/accept", json={"mode": mode}, headers=headers)
        assert (await back.json())["number"] == number
    actions = await MembershipChange.filter(member_id=alice.id).order_by("id")
    assert [c.action for c in actions] == [
        "accepted",
        "dismissed",
        "restored",
        "dismissed",
        "accepted",
    ]


async def test_a_banned_identity_cannot_be_accepted(client: TestClient) -> None:
    hub = await _hub()
    victor = await _person(hub, "victor", discord_id=600)
    await ban(SYSTEM, hub, BanInput(discord_id=600))
    response = await client.post(
        f"{API}/road-kings/members/{victor.id}/accept", headers=await _owner(hub)
    )
    body = await problem_of(response, 409, "member_banned")
    assert body["detail"] == "victor is banned from this hub."


async def test_dismissal_ends_the_membership_and_takes_the_roles(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    driver = await _role(hub, "Driver", 3, ["driver"])
    await roles.give_role(SYSTEM, hub, alice.id, driver.id)
    _sam, staff = await _staff(hub)
    url = f"{API}/road-kings/members/{alice.id}/dismiss"
    response = await client.post(url, json={"reason": "inactive for months"}, headers=staff)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["state"], body["number"]) == ("dismissed", 1)
    assert body["ended_at"] is not None
    assert not await MemberRole.filter(member_id=alice.id).exists()
    change = await MembershipChange.filter(member_id=alice.id).order_by("-id").first()
    assert (change.action, change.reason) == ("dismissed", "inactive for months")
    twice = await client.post(url, json={"reason": "again"}, headers=staff)
    await problem_of(twice, 409, "not_a_member")


async def test_dismissal_needs_a_reason(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    url = f"{API}/road-kings/members/{alice.id}/dismiss"
    for body in ({}, {"reason": "   "}):
        response = await client.post(url, json=body, headers=await _owner(hub))
        problem = await problem_of(response, 422, "validation_failed")
        assert [e["field"] for e in problem["errors"]] == ["reason"]
    assert (await Member.get(id=alice.id)).state == MemberState.MEMBER


async def test_staff_cannot_dismiss_someone_at_their_own_rank(client: TestClient) -> None:
    hub = await _hub()
    peer, _peer_headers = await _staff(hub, "peer", 78, position=10)
    _sam, staff = await _staff(hub, "sam", 77, position=10)
    response = await client.post(
        f"{API}/road-kings/members/{peer.id}/dismiss", json={"reason": "x"}, headers=staff
    )
    await problem_of(response, 403, "role_hierarchy")


async def test_a_member_resigns_only_when_confirming(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    headers = await _headers(alice.user)
    unconfirmed = await client.post(
        f"{API}/road-kings/resign", json={"confirm": False}, headers=headers
    )
    await problem_of(unconfirmed, 422, "confirmation_required")
    assert (await Member.get(id=alice.id)).state == MemberState.MEMBER
    response = await client.post(
        f"{API}/road-kings/resign", json={"confirm": True, "reason": "moving on"}, headers=headers
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["state"] == "resigned"
    again = await client.post(f"{API}/road-kings/resign", json={"confirm": True}, headers=headers)
    await problem_of(again, 409, "not_a_member")


async def test_staff_set_a_join_date_in_the_past_only(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    victor = await _person(hub, "victor")
    _sam, staff = await _staff(hub)
    url = f"{API}/road-kings/members/{alice.id}/join-date"
    response = await client.put(url, json={"joined_at": "2019-03-01T12:00:00Z"}, headers=staff)
    assert response.status == 200, await response.text()
    assert (await Member.get(id=alice.id)).joined_at == datetime(2019, 3, 1, 12, tzinfo=UTC)
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    ahead = await client.put(url, json={"joined_at": future}, headers=staff)
    await problem_of(ahead, 422, "future_join_date")
    naive = await client.put(url, json={"joined_at": "2019-03-01T12:00:00"}, headers=staff)
    problem = await problem_of(naive, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["joined_at"]
    visitor = await client.put(
        f"{API}/road-kings/members/{victor.id}/join-date",
        json={"joined_at": "2019-03-01T12:00:00Z"},
        headers=staff,
    )
    await problem_of(visitor, 409, "not_a_member")


async def test_history_is_for_staff_and_the_member_themselves(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    bert = await _member(hub, "bert")
    _sam, staff = await _staff(hub)
    own = await client.get(
        f"{API}/road-kings/members/@me/history", headers=await _headers(alice.user)
    )
    assert [e["action"] for e in (await own.json())["items"]] == ["accepted"]
    url = f"{API}/road-kings/members/{alice.id}/history"
    other = await client.get(url, headers=await _headers(bert.user))
    await problem_of(other, 403, "missing_permission")
    as_staff = await (await client.get(url, headers=staff)).json()
    assert as_staff["items"][0]["details"] == {"number": 1}


# Staff notes


async def test_staff_keep_notes_on_a_member(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    sam, staff = await _staff(hub)
    url = f"{API}/road-kings/members/{alice.id}/notes"
    created = await client.post(url, json={"text": "Great at convoys.\nTalkative."}, headers=staff)
    assert created.status == 201, await created.text()
    note = await created.json()
    assert (note["text"], note["author_id"], note["member_id"]) == (
        "Great at convoys.\nTalkative.",
        sam.user_id,
        alice.id,
    )
    listed = await (await client.get(url, headers=staff)).json()
    assert [n["id"] for n in listed["items"]] == [note["id"]]
    edited = await client.patch(
        f"{API}/road-kings/notes/{note['id']}", json={"text": "Leads convoys."}, headers=staff
    )
    assert (await edited.json())["text"] == "Leads convoys."
    hidden = await client.get(url, headers=await _headers(alice.user))
    await problem_of(hidden, 403, "missing_permission")
    deleted = await client.delete(f"{API}/road-kings/notes/{note['id']}", headers=staff)
    assert deleted.status == 204
    assert (await (await client.get(url, headers=staff)).json())["items"] == []
    actions = await AuditLog.filter(hub_id=hub.id, action__startswith="members.note").order_by("id")
    assert [a.action for a in actions] == [
        "members.note_added",
        "members.note_edited",
        "members.note_deleted",
    ]


async def test_a_note_over_2000_characters_is_422_naming_the_text(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    headers = await _owner(hub)
    response = await client.post(
        f"{API}/road-kings/members/{alice.id}/notes", json={"text": "x" * 2001}, headers=headers
    )
    problem = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["text"]
    assert "2000" in problem["errors"][0]["message"]
    fits = await client.post(
        f"{API}/road-kings/members/{alice.id}/notes", json={"text": "x" * 2000}, headers=headers
    )
    assert fits.status == 201


# Bans


async def test_a_ban_ends_the_membership_and_is_listed_until_lifted(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice", discord_id=600)
    _sam, staff = await _staff(hub)
    created = await client.post(
        f"{API}/road-kings/bans",
        json={"discord_id": 600, "reason": "cheating"},
        headers=staff,
    )
    assert created.status == 201, await created.text()
    record = await created.json()
    assert (record["discord_id"], record["reason"], record["source"]) == ("600", "cheating", "hub")
    assert (await Member.get(id=alice.id)).state == MemberState.BANNED
    listed = await (await client.get(f"{API}/road-kings/bans", headers=staff)).json()
    assert [b["id"] for b in listed["items"]] == [record["id"]]
    one = await client.get(f"{API}/road-kings/bans/{record['id']}", headers=staff)
    assert (await one.json())["lifted_at"] is None
    lifted = await client.delete(f"{API}/road-kings/bans/{record['id']}", headers=staff)
    assert lifted.status == 200
    assert (await lifted.json())["lifted_at"] is not None
    assert (await Member.get(id=alice.id)).state == MemberState.DISMISSED
    in_force = await (await client.get(f"{API}/road-kings/bans", headers=staff)).json()
    assert in_force["items"] == []
    every = await client.get(f"{API}/road-kings/bans", params={"lifted": "true"}, headers=staff)
    assert [b["id"] for b in (await every.json())["items"]] == [record["id"]]
    again = await client.delete(f"{API}/road-kings/bans/{record['id']}", headers=staff)
    await problem_of(again, 409, "ban_lifted")


async def test_a_ban_without_an_identity_is_422(client: TestClient) -> None:
    _sam, staff = await _staff(await _hub())
    response = await client.post(f"{API}/road-kings/bans", json={"reason": "x"}, headers=staff)
    await problem_of(response, 422, "validation_failed")
    assert not await Ban.exists()


async def test_banning_yourself_is_409_self_ban(client: TestClient) -> None:
    hub = await _hub()
    _sam, staff = await _staff(hub, discord_id=77)
    response = await client.post(f"{API}/road-kings/bans", json={"discord_id": 77}, headers=staff)
    await problem_of(response, 409, "self_ban")
    assert not await Ban.exists()


async def test_banning_the_hub_owner_is_409_owner_protected(client: TestClient) -> None:
    hub = await _hub()
    _sam, staff = await _staff(hub)
    response = await client.post(
        f"{API}/road-kings/bans", json={"discord_id": OWNER_DISCORD_ID}, headers=staff
    )
    await problem_of(response, 409, "owner_protected")
    assert not await Ban.exists()


async def test_members_without_ban_members_cannot_list_bans(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    response = await client.get(f"{API}/road-kings/bans", headers=await _headers(alice.user))
    body = await problem_of(response, 403, "missing_permission")
    assert body["permission"] == "ban_members"


# Roles


async def test_staff_create_edit_and_delete_roles(client: TestClient) -> None:
    hub = await _hub()
    _sam, staff = await _staff(hub, position=10)
    created = await client.post(
        f"{API}/road-kings/roles",
        json={"name": "Driver", "position": 3, "color": 0x00FF00, "permissions": ["ban_members"]},
        headers=staff,
    )
    assert created.status == 201, await created.text()
    role = await created.json()
    assert (role["name"], role["position"], role["permissions"]) == ("Driver", 3, ["ban_members"])
    listed = await (await client.get(f"{API}/road-kings/roles", headers=staff)).json()
    assert [r["name"] for r in listed["items"]] == ["Staff sam", "Driver"]
    edited = await client.patch(
        f"{API}/road-kings/roles/{role['id']}",
        json={"name": "Senior Driver", "discord_role_id": 900},
        headers=staff,
    )
    assert edited.status == 200, await edited.text()
    assert (await edited.json())["discord_role_id"] == "900"
    assert (await Role.get(id=role["id"])).name == "Senior Driver"
    taken = await client.post(
        f"{API}/road-kings/roles", json={"name": "Senior Driver", "position": 2}, headers=staff
    )
    await problem_of(taken, 409, "role_name_taken")
    deleted = await client.delete(f"{API}/road-kings/roles/{role['id']}", headers=staff)
    assert deleted.status == 204
    assert not await Role.filter(id=role["id"]).exists()


async def test_staff_cannot_grant_a_permission_they_do_not_hold(client: TestClient) -> None:
    hub = await _hub()
    _sam, staff = await _staff(hub)
    response = await client.post(
        f"{API}/road-kings/roles",
        json={"name": "Admin", "position": 2, "permissions": ["administrator"]},
        headers=staff,
    )
    await problem_of(response, 403, "permission_not_held")


async def test_the_last_role_that_manages_roles_cannot_be_deleted_409(client: TestClient) -> None:
    hub = await _hub()
    admins = await _role(hub, "Admins", 50, ["manage_roles"])
    headers = await _owner(hub)
    refused = await client.delete(f"{API}/road-kings/roles/{admins.id}", headers=headers)
    await problem_of(refused, 409, "last_manager_role")
    assert await Role.filter(id=admins.id).exists()
    await _role(hub, "Managers", 40, ["administrator"])
    deleted = await client.delete(f"{API}/road-kings/roles/{admins.id}", headers=headers)
    assert deleted.status == 204


async def test_staff_give_and_take_a_role(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    driver = await _role(hub, "Driver", 3, ["driver"])
    _sam, staff = await _staff(hub)
    url = f"{API}/road-kings/members/{alice.id}/roles/{driver.id}"
    given = await client.put(url, json={"reason": "passed the test"}, headers=staff)
    assert given.status == 204, await given.text()
    assert await MemberRole.filter(member_id=alice.id, role_id=driver.id).exists()
    profile = await (await client.get(f"{API}/road-kings/members/{alice.id}", headers=staff)).json()
    assert [r["name"] for r in profile["roles"]] == ["Driver"]
    twice = await client.put(url, headers=staff)  # no body: no reason
    await problem_of(twice, 409, "role_already_given")
    taken = await client.delete(url, headers=staff)
    assert taken.status == 204
    assert not await MemberRole.filter(member_id=alice.id).exists()
    change = await MembershipChange.filter(member_id=alice.id, action="role_given").get()
    assert change.reason == "passed the test"
    again = await client.delete(url, headers=staff)
    await problem_of(again, 409, "role_not_given")


async def test_giving_a_role_at_or_above_your_own_highest_is_403_role_hierarchy(
    client: TestClient,
) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    peer = await _role(hub, "Peer", 10)
    boss = await _role(hub, "Boss", 20)
    driver = await _role(hub, "Driver", 9)
    _sam, staff = await _staff(hub, position=10)
    for role in (peer, boss):
        response = await client.put(
            f"{API}/road-kings/members/{alice.id}/roles/{role.id}", headers=staff
        )
        await problem_of(response, 403, "role_hierarchy")
    assert not await MemberRole.filter(member_id=alice.id).exists()
    below = await client.put(
        f"{API}/road-kings/members/{alice.id}/roles/{driver.id}", headers=staff
    )
    assert below.status == 204


async def test_giving_a_linked_role_queues_a_discord_action_and_give_then_take_cancels_out(
    client: TestClient,
) -> None:
    hub = await _hub(guild_id=42)
    alice = await _member(hub, "alice", discord_id=555)
    linked = await _role(hub, "Driver", 3, ["driver"], discord_role_id=900)
    _sam, staff = await _staff(hub)
    url = f"{API}/road-kings/members/{alice.id}/roles/{linked.id}"
    role_kinds = [ActionKind.ADD_ROLE, ActionKind.REMOVE_ROLE]
    assert (await client.put(url, headers=staff)).status == 204
    queued = await DiscordAction.filter(kind__in=role_kinds)
    assert [(a.kind, a.guild_id, a.discord_user_id, a.role_id, a.status) for a in queued] == [
        (ActionKind.ADD_ROLE, 42, 555, 900, ActionStatus.PENDING)
    ]
    assert (await client.delete(url, headers=staff)).status == 204
    pending = DiscordAction.filter(kind__in=role_kinds, status=ActionStatus.PENDING)
    assert await pending.count() == 0  # the bot makes no Discord call at all
    assert (await DiscordAction.get(id=queued[0].id)).status == ActionStatus.CANCELLED


# The audit log


async def test_the_audit_log_lists_staff_actions_filtered(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    sam, staff = await _staff(hub)
    await client.post(
        f"{API}/road-kings/members/{alice.id}/dismiss", json={"reason": "x"}, headers=staff
    )
    url = f"{API}/road-kings/audit-log"
    everything = await (await client.get(url, headers=staff)).json()
    assert everything["items"][0]["action"] == "members.dismissed"
    mine = await client.get(url, params={"actor": str(sam.user_id)}, headers=staff)
    assert [e["action"] for e in (await mine.json())["items"]] == ["members.dismissed"]
    roles_only = await client.get(url, params={"action": "roles."}, headers=staff)
    assert {e["action"] for e in (await roles_only.json())["items"]} == {"roles.created"}
    refused = await client.get(url, headers=await _headers(alice.user))
    await problem_of(refused, 403, "missing_permission")


# Bad input


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/members/{id}/dismiss", {"reason": "x" * 501}),
        ("POST", "/bans", {"discord_id": 600, "reason": "x" * 501}),
        ("PUT", "/members/{id}/roles/{role}", {"reason": "x" * 501}),
    ],
    ids=["dismiss", "ban", "give_role"],
)
async def test_reasons_over_500_characters_are_422_naming_the_reason(
    client: TestClient, method: str, path: str, body: dict[str, Any]
) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice", discord_id=600)
    driver = await _role(hub, "Driver", 3)
    _sam, staff = await _staff(hub)
    url = f"{API}/road-kings" + path.format(id=alice.id, role=driver.id)
    response = await client.request(method, url, json=body, headers=staff)
    problem = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["reason"]
    assert "500" in problem["errors"][0]["message"]
    after = await Member.get(id=alice.id)
    assert after.state == MemberState.MEMBER
    assert not await MemberRole.filter(member_id=alice.id).exists()
    assert not await Ban.exists()


ID_ROUTES = [
    ("GET", "/members/{}", "member_not_found"),
    ("POST", "/members/{}/accept", "member_not_found"),
    ("GET", "/members/{}/history", "member_not_found"),
    ("GET", "/members/{}/notes", "member_not_found"),
    ("PATCH", "/notes/{}", "note_not_found"),
    ("DELETE", "/notes/{}", "note_not_found"),
    ("GET", "/bans/{}", "ban_not_found"),
    ("DELETE", "/bans/{}", "ban_not_found"),
    ("PATCH", "/roles/{}", "role_not_found"),
    ("DELETE", "/roles/{}", "role_not_found"),
]


@pytest.mark.parametrize(("method", "path", "code"), ID_ROUTES)
async def test_unknown_and_malformed_ids_are_404(
    client: TestClient, method: str, path: str, code: str
) -> None:
    hub = await _hub()
    headers = await _owner(hub)
    for bad in (str(MAX_ID), "424242", "abc", "0", "01", "-1"):
        body = {"text": "x"} if path.startswith("/notes") else {"name": "x"}
        response = await client.request(
            method,
            f"{API}/road-kings" + path.format(bad),
            json=body if method == "PATCH" else None,
            headers=headers,
        )
        await problem_of(response, 404, code)


async def test_unknown_member_or_role_in_a_role_grant_is_404(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    driver = await _role(hub, "Driver", 3)
    headers = await _owner(hub)
    missing_member = await client.put(
        f"{API}/road-kings/members/{MAX_ID}/roles/{driver.id}", headers=headers
    )
    await problem_of(missing_member, 404, "member_not_found")
    missing_role = await client.delete(
        f"{API}/road-kings/members/{alice.id}/roles/{MAX_ID}", headers=headers
    )
    await problem_of(missing_role, 404, "role_not_found")


async def test_concurrent_accepts_of_one_user_give_exactly_one_member_number(
    client: TestClient,
) -> None:
    hub = await _hub()
    victor = await _person(hub, "victor")
    headers = await _owner(hub)
    url = f"{API}/road-kings/members/{victor.id}/accept"
    responses = await asyncio.gather(*(client.post(url, headers=headers) for _ in range(16)))
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] + [409] * 15, [await r.text() for r in responses]
    for response in responses:
        if response.status == 409:
            await problem_of(response, 409, "already_member")
    assert (await Member.get(id=victor.id)).number == 1
    assert (await Hub.get(id=hub.id)).member_numbers == 1
    assert await MembershipChange.filter(member_id=victor.id, action="accepted").count() == 1


async def _ids_of(hub: Hub, name: str, discord_id: int) -> dict[str, int]:
    """A member, a role, a ban and a note of `hub`."""
    member = await _member(hub, name, discord_id)
    role = await _role(hub, f"Role {name}", 5)
    record, _signals = await ban(SYSTEM, hub, BanInput(discord_id=discord_id + 1000))
    note = await lifecycle.add_note(SYSTEM, hub, member.id, f"note on {name}")
    return {"member": member.id, "role": role.id, "ban": record.id, "note": note.id}


def _cross_requests(own: dict[str, int], other: dict[str, int]) -> list[tuple[str, str, Any, str]]:
    """Requests through one hub's URLs naming the other hub's ids: method, path, body, code."""
    member, role = other["member"], other["role"]
    return [
        ("GET", f"/members/{member}", None, "member_not_found"),
        ("POST", f"/members/{member}/accept", None, "member_not_found"),
        ("POST", f"/members/{member}/dismiss", {"reason": "x"}, "member_not_found"),
        (
            "PUT",
            f"/members/{member}/join-date",
            {"joined_at": "2019-01-01T00:00:00Z"},
            "member_not_found",
        ),
        ("GET", f"/members/{member}/history", None, "member_not_found"),
        ("GET", f"/members/{member}/notes", None, "member_not_found"),
        ("POST", f"/members/{member}/notes", {"text": "x"}, "member_not_found"),
        ("PUT", f"/members/{member}/roles/{own['role']}", None, "member_not_found"),
        ("PUT", f"/members/{own['member']}/roles/{role}", None, "role_not_found"),
        ("DELETE", f"/members/{own['member']}/roles/{role}", None, "role_not_found"),
        ("GET", f"/members?role={role}", None, "role_not_found"),
        ("PATCH", f"/roles/{role}", {"name": "Renamed"}, "role_not_found"),
        ("DELETE", f"/roles/{role}", None, "role_not_found"),
        ("GET", f"/bans/{other['ban']}", None, "ban_not_found"),
        ("DELETE", f"/bans/{other['ban']}", None, "ban_not_found"),
        ("PATCH", f"/notes/{other['note']}", {"text": "x"}, "note_not_found"),
        ("DELETE", f"/notes/{other['note']}", None, "note_not_found"),
    ]


async def test_another_hubs_ids_are_404_through_this_hubs_urls(client: TestClient) -> None:
    road = await _hub(42, "Road Kings", 10)
    night = await _hub(43, "Night Owls", 20)
    ids = {
        "road-kings": await _ids_of(road, "anna", 501),
        "night-owls": await _ids_of(night, "nils", 601),
    }
    for slug, other_slug, hub in (
        ("road-kings", "night-owls", road),
        ("night-owls", "road-kings", night),
    ):
        _staff_member, staff = await _staff(hub, f"staff-{slug}", 700 + hub.id, position=100)
        for method, path, body, code in _cross_requests(ids[slug], ids[other_slug]):
            response = await client.request(method, f"{API}/{slug}{path}", json=body, headers=staff)
            await problem_of(response, 404, code)
    # Nothing of either hub changed.
    for mine in ids.values():
        assert (await Member.get(id=mine["member"])).state == MemberState.MEMBER
        assert (await Ban.get(id=mine["ban"])).lifted_at is None
        assert (await Role.get(id=mine["role"])).name.startswith("Role ")
        assert await MemberRole.filter(role_id=mine["role"]).count() == 0
        note = await members.StaffNote.get(id=mine["note"])
        assert note.text.startswith("note on ")


async def test_the_audit_log_never_lists_another_hubs_entries(client: TestClient) -> None:
    road = await _hub(42, "Road Kings", 10)
    night = await _hub(43, "Night Owls", 20)
    await _ids_of(road, "anna", 501)
    await _ids_of(night, "nils", 601)
    for slug, hub in (("road-kings", road), ("night-owls", night)):
        pages = await _walk(client, f"{API}/{slug}/audit-log", await _owner(hub), limit="3")
        listed = [e["id"] for p in pages for e in p["items"]]
        expected = await AuditLog.filter(hub_id=hub.id).order_by("-id").values_list("id", flat=True)
        assert listed == expected
        assert len(pages) > 1
        by_target = await client.get(
            f"{API}/{slug}/audit-log",
            params={"action": "members.ban"},
            headers=await _owner(hub),
        )
        bans = (await by_target.json())["items"]
        assert len(bans) == 1
        assert bans[0]["id"] in expected


async def test_a_ban_that_has_already_expired_is_422(client: TestClient) -> None:
    hub = await _hub()
    response = await client.post(
        f"{API}/road-kings/bans",
        json={"discord_id": "600", "expires_at": "2020-01-01T00:00:00Z"},
        headers=await _owner(hub),
    )
    body = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["expires_at"]


async def test_a_second_ban_of_a_banned_identity_is_409(client: TestClient) -> None:
    hub = await _hub()
    headers = await _owner(hub)
    first = await client.post(
        f"{API}/road-kings/bans", json={"email": "x@example.com"}, headers=headers
    )
    assert first.status == 201, await first.text()
    again = await client.post(
        f"{API}/road-kings/bans",
        json={"email": "x@example.com", "steam_id": "76561198000000001"},
        headers=headers,
    )
    await problem_of(again, 409, "already_banned")
    assert await Ban.filter(hub_id=hub.id).count() == 1


async def test_role_names_differing_only_in_case_are_409(client: TestClient) -> None:
    hub = await _hub()
    headers = await _owner(hub)
    first = await client.post(f"{API}/road-kings/roles", json={"name": "Driver"}, headers=headers)
    assert first.status == 201, await first.text()
    again = await client.post(f"{API}/road-kings/roles", json={"name": "DRIVER"}, headers=headers)
    await problem_of(again, 409, "role_name_taken")


async def test_history_is_paginated_newest_first(client: TestClient) -> None:
    hub = await _hub()
    member = await _member(hub, "hana")
    for reason in ("one", "two", "three"):
        await lifecycle.add_note(SYSTEM, hub, member.id, reason)
        await lifecycle.set_join_date(SYSTEM, hub, member.id, datetime(2020, 1, 1, tzinfo=UTC))
    headers = await _owner(hub)
    url = f"{API}/road-kings/members/{member.id}/history?limit=2"
    first = await (await client.get(url, headers=headers)).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = await (await client.get(f"{url}&cursor={first['next_cursor']}", headers=headers)).json()
    ids = [e["id"] for e in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == len(set(ids)) == await MembershipChange.filter(member_id=member.id).count()
    notes = await (
        await client.get(f"{API}/road-kings/members/{member.id}/notes?limit=2", headers=headers)
    ).json()
    assert [n["text"] for n in notes["items"]] == ["three", "two"]
    assert notes["next_cursor"]
