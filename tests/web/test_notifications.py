"""The notification center over HTTP: the caller's own list, read marks, deletion and
preferences; another user's notification is a 404, and a read-only token writes nothing."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from tortoise.transactions import in_transaction

from models import auth
from models.notifications import center
from models.notifications.tables import Notification, NotificationPreference
from models.users import User
from tests.web.conftest import problem_of

API = "/api/v1/notifications"
KIND = "account.password_changed"  # no hub: anyone can be told


async def _user(name: str = "alice") -> tuple[User, dict[str, str]]:
    user = await User.create(username=name)
    tokens = await auth.start_session(user, "discord")
    return user, {"Authorization": f"Bearer {tokens.access_token}"}


async def _notify(user: User, count: int = 1) -> list[int]:
    async with in_transaction():
        notes = [await center.notify([user.id], KIND) for _ in range(count)]
    return [note.id for [note] in notes]


async def _json(response: Any, status: int = 200) -> Any:
    assert response.status == status, await response.text()
    return await response.json()


async def test_the_list_pages_newest_first_with_a_cursor(client: TestClient) -> None:
    alice, headers = await _user()
    ids = await _notify(alice, 5)
    first = await _json(await client.get(API, params={"limit": 2}, headers=headers))
    assert [n["id"] for n in first["items"]] == ids[:-3:-1]
    assert first["items"][0]["title"] == "Your password was changed"
    assert first["items"][0]["hub_id"] is None
    seen = [n["id"] for n in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = await _json(
            await client.get(API, params={"limit": 2, "cursor": cursor}, headers=headers)
        )
        seen += [n["id"] for n in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ids[::-1]


async def test_the_unread_filter_and_count_follow_read_marks(client: TestClient) -> None:
    alice, headers = await _user()
    first, second, third = await _notify(alice, 3)
    count = await _json(await client.get(f"{API}/unread-count", headers=headers))
    assert count == {"unread": 3}
    response = await client.patch(f"{API}/{second}", json={"read": True}, headers=headers)
    assert response.status == 204, await response.text()
    unread = await _json(await client.get(API, params={"unread": "true"}, headers=headers))
    assert [n["id"] for n in unread["items"]] == [third, first]
    everything = await _json(await client.get(API, headers=headers))
    assert [n["read"] for n in everything["items"]] == [False, True, False]
    response = await client.patch(f"{API}/{second}", json={"read": False}, headers=headers)
    assert response.status == 204
    assert await _json(await client.get(f"{API}/unread-count", headers=headers)) == {"unread": 3}


async def test_read_all_marks_every_unread_one(client: TestClient) -> None:
    alice, headers = await _user()
    await _notify(alice, 3)
    assert await _json(await client.post(f"{API}/read-all", headers=headers)) == {"marked": 3}
    assert await _json(await client.post(f"{API}/read-all", headers=headers)) == {"marked": 0}
    assert await _json(await client.get(f"{API}/unread-count", headers=headers)) == {"unread": 0}


async def test_delete_removes_it_from_the_list(client: TestClient) -> None:
    alice, headers = await _user()
    kept, gone = await _notify(alice, 2)
    response = await client.delete(f"{API}/{gone}", headers=headers)
    assert response.status == 204, await response.text()
    page = await _json(await client.get(API, headers=headers))
    assert [n["id"] for n in page["items"]] == [kept]
    await problem_of(
        await client.delete(f"{API}/{gone}", headers=headers), 404, "notification_not_found"
    )


async def test_another_users_notification_is_as_unknown_as_a_missing_one(
    client: TestClient,
) -> None:
    alice, _ = await _user()
    _bob, bob_headers = await _user("bob")
    [theirs] = await _notify(alice)
    for method, body in (("PATCH", {"read": True}), ("DELETE", None)):
        response = await client.request(method, f"{API}/{theirs}", json=body, headers=bob_headers)
        await problem_of(response, 404, "notification_not_found")
    for bad in ("0", "abc", str(2**63)):
        response = await client.delete(f"{API}/{bad}", headers=bob_headers)
        await problem_of(response, 404, "notification_not_found")
    page = await _json(await client.get(API, headers=bob_headers))
    assert page["items"] == []
    note = await Notification.get(id=theirs)
    assert note.read_at is None  # untouched


async def test_preferences_show_every_kind_and_change_per_kind_and_channel(
    client: TestClient,
) -> None:
    alice, headers = await _user()
    prefs = await _json(await client.get(f"{API}/preferences", headers=headers))
    kinds = {k["kind"]: k for k in prefs["kinds"]}
    assert prefs["direct_messages"] is True
    assert kinds["member.accepted"]["channels"] == {"in_app": True, "discord": True, "email": False}
    assert kinds["account.new_login"]["mutable"] is False
    assert kinds["hub.notice"]["label"] == "Notices from the hub's staff"
    changes = [
        {"kind": "member.accepted", "channel": "discord", "enabled": False},
        {"kind": "*", "channel": "email", "enabled": True},
    ]
    response = await client.patch(f"{API}/preferences", json={"changes": changes}, headers=headers)
    kinds = {k["kind"]: k for k in (await _json(response))["kinds"]}
    assert kinds["member.accepted"]["channels"] == {"in_app": True, "discord": False, "email": True}
    assert kinds["member.dismissed"]["channels"]["email"] is True
    off = [{"kind": "*", "channel": "discord", "enabled": False}]
    response = await client.patch(f"{API}/preferences", json={"changes": off}, headers=headers)
    assert (await _json(response))["direct_messages"] is False
    assert await NotificationPreference.filter(user_id=alice.id).count() == 3


async def test_muting_a_security_notice_is_a_conflict(client: TestClient) -> None:
    alice, headers = await _user()
    changes = [
        {"kind": "member.accepted", "channel": "in_app", "enabled": False},
        {"kind": "account.mfa_changed", "channel": "email", "enabled": False},
    ]
    response = await client.patch(f"{API}/preferences", json={"changes": changes}, headers=headers)
    await problem_of(response, 409, "not_mutable")
    # All or nothing: the allowed change in the same request was not saved either.
    assert not await NotificationPreference.filter(user_id=alice.id).exists()


async def test_bad_preference_changes_are_refused_naming_the_problem(client: TestClient) -> None:
    _alice, headers = await _user()
    unknown = [{"kind": "member.flew", "channel": "in_app", "enabled": False}]
    response = await client.patch(f"{API}/preferences", json={"changes": unknown}, headers=headers)
    body = await problem_of(response, 422, "unknown_kind")
    assert "member.flew" in body["detail"]
    for bad in (
        {"changes": []},
        {"changes": [{"kind": "*", "channel": "pigeon", "enabled": True}]},
        {"changes": [{"kind": "*", "channel": "email", "enabled": True, "x": 1}]},
    ):
        response = await client.patch(f"{API}/preferences", json=bad, headers=headers)
        await problem_of(response, 422, None)


async def test_every_route_needs_a_login(client: TestClient) -> None:
    alice, _ = await _user()
    [note] = await _notify(alice)
    for method, path in (
        ("GET", API),
        ("GET", f"{API}/unread-count"),
        ("POST", f"{API}/read-all"),
        ("GET", f"{API}/preferences"),
        ("PATCH", f"{API}/preferences"),
        ("PATCH", f"{API}/{note}"),
        ("DELETE", f"{API}/{note}"),
    ):
        response = await client.request(method, path, json={})
        await problem_of(response, 401, None)


async def test_a_read_only_application_token_reads_but_cannot_write(client: TestClient) -> None:
    alice, _ = await _user()
    [note] = await _notify(alice)
    _token, secret = await auth.create_app_token(alice.id, "reader", ["read"], None)
    headers = {"Authorization": f"Bearer {secret}"}
    page = await _json(await client.get(API, headers=headers))
    assert [n["id"] for n in page["items"]] == [note]
    assert await _json(await client.get(f"{API}/unread-count", headers=headers)) == {"unread": 1}
    assert (await client.get(f"{API}/preferences", headers=headers)).status == 200
    mute = {"changes": [{"kind": "member.accepted", "channel": "in_app", "enabled": False}]}
    for method, path, body in (
        ("POST", f"{API}/read-all", None),
        ("PATCH", f"{API}/preferences", mute),
        ("PATCH", f"{API}/{note}", {"read": True}),
        ("DELETE", f"{API}/{note}", None),
    ):
        response = await client.request(method, path, json=body, headers=headers)
        await problem_of(response, 403, "insufficient_scope")
    assert (await Notification.get(id=note)).read_at is None
    assert not await NotificationPreference.filter(user_id=alice.id).exists()


async def test_turning_a_security_notice_on_is_accepted_and_stores_nothing(
    client: TestClient,
) -> None:
    alice, headers = await _user()
    changes = [{"kind": "account.new_login", "channel": "email", "enabled": True}]
    response = await client.patch(f"{API}/preferences", json={"changes": changes}, headers=headers)
    assert response.status == 200
    assert not await NotificationPreference.filter(user_id=alice.id).exists()


async def test_yes_or_no_in_words_is_not_a_boolean(client: TestClient) -> None:
    _alice, headers = await _user()
    changes = [{"kind": "member.accepted", "channel": "in_app", "enabled": "no"}]
    response = await client.patch(f"{API}/preferences", json={"changes": changes}, headers=headers)
    assert response.status == 422
    response = await client.patch(f"{API}/1", json={"read": "yes"}, headers=headers)
    assert response.status == 422
