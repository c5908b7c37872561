"""The points API: ledger, totals and rank progress, grants and corrections, the rank
ladder, leaderboards and the daily bonus."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import time_machine
from aiohttp.test_utils import TestClient

from models import auth, hubs, members
from models.actor import SYSTEM
from models.audit import AuditLog
from models.discord_actions import ActionKind, ActionStatus, DiscordAction
from models.hubs import Hub
from models.members import lifecycle, roles
from models.members.roles import RoleInput
from models.members.tables import Member
from models.points import MAX_AMOUNT, BonusClaim, PointEntry, PointKind, Rank
from models.points.ledger import book
from models.users import User
from tests.web.conftest import problem_of

API = "/api/v1/hubs"
HUB = f"{API}/road-kings"
OWNER_DISCORD_ID = 10
Headers = dict[str, str]


# The world: a hub, its owner, staff and members


async def _hub(guild_id: int = 42, name: str = "Road Kings", owner: int = OWNER_DISCORD_ID) -> Hub:
    return await hubs.ensure_hub_for_guild(guild_id, name, owner)


async def _headers(user: User) -> Headers:
    pair = await auth.start_session(user, "discord")
    return {"Authorization": f"Bearer {pair.access_token}"}


async def _member(hub: Hub, name: str, discord_id: int | None = None) -> Member:
    """An accepted member, with their user loaded."""
    user = await User.create(username=name, discord_id=discord_id)
    person = await members.ensure_member(hub.id, user)
    accepted, _signal = await lifecycle.accept(SYSTEM, hub, person.id)
    return await Member.get(id=accepted.id).select_related("user")


async def _holder(hub: Hub, name: str, permissions: list[str], position: int = 10) -> Headers:
    """A member holding a role with `permissions`, signed in."""
    member = await _member(hub, name)
    data = RoleInput(name=f"Role {name}", position=position, permissions=permissions)
    role = await roles.create_role(SYSTEM, hub, data)
    await roles.give_role(SYSTEM, hub, member.id, role.id)
    return await _headers(member.user)


async def _owner(hub: Hub) -> Headers:
    user = await User.get_or_none(discord_id=hub.owner_discord_id)
    if user is None:
        user = await User.create(username=f"owner{hub.id}", discord_id=hub.owner_discord_id)
    return await _headers(user)


async def _settings(hub: Hub, **points: Any) -> Hub:
    """Change the hub's points settings directly."""
    stored = dict(hub.settings or {})
    stored["plugins"] = {**stored.get("plugins", {}), "points": points}
    await Hub.filter(id=hub.id).update(settings=stored)
    return await Hub.get(id=hub.id)


async def _grant(client: TestClient, member_id: int | str, amount: int, headers: Headers, **body):
    return await client.post(
        f"{HUB}/members/{member_id}/points",
        json={"amount": amount, "reason": "well driven", **body},
        headers=headers,
    )


