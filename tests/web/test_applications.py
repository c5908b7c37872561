"""The applications API: types and forms, applying with per-field 422s, eligibility, the
review flow (decide once, change, claim, assign), the conversation, lists and statistics."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from models import auth, hubs, members
from models.actor import SYSTEM
from models.applications import Application, ApplicationState
from models.discord_actions import DiscordAction
from models.hubs import Hub
from models.members import lifecycle, roles
from models.members.roles import RoleInput
from models.members.tables import Member, MemberState
from models.users import User
from tests.web.conftest import problem_of

HUB = "/api/v1/hubs/road-kings"
APPS = f"{HUB}/applications"
Headers = dict[str, str]

FIELDS: list[dict[str, Any]] = [
    {"key": "name", "kind": "short", "label": "Your name", "max_length": 20},
    {"key": "age", "kind": "number", "label": "Age", "min_value": 13},
    {"key": "game", "kind": "choice", "label": "Game", "choices": ["ETS2", "ATS"]},
    {"key": "rules", "kind": "yes_no", "label": "Read the rules?"},
]
GOOD = {"name": "Alice", "age": 21, "game": "ATS", "rules": True}


async def _hub(guild_id: int = 42, name: str = "Road Kings") -> Hub:
    return await hubs.ensure_hub_for_guild(guild_id, name, 10)


async def _headers(user: User) -> Headers:
    pair = await auth.start_session(user, "discord")
    return {"Authorization": f"Bearer {pair.access_token}"}


async def _person(hub: Hub, name: str, discord_id: int) -> tuple[User, Headers]:
    user = await User.create(username=name, discord_id=discord_id)
    await members.ensure_member(hub.id, user)
    return user, await _headers(user)


async def _holder(hub: Hub, name: str, discord_id: int, permissions: list[str]) -> Headers:
    user, headers = await _person(hub, name, discord_id)
    role = await roles.create_role(
        SYSTEM, hub, RoleInput(name=f"Role {name}", position=10, permissions=permissions)
    )
    member = await Member.get(hub_id=hub.id, user_id=user.id)
    await roles.give_role(SYSTEM, hub, member.id, role.id)
    return headers


async def _create_type(client: TestClient, headers: Headers, **more: Any) -> dict[str, Any]:
    body = {"name": "Driver", "form": {"fields": FIELDS}, "review_channel_id": "777", **more}
    response = await client.post(f"{APPS}/types", json=body, headers=headers)
    assert response.status == 201, await response.text()
    return await response.json()


async def _apply(client: TestClient, headers: Headers, type_id: int, answers: dict) -> Any:
    return await client.post(APPS, json={"type_id": type_id, "answers": answers}, headers=headers)


# Types and forms


async def test_staff_shape_types_and_forms_within_discords_limits(client: TestClient) -> None:
    hub = await _hub()
    staff = await _holder(hub, "sam", 5, ["manage_applications"])
    created = await _create_type(client, staff)
    assert (created["review_channel_id"], created["form"]["fields"][2]["choices"]) == (
        "777",
        ["ETS2", "ATS"],
    )
    long_label = [*FIELDS[:3], {"key": "x", "kind": "short", "label": "L" * 46}]
    radio = [
        *FIELDS[:3],
        {
            "key": "x",
            "kind": "choice",
            "label": "x",
            "display": "radio",
            "choices": list("abcdefghijk"),
        },
    ]
    for fields, path in ((long_label, "form.fields.3.label"), (radio, "form.fields.3.choices")):
        response = await client.post(
            f"{APPS}/types", json={"name": "Bad", "form": {"fields": fields}}, headers=staff
        )
        body = await problem_of(response, 422, "validation_failed")
        assert [e["field"] for e in body["errors"]] == [path]
    patched = await client.patch(
        f"{APPS}/types/{created['id']}",
        json={"active": False, "review_channel_id": None},
        headers=staff,
    )
    assert patched.status == 200
    assert ((await patched.json())["active"], (await patched.json())["review_channel_id"]) == (
        False,
        None,
    )
    listed = await (await client.get(f"{APPS}/types", headers=staff)).json()
    assert [t["name"] for t in listed["items"]] == ["Driver"]
    driver = (await _person(hub, "dan", 6))[1]
    await problem_of(await client.get(f"{APPS}/types", headers=driver), 403, "missing_permission")
    open_types = await (await client.get(f"{APPS}/open-types", headers=driver)).json()
    assert open_types["items"] == []  # inactive now
    gone = await client.delete(f"{APPS}/types/{created['id']}", headers=staff)
    assert gone.status == 204
    await problem_of(
        await client.get(f"{APPS}/types/{created['id']}", headers=staff), 404, "type_not_found"
    )


# Applying


async def test_applying_names_each_wrong_answer_and_unknown_types(client: TestClient) -> None:
    hub, other = await _hub(), await _hub(43, "Other")
    staff = await _holder(hub, "sam", 5, ["manage_applications"])
    app_type = await _create_type(client, staff)
    _alice, alice = await _person(hub, "alice", 1)
    listed = await (await client.get(f"{APPS}/open-types", headers=alice)).json()
    assert [(t["name"], t["steps"]) for t in listed["items"]] == [("Driver", 1)]
    one = await client.get(f"{APPS}/open-types/{app_type['id']}", headers=alice)
    assert (await one.json())["form"]["fields"][0]["key"] == "name"
    wrong = {"name": "A" * 21, "age": 12, "game": "Snowrunner", "rules": "maybe"}
    body = await problem_of(await _apply(client, alice, app_type["id"], wrong), 422, None)
    assert {e["field"] for e in body["errors"]} == {"name", "age", "game", "rules"}
    missing = await problem_of(await _apply(client, alice, app_type["id"], {}), 422, None)
    assert {e["field"] for e in missing["errors"]} == {"name", "age", "game", "rules"}
    theirs = await hubs_type(other)
    for type_id in (theirs, 99999):
        await problem_of(await _apply(client, alice, type_id, GOOD), 404, "type_not_found")
    applied = await _apply(client, alice, app_type["id"], GOOD)
    assert applied.status == 201, await applied.text()
    assert (await applied.json())["state"] == "pending"
    again = await _apply(client, alice, app_type["id"], GOOD)
    await problem_of(again, 409, "already_pending")


async def hubs_type(hub: Hub) -> int:
    from models.applications import ops
    from models.applications.schemas import TypeInput

    data = TypeInput.model_validate({"name": "Theirs", "form": {"fields": FIELDS}})
    return (await ops.create_type(SYSTEM, hub, data)).id


async def test_an_ineligible_applicant_reads_which_rule_failed(client: TestClient) -> None:
    hub = await _hub()
    staff = await _holder(hub, "sam", 5, ["manage_applications"])
    app_type = await _create_type(client, staff, require_steam=True)
    _alice, alice = await _person(hub, "alice", 1)
    german = {**alice, "Accept-Language": "de"}
    body = await problem_of(
        await _apply(client, german, app_type["id"], GOOD), 403, "steam_required"
    )
    assert "Steam" in body["detail"]


# Reviewing


async def test_the_review_flow_decides_once(client: TestClient) -> None:
    hub = await _hub()
    staff = await _holder(hub, "sam", 5, ["manage_applications", "review_applications"])
    rob = await _holder(hub, "rob", 4, ["review_applications"])
    app_type = await _create_type(client, staff, make_member=True)
    alice_user, alice = await _person(hub, "alice", 1)
    application = await (await _apply(client, alice, app_type["id"], GOOD)).json()
    url = f"{APPS}/{application['id']}"
    mine = await (await client.get(f"{APPS}/mine", headers=alice)).json()
    assert [a["id"] for a in mine["items"]] == [application["id"]]
    # Not a reviewer: refused
    await problem_of(
        await client.post(f"{url}/decision", json={"accept": True}, headers=alice),
        403,
        "missing_permission",
    )
    await problem_of(await client.get(APPS, headers=alice), 403, "missing_permission")
    claimed = await client.post(f"{url}/claim", headers=rob)
    assert (await claimed.json())["claimed_by"]["name"] == "rob"
    await problem_of(await client.post(f"{url}/claim", headers=staff), 409, "already_claimed")
    decided = await client.post(
        f"{url}/decision", json={"accept": True, "reason": "ok"}, headers=rob
    )
    assert decided.status == 200, await decided.text()
    assert (await decided.json())["decided_by"]["name"] == "rob"
    assert (await Member.get(user_id=alice_user.id)).state == MemberState.MEMBER
    second = await client.post(f"{url}/decision", json={"accept": False}, headers=staff)
    body = await problem_of(second, 409, "already_decided")
    assert "rob" in body["detail"]
    changed = await client.put(
        f"{url}/decision", json={"accept": False, "reason": "a mistake"}, headers=staff
    )
    assert (await changed.json())["state"] == "declined"
    no_reason = await client.put(f"{url}/decision", json={"accept": True}, headers=staff)
    await problem_of(no_reason, 422, "validation_failed")
    # Withdrawing a decided application
    await problem_of(await client.post(f"{url}/withdraw", headers=alice), 409, "not_pending")
    assert await DiscordAction.filter(target_key=f"application:{application['id']}").exists()


async def test_assigning_the_conversation_and_deleting(client: TestClient) -> None:
    hub = await _hub()
    staff = await _holder(hub, "sam", 5, ["manage_applications", "review_applications"])
    app_type = await _create_type(client, staff)
    rob_user, _rob = await _person(hub, "rob", 4)
    alice_user, alice = await _person(hub, "alice", 1)
    application = await (await _apply(client, alice, app_type["id"], GOOD)).json()
    url = f"{APPS}/{application['id']}"
    refused = await client.put(
        f"{url}/reviewer", json={"reviewer_user_id": rob_user.id}, headers=staff
    )
    await problem_of(refused, 422, "not_a_reviewer")
    sam_user = await User.get(username="sam")
    assigned = await client.put(
        f"{url}/reviewer", json={"reviewer_user_id": sam_user.id}, headers=staff
    )
    assert (await assigned.json())["claimed_by"]["id"] == sam_user.id
    asked = await client.post(f"{url}/messages", json={"text": "Which truck?"}, headers=staff)
    assert asked.status == 201
    assert (await asked.json())["from_staff"] is True
    replied = await client.post(f"{url}/messages", json={"text": "A Scania."}, headers=alice)
    assert (await replied.json())["from_staff"] is False
    await problem_of(
        await client.post(f"{url}/messages", json={"text": ""}, headers=alice), 422, None
    )
    talk = await (await client.get(f"{url}/messages", headers=alice)).json()
    assert [m["text"] for m in talk["items"]] == ["Which truck?", "A Scania."]
    stranger = (await _person(hub, "eve", 9))[1]
    await problem_of(await client.get(url, headers=stranger), 404, "application_not_found")
    await problem_of(await client.get(f"{url}/messages", headers=stranger), 404, None)
    assert (await (await client.get(url, headers=alice)).json())["applicant"]["id"] == alice_user.id
    await problem_of(await client.delete(url, headers=alice), 403, "missing_permission")
    assert (await client.delete(url, headers=staff)).status == 204
    await problem_of(await client.get(url, headers=staff), 404, "application_not_found")
    await problem_of(await client.get(f"{APPS}/abc", headers=staff), 404, "application_not_found")


async def test_withdrawing(client: TestClient) -> None:
    hub = await _hub()
    staff = await _holder(hub, "sam", 5, ["manage_applications"])
    app_type = await _create_type(client, staff)
    _alice, alice = await _person(hub, "alice", 1)
    application = await (await _apply(client, alice, app_type["id"], GOOD)).json()
    withdrawn = await client.post(f"{APPS}/{application['id']}/withdraw", headers=alice)
    assert (await withdrawn.json())["state"] == "withdrawn"
    assert (await Application.get(id=application["id"])).state == ApplicationState.WITHDRAWN


async def test_staff_lists_filter_and_statistics(client: TestClient) -> None:
    hub = await _hub()
    staff = await _holder(hub, "sam", 5, ["manage_applications", "review_applications"])
    app_type = await _create_type(client, staff, allow_several_pending=True)
    ids = []
    for i in range(5):
        _user, headers = await _person(hub, f"p{i}", 100 + i)
        ids.append((await (await _apply(client, headers, app_type["id"], GOOD)).json())["id"])
    await client.post(f"{APPS}/{ids[0]}/decision", json={"accept": False}, headers=staff)
    first = await (await client.get(APPS, params={"limit": "3"}, headers=staff)).json()
    assert [a["id"] for a in first["items"]] == ids[::-1][:3]
    rest = await client.get(
        APPS, params={"limit": "3", "cursor": first["next_cursor"]}, headers=staff
    )
    assert [a["id"] for a in (await rest.json())["items"]] == ids[1::-1]
    declined = await client.get(APPS, params={"state": "declined"}, headers=staff)
    assert [a["id"] for a in (await declined.json())["items"]] == [ids[0]]
    await problem_of(await client.get(APPS, params={"state": "lost"}, headers=staff), 422, None)
    figures = await (await client.get(f"{APPS}/statistics", headers=staff)).json()
    assert figures["counts"] == {"pending": 4, "accepted": 0, "declined": 1, "withdrawn": 0}
    assert figures["reviewers"][0]["name"] == "sam"
    await problem_of(
        await client.get(f"{APPS}/statistics", params={"days": "0"}, headers=staff), 422, None
    )


async def test_a_member_applying_for_staff(client: TestClient) -> None:
    hub = await _hub()
    staff = await _holder(hub, "sam", 5, ["manage_applications"])
    app_type = await _create_type(client, staff, member_state="member")
    alice_user, alice = await _person(hub, "alice", 1)
    await problem_of(await _apply(client, alice, app_type["id"], GOOD), 403, "members_only")
    member = await Member.get(user_id=alice_user.id)
    await lifecycle.accept(SYSTEM, hub, member.id)
    assert (await _apply(client, alice, app_type["id"], GOOD)).status == 201


async def test_a_choice_without_choices_and_a_yes_for_accept_are_refused(
    client: TestClient,
) -> None:
    hub = await _hub()
    staff = await _holder(hub, "sam", 5, ["manage_applications", "review_applications"])
    for kind in ("choice", "multi_choice"):
        bare = {"name": "X", "form": {"fields": [{"key": "c", "kind": kind, "label": "C"}]}}
        response = await client.post(f"{APPS}/types", json=bare, headers=staff)
        problem = await problem_of(response, 422, "validation_failed")
        assert [e["field"] for e in problem["errors"]] == ["form.fields.0.choices"]
    app_type = await _create_type(client, staff)
    broken = {"form": {"fields": [{"key": "c", "kind": "choice", "label": "C"}]}}
    response = await client.patch(f"{APPS}/types/{app_type['id']}", json=broken, headers=staff)
    await problem_of(response, 422, "validation_failed")
    listed = await client.get(f"{APPS}/types", headers=staff)
    assert listed.status == 200  # the type kept its good form
    _alice_user, alice = await _person(hub, "alice", 1)
    application = await (await _apply(client, alice, app_type["id"], GOOD)).json()
    url = f"{APPS}/{application['id']}/decision"
    response = await client.post(url, json={"accept": "yes"}, headers=staff)
    await problem_of(response, 422, "validation_failed")


async def test_the_reviewer_filter_pages_claimed_and_decided_ones_and_date_ranges(
    client: TestClient,
) -> None:
    hub = await _hub()
    staff = await _holder(hub, "sam", 5, ["manage_applications", "review_applications"])
    sam = await User.get(username="sam")
    other = await User.create(username="olga")
    app_type = await _create_type(client, staff, allow_several_pending=True)
    ids = []
    for i in range(7):
        _user, headers = await _person(hub, f"p{i}", 100 + i)
        ids.append((await (await _apply(client, headers, app_type["id"], GOOD)).json())["id"])
    # sam claimed 0, 2 and 5; decided 1 and 2; olga claimed 3 and decided 6.
    await Application.filter(id__in=[ids[0], ids[2], ids[5]]).update(claimed_by_id=sam.id)
    await Application.filter(id__in=[ids[1], ids[2]]).update(decided_by_id=sam.id)
    await Application.filter(id=ids[3]).update(claimed_by_id=other.id)
    await Application.filter(id=ids[6]).update(decided_by_id=other.id)
    seen, cursor = [], None
    while True:
        params = {"limit": "2", "reviewer": str(sam.id), **({"cursor": cursor} if cursor else {})}
        page = await (await client.get(APPS, params=params, headers=staff)).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [ids[5], ids[2], ids[1], ids[0]]
    since = "2000-01-01T00:00:00Z"
    dated = await client.get(
        APPS, params={"since": since, "reviewer": str(sam.id), "limit": "3"}, headers=staff
    )
    first = await dated.json()
    assert [a["id"] for a in first["items"]] == [ids[5], ids[2], ids[1]]
    params = {"since": since, "reviewer": str(sam.id), "limit": "3", "cursor": first["next_cursor"]}
    rest = await (await client.get(APPS, params=params, headers=staff)).json()
    assert [a["id"] for a in rest["items"]] == [ids[0]]