async def _points(client: TestClient, member_id: int | str, headers: Headers) -> dict:
    response = await client.get(f"{HUB}/members/{member_id}/points", headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


# Grants, totals and the ledger


async def test_a_grant_is_booked_and_shows_in_totals_and_ledger(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    staff = await _holder(hub, "sam", ["manage_points"])
    response = await _grant(client, alice.id, 150, staff, kind="event")
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["total"] == 150
    assert (body["entry"]["amount"], body["entry"]["kind"]) == (150, "event")
    assert body["entry"]["reason"] == "well driven"
    again = await _grant(client, alice.id, 50, staff)
    assert (await again.json())["total"] == 200
    totals = await _points(client, alice.id, staff)
    assert (totals["total"], totals["by_kind"]) == (200, {"event": 150, "manual": 50})
    assert (await Member.get(id=alice.id)).points == 200
    assert await AuditLog.filter(action="points.granted", hub_id=hub.id).count() == 2
    ledger = await client.get(f"{HUB}/points/ledger", headers=staff)
    assert ledger.status == 200
    assert [e["amount"] for e in (await ledger.json())["items"]] == [50, 150]  # newest first


async def test_a_member_reads_their_own_points_with_at_me(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    await book(hub, alice, PointKind.DISTANCE, 42, reason="job")
    mine = await _points(client, "@me", await _headers(alice.user))
    assert (mine["member_id"], mine["total"], mine["by_kind"]) == (alice.id, 42, {"distance": 42})
    # Someone new to the hub is recorded as a visitor by asking, and has no points yet.
    stranger = await _headers(await User.create(username="nobody"))
    theirs = await _points(client, "@me", stranger)
    assert (theirs["total"], theirs["by_kind"]) == (0, {})


async def test_the_ledger_filters_by_member_and_kind(client: TestClient) -> None:
    hub = await _hub()
    alice, bert = await _member(hub, "alice"), await _member(hub, "bert")
    await book(hub, alice, PointKind.DISTANCE, 10, source="delivery:1")
    await book(hub, alice, PointKind.EVENT, 20, source="event:7")
    await book(hub, bert, PointKind.EVENT, 30, source="event:7")
    headers = await _headers(alice.user)
    url = f"{HUB}/points/ledger"
    by_member = await client.get(url, params={"member": str(alice.id)}, headers=headers)
    assert [e["amount"] for e in (await by_member.json())["items"]] == [20, 10]
    by_kind = await client.get(url, params={"kind": "event"}, headers=headers)
    assert [e["amount"] for e in (await by_kind.json())["items"]] == [30, 20]
    by_source = await client.get(url, params={"source": "delivery:1"}, headers=headers)
    assert [e["member_id"] for e in (await by_source.json())["items"]] == [alice.id]
    paged = await client.get(url, params={"limit": "2"}, headers=headers)
    first = await paged.json()
    assert len(first["items"]) == 2
    rest = await client.get(
        url, params={"limit": "2", "cursor": first["next_cursor"]}, headers=headers
    )
    assert [e["amount"] for e in (await rest.json())["items"]] == [10]
    bad_kind = await client.get(url, params={"kind": "gold"}, headers=headers)
    problem = await problem_of(bad_kind, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["kind"]


async def test_a_member_without_manage_points_cannot_grant(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    headers = await _headers(alice.user)
    response = await _grant(client, alice.id, 100, headers)
    await problem_of(response, 403, "missing_permission")
    correction = await client.post(
        f"{HUB}/members/{alice.id}/points/corrections",
        json={"amount": 100, "reason": "x"},
        headers=headers,
    )
    await problem_of(correction, 403, "missing_permission")
    assert not await PointEntry.exists()


# Bad input


async def _refused_grant(client: TestClient, body: dict[str, Any], field: str) -> None:
    hub = await Hub.get(slug="road-kings")
    alice = await Member.filter(hub_id=hub.id).first()
    assert alice is not None
    response = await client.post(
        f"{HUB}/members/{alice.id}/points", json=body, headers=await _owner(hub)
    )
    problem = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == [field]
    assert not await PointEntry.exists()


async def test_a_zero_amount_is_422_naming_the_amount(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    await _refused_grant(client, {"amount": 0, "reason": "x"}, "amount")
    correction = await client.post(
        f"{HUB}/members/{alice.id}/points/corrections",
        json={"amount": 0, "reason": "x"},
        headers=await _owner(hub),
    )
    problem = await problem_of(correction, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["amount"]


async def test_a_negative_grant_is_422(client: TestClient) -> None:
    await _member(await _hub(), "alice")
    await _refused_grant(client, {"amount": -5, "reason": "x"}, "amount")


async def test_an_absurd_amount_is_422(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    await _refused_grant(client, {"amount": MAX_AMOUNT + 1, "reason": "x"}, "amount")
    correction = await client.post(
        f"{HUB}/members/{alice.id}/points/corrections",
        json={"amount": -MAX_AMOUNT - 1, "reason": "x"},
        headers=await _owner(hub),
    )
    problem = await problem_of(correction, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["amount"]
    most = await _grant(client, alice.id, MAX_AMOUNT, await _owner(hub))
    assert most.status == 201


async def test_a_boolean_or_text_amount_is_422_not_booked(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    await _refused_grant(client, {"amount": True, "reason": "x"}, "amount")
    await _refused_grant(client, {"amount": "10", "reason": "x"}, "amount")
    correction = await client.post(
        f"{HUB}/members/{alice.id}/points/corrections",
        json={"amount": True, "reason": "x"},
        headers=await _owner(hub),
    )
    await problem_of(correction, 422, "validation_failed")
    assert not await PointEntry.filter(member_id=alice.id).exists()


async def test_a_time_out_of_range_is_422_in_any_time_zone(client: TestClient) -> None:
    hub = await _hub()
    await Hub.filter(id=hub.id).update(timezone="Pacific/Kiritimati")  # UTC+14
    alice = await _member(hub, "alice")
    for when in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "1999-12-31T23:59:59Z"):
        body = {"amount": 5, "reason": "x", "counts_at": when}
        await _refused_grant(client, body, "counts_at")
    ahead = (auth.now() + timedelta(days=2)).isoformat()
    await _refused_grant(client, {"amount": 5, "reason": "x", "counts_at": ahead}, "counts_at")
    fits = await _grant(client, alice.id, 5, await _owner(hub), counts_at="2000-01-01T00:00:00Z")
    assert fits.status == 201, await fits.text()


async def test_a_reason_over_500_characters_is_422_naming_the_reason(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    await _refused_grant(client, {"amount": 5, "reason": "x" * 501}, "reason")
    fits = await _grant(client, alice.id, 5, await _owner(hub), reason="x" * 500)
    assert fits.status == 201


async def test_a_grant_of_kind_correction_is_422(client: TestClient) -> None:
    await _member(await _hub(), "alice")
    await _refused_grant(client, {"amount": 5, "reason": "x", "kind": "correction"}, "kind")


async def test_a_correction_below_zero_is_409_unless_the_hub_allows_it(
    client: TestClient,
) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    await book(hub, alice, PointKind.MANUAL, 30)
    owner = await _owner(hub)
    url = f"{HUB}/members/{alice.id}/points/corrections"
    too_much = await client.post(url, json={"amount": -31, "reason": "typo"}, headers=owner)
    await problem_of(too_much, 409, "negative_total")
    assert (await Member.get(id=alice.id)).points == 30
    assert await PointEntry.filter(kind=PointKind.CORRECTION).count() == 0
    down = await client.post(url, json={"amount": -30, "reason": "typo"}, headers=owner)
    assert down.status == 201, await down.text()
    assert (await down.json())["total"] == 0
    allowed = await client.patch(
        HUB, json={"plugin_settings": {"points": {"negative_totals": True}}}, headers=owner
    )
    assert allowed.status == 200, await allowed.text()
    below = await client.post(url, json={"amount": -5, "reason": "penalty"}, headers=owner)
    assert below.status == 201, await below.text()
    assert (await below.json())["entry"]["kind"] == "correction"
    totals = await _points(client, alice.id, owner)
    assert (totals["total"], totals["by_kind"]["correction"]) == (-5, -35)


async def test_another_hubs_member_and_rank_are_404(client: TestClient) -> None:
    hub = await _hub()
    other = await _hub(43, "Long Haul", owner=11)
    stranger = await _member(other, "otto")
    foreign = await Rank.create(hub_id=other.id, name="Elsewhere", threshold=10)
    owner = await _owner(hub)
    for response in (
        await client.get(f"{HUB}/members/{stranger.id}/points", headers=owner),
        await _grant(client, stranger.id, 10, owner),
        await client.post(
            f"{HUB}/members/{stranger.id}/points/corrections",
            json={"amount": 10, "reason": "x"},
            headers=owner,
        ),
        await client.get(
            f"{HUB}/points/ledger", params={"member": str(stranger.id)}, headers=owner
        ),
    ):
        await problem_of(response, 404, "member_not_found")
    for response in (
        await client.patch(f"{HUB}/ranks/{foreign.id}", json={"name": "Mine"}, headers=owner),
        await client.delete(f"{HUB}/ranks/{foreign.id}", headers=owner),
        await client.delete(f"{HUB}/ranks/abc", headers=owner),
    ):
        await problem_of(response, 404, "rank_not_found")
    assert (await Rank.get(id=foreign.id)).name == "Elsewhere"
    assert not await PointEntry.exists()


# The rank ladder


async def test_rank_crud(client: TestClient) -> None:
    hub = await _hub()
    staff = await _holder(hub, "sam", ["manage_ranks"])
    created = await client.post(
        f"{HUB}/ranks",
        json={"name": "Trucker", "threshold": 100, "color": 0xFF0000, "discord_role_id": 900},
        headers=staff,
    )
    assert created.status == 201, await created.text()
    rank = await created.json()
    assert (rank["name"], rank["threshold"], rank["discord_role_id"]) == ("Trucker", 100, "900")
    await client.post(f"{HUB}/ranks", json={"name": "Rookie", "threshold": 0}, headers=staff)
    taken = await client.post(
        f"{HUB}/ranks", json={"name": "trucker", "threshold": 5}, headers=staff
    )
    await problem_of(taken, 409, "rank_name_taken")
    same = await client.post(f"{HUB}/ranks", json={"name": "Other", "threshold": 0}, headers=staff)
    await problem_of(same, 409, "rank_threshold_taken")
    bad_kind = await client.post(
        f"{HUB}/ranks", json={"name": "Gold", "threshold": 9, "kinds": ["gold"]}, headers=staff
    )
    problem = await problem_of(bad_kind, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["kinds"]
    edited = await client.patch(
        f"{HUB}/ranks/{rank['id']}",
        json={"threshold": 200, "discord_role_id": None, "kinds": ["event", "distance"]},
        headers=staff,
    )
    assert edited.status == 200, await edited.text()
    assert (await edited.json())["kinds"] == ["distance", "event"]
    assert (await edited.json())["discord_role_id"] is None
    listed = await (await client.get(f"{HUB}/ranks", headers=staff)).json()
    assert [(r["name"], r["threshold"]) for r in listed["items"]] == [
        ("Rookie", 0),
        ("Trucker", 200),
    ]
    gone = await client.delete(f"{HUB}/ranks/{rank['id']}", headers=staff)
    assert gone.status == 204
    assert await Rank.filter(hub_id=hub.id).values_list("name", flat=True) == ["Rookie"]
    actions = await AuditLog.filter(hub_id=hub.id, action__startswith="points.rank").order_by("id")
    assert [a.action for a in actions] == [
        "points.rank_created",
        "points.rank_created",
        "points.rank_edited",
        "points.rank_deleted",
    ]


async def test_only_manage_ranks_changes_the_ladder(client: TestClient) -> None:
    hub = await _hub()
    rank = await Rank.create(hub_id=hub.id, name="Rookie", threshold=0)
    driver = await _headers((await _member(hub, "alice")).user)
    granter = await _holder(hub, "gina", ["manage_points"], position=5)
    for headers in (driver, granter):
        listed = await client.get(f"{HUB}/ranks", headers=headers)
        assert [r["name"] for r in (await listed.json())["items"]] == ["Rookie"]
        for response in (
            await client.post(f"{HUB}/ranks", json={"name": "X", "threshold": 1}, headers=headers),
            await client.patch(f"{HUB}/ranks/{rank.id}", json={"name": "Y"}, headers=headers),
            await client.delete(f"{HUB}/ranks/{rank.id}", headers=headers),
        ):
            await problem_of(response, 403, "missing_permission")
    assert await Rank.filter(hub_id=hub.id).values_list("name", flat=True) == ["Rookie"]
    manager = await _holder(hub, "mia", ["manage_ranks"], position=6)
    response = await client.post(
        f"{HUB}/ranks", json={"name": "X", "threshold": 1}, headers=manager
    )
    assert response.status == 201
    anonymous = await client.get(f"{HUB}/ranks")
    await problem_of(anonymous, 401, None)


async def test_granting_across_a_threshold_changes_the_rank(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice", discord_id=555)
    owner = await _owner(hub)
    for name, threshold, role in (
        ("Rookie", 0, None),
        ("Trucker", 100, 901),
        ("Legend", 500, None),
    ):
        created = await client.post(
            f"{HUB}/ranks",
            json={"name": name, "threshold": threshold, "discord_role_id": role},
            headers=owner,
        )
        assert created.status == 201, await created.text()
    await _grant(client, alice.id, 60, owner)
    before = (await _points(client, alice.id, owner))["rank"]
    assert (before["rank"], before["next_rank"], before["remaining"]) == ("Rookie", "Trucker", 40)
    assert before["percent"] == 60
    crossed = await _grant(client, alice.id, 60, owner)
    assert (await crossed.json())["total"] == 120
    after = (await _points(client, alice.id, owner))["rank"]
    assert (after["rank"], after["next_rank"], after["next_threshold"]) == (
        "Trucker",
        "Legend",
        500,
    )
    assert (after["points"], after["remaining"], after["percent"]) == (120, 380, 5)
    queued = await DiscordAction.filter(kind=ActionKind.ADD_ROLE)
    assert [(a.guild_id, a.discord_user_id, a.role_id) for a in queued] == [(42, 555, 901)]
    await DiscordAction.filter(id=queued[0].id).update(status=ActionStatus.DONE)  # delivered
    dropped = await client.post(
        f"{HUB}/members/{alice.id}/points/corrections",
        json={"amount": -30, "reason": "duplicate job"},
        headers=owner,
    )
    assert dropped.status == 201
    assert (await _points(client, alice.id, owner))["rank"]["rank"] == "Rookie"
    pending = await DiscordAction.filter(status=ActionStatus.PENDING, role_id=901)
    assert [a.kind for a in pending] == [ActionKind.REMOVE_ROLE]
    assert (await Member.get(id=alice.id)).rank_id == (await Rank.get(name="Rookie")).id


async def test_the_top_rank_shows_no_next_rank(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    await Rank.create(hub_id=hub.id, name="Legend", threshold=100)
    await book(hub, alice, PointKind.MANUAL, 250)
    rank = (await _points(client, "@me", await _headers(alice.user)))["rank"]
    assert (rank["rank"], rank["next_rank"], rank["remaining"], rank["percent"]) == (
        "Legend",
        None,
        None,
        None,
    )


# Leaderboards


async def test_the_month_leaderboard_by_kind_shows_members_best_first(client: TestClient) -> None:
    hub = await _hub()
    alice, bert, cleo = [await _member(hub, n) for n in ("alice", "bert", "cleo")]
    await book(hub, alice, PointKind.EVENT, 30)
    await book(hub, bert, PointKind.EVENT, 80)
    await book(hub, cleo, PointKind.EVENT, 50)
    await book(hub, alice, PointKind.DISTANCE, 500)
    await book(hub, cleo, PointKind.BONUS, 40)
    last_month = auth.now().replace(day=1) - timedelta(days=3)
    await book(hub, alice, PointKind.EVENT, 1000, counts_at=last_month)
    headers = await _headers(alice.user)
    url = f"{HUB}/leaderboard"
    events = await client.get(url, params={"period": "month", "kinds": "event"}, headers=headers)
    assert events.status == 200, await events.text()
    board = await events.json()
    assert board["kinds"] == ["event"]
    assert [(r["place"], r["name"], r["points"]) for r in board["rows"]] == [
        (1, "bert", 80),
        (2, "cleo", 50),
        (3, "alice", 30),
    ]
    for params in (
        [("kinds", "event"), ("kinds", "bonus")],
        [("kinds", "event,bonus")],
    ):
        both = await (await client.get(url, params=params, headers=headers)).json()
        assert [(r["name"], r["points"]) for r in both["rows"]] == [
            ("cleo", 90),
            ("bert", 80),
            ("alice", 30),
        ]
    everything = await (await client.get(url, params={"limit": "1"}, headers=headers)).json()
    assert [(r["name"], r["points"]) for r in everything["rows"]] == [("alice", 530)]
    before = await client.get(
        url, params={"kinds": "event", "at": last_month.date().isoformat()}, headers=headers
    )
    assert [(r["name"], r["points"]) for r in (await before.json())["rows"]] == [("alice", 1000)]
    bad = await client.get(url, params={"kinds": "event,gold"}, headers=headers)
    problem = await problem_of(bad, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["kinds.1"]


# The daily bonus


async def test_the_bonus_is_claimed_once_a_day_with_a_streak(client: TestClient) -> None:
    hub = await _settings(await _hub(), daily_bonus=True, daily_bonus_amount=25, streak_bonus=5)
    alice = await _member(hub, "alice")
    headers = await _headers(alice.user)
    claimed = await client.post(f"{HUB}/bonus", headers=headers)
    assert claimed.status == 201, await claimed.text()
    assert {k: v for k, v in (await claimed.json()).items() if k != "day"} == {
        "amount": 25,
        "streak": 1,
        "total": 25,
    }
    twice = await client.post(f"{HUB}/bonus", headers=headers)
    await problem_of(twice, 409, "bonus_claimed")
    assert (await Member.get(id=alice.id)).points == 25
    with time_machine.travel(auth.now() + timedelta(days=1)):
        tomorrow = await _headers(alice.user)
        next_day = await client.post(f"{HUB}/bonus", headers=tomorrow)
        assert next_day.status == 201, await next_day.text()
        assert ((await next_day.json())["streak"], (await next_day.json())["amount"]) == (2, 30)
        month = await (await client.get(f"{HUB}/bonus", headers=tomorrow)).json()
        assert month["claimed_today"] is True
        assert month["streak"] == 2
    assert await PointEntry.filter(kind=PointKind.BONUS).count() == 2
    first = await BonusClaim.filter(member_id=alice.id).order_by("day").first()
    assert first is not None
    history = await client.get(
        f"{HUB}/bonus", params={"month": first.day.strftime("%Y-%m")}, headers=headers
    )
    assert history.status == 200, await history.text()
    days = (await history.json())["days"]
    assert days[0] == {"day": first.day.isoformat(), "amount": 25, "streak": 1}
    bad = await client.get(f"{HUB}/bonus", params={"month": "2024-13"}, headers=headers)
    problem = await problem_of(bad, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["month"]


async def test_switching_time_zones_gives_no_second_bonus(client: TestClient) -> None:
    hub = await _settings(await _hub(), daily_bonus=True, daily_bonus_amount=10)
    alice = await _member(hub, "alice")
    headers = await _headers(alice.user)
    await User.filter(id=alice.user.id).update(timezone="Pacific/Kiritimati")  # UTC+14
    first = await client.post(f"{HUB}/bonus", headers=headers)
    assert first.status == 201, await first.text()
    await User.filter(id=alice.user.id).update(timezone="Pacific/Pago_Pago")  # UTC-11
    behind = await client.post(f"{HUB}/bonus", headers=headers)
    await problem_of(behind, 409, "bonus_claimed")
    month = await (await client.get(f"{HUB}/bonus", headers=headers)).json()
    assert month["claimed_today"] is True
    assert await BonusClaim.filter(member_id=alice.id).count() == 1


async def test_sixteen_concurrent_bonus_claims_grant_once(client: TestClient) -> None:
    hub = await _settings(await _hub(), daily_bonus=True, daily_bonus_amount=10)
    alice = await _member(hub, "alice")
    headers = await _headers(alice.user)
    responses = await asyncio.gather(
        *(client.post(f"{HUB}/bonus", headers=headers) for _ in range(16))
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [409] * 15
    for response in responses:
        if response.status == 409:
            await problem_of(response, 409, "bonus_claimed")
    assert await BonusClaim.filter(member_id=alice.id).count() == 1
    assert await PointEntry.filter(member_id=alice.id, kind=PointKind.BONUS).count() == 1
    assert (await Member.get(id=alice.id)).points == 10


async def test_no_bonus_when_the_hub_has_none(client: TestClient) -> None:
    hub = await _hub()
    alice = await _member(hub, "alice")
    response = await client.post(f"{HUB}/bonus", headers=await _headers(alice.user))
    await problem_of(response, 409, "bonus_off")
    assert not await BonusClaim.exists()


async def test_a_rank_sets_its_own_daily_bonus(client: TestClient) -> None:
    hub = await _settings(await _hub(), daily_bonus=True, daily_bonus_amount=10)
    alice = await _member(hub, "alice")
    await Rank.create(hub_id=hub.id, name="Trucker", threshold=100, daily_bonus=40)
    await book(hub, alice, PointKind.MANUAL, 100)
    response = await client.post(f"{HUB}/bonus", headers=await _headers(alice.user))
    assert response.status == 201, await response.text()
    assert ((await response.json())["amount"], (await response.json())["total"]) == (40, 140)


async def test_only_members_claim_a_bonus(client: TestClient) -> None:
    await _settings(await _hub(), daily_bonus=True)
    visitor = await _headers(await User.create(username="victor"))
    response = await client.post(f"{HUB}/bonus", headers=visitor)
    await problem_of(response, 409, "not_a_member")
    history = await client.get(f"{HUB}/bonus", headers=visitor)
    await problem_of(history, 409, "not_a_member")
