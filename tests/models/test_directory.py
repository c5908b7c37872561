"""The member directory, profiles and the audit log query, as members and staff see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from models import audit, hubs, members, users
from models.actor import SYSTEM, Actor
from models.errors import Forbidden, Invalid, NotFound
from models.members import Member, MemberRole, MemberState, Role, lifecycle
from models.members.directory import (
    AuditQuery,
    DirectoryQuery,
    MemberSummary,
    audit_log,
    directory,
    my_membership,
    profile,
)
from models.text import fold

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SORTS = ("name", "-name", "number", "-number", "joined", "-joined", "seen", "-seen")


@pytest.fixture
async def hub() -> hubs.Hub:
    return await hubs.ensure_hub_for_guild(1, "Road Kings", owner_discord_id=100)


async def _person(
    hub: hubs.Hub,
    discord_id: int,
    name: str,
    *,
    state: MemberState = MemberState.MEMBER,
    number: int | None = None,
    joined: datetime | None = None,
    seen: datetime | None = None,
    discord_roles: tuple[int, ...] = (),
    **user_fields: object,
) -> Member:
    """A row of the hub: a member (numbered, joined) unless told otherwise."""
    user = await users.user_for_discord(discord_id, name)
    if user_fields:
        await users.User.filter(id=user.id).update(**user_fields)
    member = await members.ensure_member(hub.id, user)
    if state == MemberState.MEMBER:
        number = number if number is not None else discord_id
        joined = joined or T0
    await Member.filter(id=member.id).update(
        state=state,
        number=number,
        joined_at=joined,
        last_seen_at=seen,
        discord_role_ids=list(discord_roles),
    )
    return await Member.get(id=member.id).select_related("user")


def _as(member: Member) -> Actor:
    return Actor(member.user_id, member.user.discord_id)


async def _staff(hub: hubs.Hub, *permissions: str) -> Actor:
    role = await Role.create(
        hub=hub, name="Staff", position=50, permissions=list(permissions or ["manage_members"])
    )
    member = await _person(hub, 9000, "staffer", number=9000, seen=datetime.now(UTC))
    await MemberRole.create(member=member, role=role)
    return _as(member)


async def _viewer(hub: hubs.Hub) -> Actor:
    """A plain member, seen just now (so looking at the directory writes no last-seen)."""
    return _as(await _person(hub, 8000, "viewer", number=8000, seen=datetime.now(UTC)))


async def _names(actor: Actor, hub: hubs.Hub, **query: object) -> list[str]:
    page = await directory(actor, hub, DirectoryQuery(limit=100, **query))
    return [item.name for item in page.items]


async def _walk(actor: Actor, hub: hubs.Hub, limit: int, **query: object) -> list[MemberSummary]:
    """Every page of a query, following the cursors."""
    items: list[MemberSummary] = []
    cursor = None
    for _ in range(100):
        page = await directory(actor, hub, DirectoryQuery(limit=limit, cursor=cursor, **query))
        assert len(page.items) <= limit
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items
    raise AssertionError("the walk did not end")


# Searching


async def test_names_are_found_in_any_case_and_script(hub: hubs.Hub) -> None:
    viewer = await _viewer(hub)
    await _person(hub, 1, "Ärger")
    await _person(hub, 2, "Straße")
    await _person(hub, 3, "Bob")
    await _person(hub, 4, "Ｗｉｄｅ")  # full-width letters fold to ASCII (NFKC)
    for q in ("ärger", "ÄRGER", "Ärger", "rge"):
        assert await _names(viewer, hub, q=q) == ["Ärger"], q
    for q in ("strasse", "STRASSE", "Straße", "ß"):
        assert await _names(viewer, hub, q=q) == ["Straße"], q
    assert await _names(viewer, hub, q="wide") == ["Ｗｉｄｅ"]
    assert await _names(viewer, hub, q="  bob ") == ["Bob"]
    assert await _names(viewer, hub, q="nobody") == []


async def test_like_wildcards_in_a_search_are_plain_characters(hub: hubs.Hub) -> None:
    viewer = await _viewer(hub)
    await _person(hub, 1, "Bob")
    await _person(hub, 2, "100%_real")
    assert await _names(viewer, hub, q="%") == ["100%_real"]
    assert await _names(viewer, hub, q="_") == ["100%_real"]
    assert await _names(viewer, hub, q="b_b") == []


async def test_a_member_number_or_an_id_finds_the_member(hub: hubs.Hub) -> None:
    viewer = await _viewer(hub)
    await _person(hub, 111, "Alice", number=3)
    await _person(hub, 222, "Bert", number=33, steam_id=76561198000000001)
    assert await _names(viewer, hub, q="#3") == ["Alice"]
    assert await _names(viewer, hub, q="3") == ["Alice"]
    assert await _names(viewer, hub, q="#33") == ["Bert"]
    assert await _names(viewer, hub, q="222") == ["Bert"]  # Discord id
    assert await _names(viewer, hub, q="76561198000000001") == ["Bert"]  # Steam id


async def test_numbers_too_large_for_an_id_find_nothing_instead_of_failing(
    hub: hubs.Hub,
) -> None:
    viewer = await _viewer(hub)
    await _person(hub, 1, "Alice")
    for q in ("9" * 19, "#" + "9" * 19, str(2**63), "9" * 20, "²", "#١"):
        assert await _names(viewer, hub, q=q) == [], q


async def test_a_renamed_user_is_found_by_the_new_name_in_every_hub(hub: hubs.Hub) -> None:
    other = await hubs.ensure_hub_for_guild(2, "Night Owls", owner_discord_id=200)
    viewer = await _viewer(hub)
    member = await _person(hub, 1, "Alice")
    await members.ensure_member(other.id, member.user)
    user = await users.User.get(id=member.user_id)
    user.username = "Ärger Straße"
    await user.save()
    rows = await Member.filter(user_id=user.id).values_list("search_name", flat=True)
    assert rows == [fold("Ärger Straße")] * 2
    assert await _names(viewer, hub, q="ärger strasse") == ["Ärger Straße"]
    assert await _names(viewer, hub, q="alice") == []
    # Discord renames go the same way.
    await users.user_for_discord(1, "ÖLGA")
    assert await _names(viewer, hub, q="ölga") == ["ÖLGA"]
    assert set(await Member.filter(user_id=user.id).values_list("search_name", flat=True)) == {
        "ölga"
    }


# Filtering


async def test_members_see_members_and_staff_see_every_state(hub: hubs.Hub) -> None:
    viewer = await _viewer(hub)
    staff = await _staff(hub)
    await _person(hub, 1, "Member")
    await _person(hub, 2, "Visitor", state=MemberState.VISITOR)
    await _person(hub, 3, "Gone", state=MemberState.DISMISSED, number=3)
    await _person(hub, 4, "Banned", state=MemberState.BANNED)
    everyone = ["Member", "staffer", "viewer"]
    assert await _names(viewer, hub) == everyone
    # Asking for another state shows a member nobody more.
    assert await _names(viewer, hub, state=MemberState.VISITOR) == everyone
    assert await _names(viewer, hub, state="any") == everyone
    assert await _names(staff, hub) == ["Member", "staffer", "viewer"]
    assert await _names(staff, hub, state=MemberState.VISITOR) == ["Visitor"]
    assert await _names(staff, hub, state=MemberState.DISMISSED) == ["Gone"]
    assert await _names(staff, hub, state="any") == [
        "Banned",
        "Gone",
        "Member",
        "staffer",
        "viewer",
        "Visitor",
    ]


async def test_strangers_and_other_hubs_see_no_directory(hub: hubs.Hub) -> None:
    other = await hubs.ensure_hub_for_guild(2, "Night Owls", owner_discord_id=200)
    outsider = await _person(other, 7, "Outsider")
    await _person(hub, 1, "Alice")
    with pytest.raises(Forbidden) as refused:
        await directory(_as(outsider), hub, DirectoryQuery())
    assert refused.value.code == "not_a_member"
    # The hub's owner (without a row of their own) sees it.
    owner = Actor(None, 100)
    assert [i.name for i in (await directory(owner, hub, DirectoryQuery())).items] == ["Alice"]


async def test_role_filter_finds_given_and_discord_linked_holders(hub: hubs.Hub) -> None:
    viewer = await _viewer(hub)
    driver = await Role.create(hub=hub, name="Driver", position=1, discord_role_id=55)
    plain = await Role.create(hub=hub, name="Trainee", position=2)
    given = await _person(hub, 1, "Given")
    await _person(hub, 2, "Linked", discord_roles=(55, 56))
    await _person(hub, 3, "Neither", discord_roles=(56,))
    await _person(hub, 4, "Lookalike", discord_roles=(155, 551, 5555))  # "55" inside others
    gone = await _person(hub, 5, "Left", discord_roles=(55,))
    await Member.filter(id=gone.id).update(in_guild=False)  # Discord's roles no longer count
    await MemberRole.create(member=given, role=driver)
    assert await _names(viewer, hub, role=driver.id) == ["Given", "Linked"]
    assert await _names(viewer, hub, role=plain.id) == []
    page = await directory(viewer, hub, DirectoryQuery(q="linked"))
    assert [(b.name, b.id) for b in page.items[0].roles] == [("Driver", driver.id)]
    other = await hubs.ensure_hub_for_guild(2, "Night Owls", owner_discord_id=200)
    foreign = await Role.create(hub=other, name="Driver", position=1)
    for role_id in (foreign.id, foreign.id + 1000):
        with pytest.raises(NotFound) as missing:
            await directory(viewer, hub, DirectoryQuery(role=role_id))
        assert missing.value.code == "role_not_found"


async def test_seen_and_joined_ranges_include_the_start_and_exclude_the_end(
    hub: hubs.Hub,
) -> None:
    viewer = await _viewer(hub)
    for day in range(4):
        await _person(
            hub,
            day + 1,
            f"Day {day}",
            joined=T0 + timedelta(days=day),
            seen=T0 + timedelta(days=day, hours=1),
        )
    await _person(hub, 9, "Never seen", joined=T0 + timedelta(days=1))
    day1, day3 = T0 + timedelta(days=1), T0 + timedelta(days=3)
    assert await _names(viewer, hub, joined_after=day1, joined_before=day3) == [
        "Day 1",
        "Day 2",
        "Never seen",
    ]
    seen = await _names(
        viewer, hub, seen_after=day1 + timedelta(hours=1), seen_before=day3 + timedelta(hours=1)
    )
    assert seen == ["Day 1", "Day 2"]
    assert await _names(viewer, hub, joined_before=T0) == []
    # A time without a zone is read as UTC.
    naive = await _names(viewer, hub, joined_after=day3.replace(tzinfo=None))
    assert naive == ["Day 3"]


# Sorting and pages


async def _sorting_world(hub: hubs.Hub) -> None:
    """Members with ties on every sort key and missing values for some."""
    same_time = T0 + timedelta(microseconds=123456)
    people = [
        ("bob", 5, same_time, T0 + timedelta(seconds=30)),
        ("Bob", 6, same_time, None),
        ("Ärger", 2, T0 - timedelta(days=3), T0 + timedelta(seconds=30)),
        ("Zoë", 9, None, T0 + timedelta(seconds=30, microseconds=1)),
        ("alice", 1, same_time, T0 - timedelta(days=400)),
        ("Émile", 4, T0 + timedelta(days=2, microseconds=999999), None),
        ("straße", 7, T0 + timedelta(days=1), T0 + timedelta(days=1)),
        ("Strasse", 3, T0 + timedelta(days=1), T0 + timedelta(days=1)),
    ]
    for i, (name, number, joined, seen) in enumerate(people, start=1):
        member = await _person(hub, i, name, number=number, seen=seen)
        await Member.filter(id=member.id).update(joined_at=joined)
    await _person(hub, 20, "Visitor", state=MemberState.VISITOR, seen=T0)


COLUMNS = {"name": "search_name", "number": "number", "joined": "joined_at", "seen": "last_seen_at"}


async def _expected(hub: hubs.Hub, sort: str) -> list[int]:
    """The members in the sort's order; names as the database collates them (PostgreSQL's
    collation may put "ärger" next to "alice", SQLite's byte order puts it after "zoë")."""
    column = COLUMNS[sort.lstrip("-")]
    rows = await Member.filter(hub_id=hub.id, state=MemberState.MEMBER)
    if column == "search_name":
        ordered = await Member.filter(hub_id=hub.id, state=MemberState.MEMBER).order_by(
            column, "id"
        )
    else:
        present = [m for m in rows if getattr(m, column) is not None]
        ordered = sorted(present, key=lambda m: (getattr(m, column), m.id))
        if column != "number":  # every member has a number
            assert len(ordered) < len(rows)  # rows without a date are left out of its sort
    return [m.id for m in (ordered[::-1] if sort.startswith("-") else ordered)]


@pytest.mark.parametrize("sort", SORTS)
async def test_every_sort_walks_all_pages_without_repeats_or_gaps(hub: hubs.Hub, sort: str) -> None:
    staff = await _staff(hub)
    await _sorting_world(hub)
    await directory(staff, hub, DirectoryQuery())  # the staffer's visit is recorded now
    expected = await _expected(hub, sort)
    assert len(expected) == len(set(expected)) >= 6
    for limit in (1, 2, 3, 100):
        walked = [item.id for item in await _walk(staff, hub, limit, sort=sort)]
        assert walked == expected, (sort, limit)
    if sort == "name":
        names = [item.name for item in await _walk(staff, hub, 2, sort=sort)]
        # Case does not count, and equal names keep the order they were added in.
        assert names[:3] == ["alice", "bob", "Bob"] or names[:4] == ["alice", "Ärger", "bob", "Bob"]
        assert names.index("Strasse") - names.index("straße") in (1, -1)


async def test_the_walk_is_stable_while_rows_change_between_pages(hub: hubs.Hub) -> None:
    staff = await _staff(hub)
    for i in range(1, 7):
        await _person(hub, i, f"driver {i}")
    first = await directory(staff, hub, DirectoryQuery(limit=3))
    assert [i.name for i in first.items] == ["driver 1", "driver 2", "driver 3"]
    await _person(hub, 10, "driver 0")  # sorts before the cursor: not in later pages
    await Member.filter(id=(await Member.get(user__discord_id=5)).id).delete()
    rest = await directory(staff, hub, DirectoryQuery(limit=3, cursor=first.next_cursor))
    assert [i.name for i in rest.items] == ["driver 4", "driver 6", "staffer"]
    assert rest.next_cursor is None


async def test_a_forged_or_foreign_cursor_is_refused(hub: hubs.Hub) -> None:
    staff = await _staff(hub)
    for i in range(1, 4):
        await _person(hub, i, f"driver {i}")
    page = await directory(staff, hub, DirectoryQuery(limit=1, sort="number"))
    assert page.next_cursor is not None
    with pytest.raises(Invalid):
        await directory(staff, hub, DirectoryQuery(cursor=page.next_cursor, sort="name"))
    with pytest.raises(ValidationError):
        DirectoryQuery(cursor="not a cursor")


# Privacy


async def test_hidden_last_seen_shows_only_to_staff_and_the_member(hub: hubs.Hub) -> None:
    viewer = await _viewer(hub)
    staff = await _staff(hub)
    hidden = await _person(hub, 1, "Hidden", seen=T0, privacy={"show_online": False})
    await _person(hub, 2, "Shown", seen=T0)

    async def seen_by(actor: Actor) -> dict[str, datetime | None]:
        page = await directory(actor, hub, DirectoryQuery(q="h"))
        return {item.name: item.last_seen_at for item in page.items}

    assert await seen_by(viewer) == {"Hidden": None, "Shown": T0}
    assert await seen_by(staff) == {"Hidden": T0, "Shown": T0}
    assert (await seen_by(_as(hidden)))["Hidden"] is not None
    assert (await profile(viewer, hub, hidden.id)).last_seen_at is None


async def test_hidden_last_seen_cannot_be_found_by_seen_sorts_or_filters(hub: hubs.Hub) -> None:
    viewer = await _viewer(hub)
    staff = await _staff(hub)
    hidden = await _person(hub, 1, "Hidden", seen=T0, privacy={"show_online": False})
    await _person(hub, 2, "Shown", seen=T0, privacy={"show_online": True})
    await _person(hub, 3, "Default", seen=T0)
    window = {"seen_after": T0, "seen_before": T0 + timedelta(seconds=1)}
    assert await _names(viewer, hub, **window) == ["Default", "Shown"]
    by_seen = await _names(viewer, hub, sort="-seen")
    assert "Hidden" not in by_seen
    assert {"Default", "Shown"} <= set(by_seen)
    assert await _names(staff, hub, **window) == ["Default", "Hidden", "Shown"]
    assert "Hidden" in await _names(_as(hidden), hub, sort="seen")
    # Searching and sorting by anything else still shows them.
    assert await _names(viewer, hub, q="hidden") == ["Hidden"]


@pytest.mark.parametrize("limit", [1, 2, 5])
async def test_a_seen_walk_skips_long_runs_of_hidden_members(hub: hubs.Hub, limit: int) -> None:
    viewer = await _viewer(hub)
    hidden = {"show_online": False}
    shown = []
    for i in range(1, 31):
        name = f"driver {i:02d}"
        quiet = 4 <= i <= 25  # a run longer than any page and its look-ahead
        await _person(hub, i, name, seen=T0 + timedelta(minutes=i), privacy=hidden if quiet else {})
        if not quiet:
            shown.append(name)
    walked = [item.name for item in await _walk(viewer, hub, limit, sort="seen", q="driver")]
    assert walked == shown
    back = [item.name for item in await _walk(viewer, hub, limit, sort="-seen", q="driver")]
    assert back == shown[::-1]


async def test_ids_find_only_members_who_show_their_connections(hub: hubs.Hub) -> None:
    viewer = await _viewer(hub)
    staff = await _staff(hub)
    steam = 76561198000000001
    shy = await _person(
        hub, 1, "Shy", number=50, steam_id=steam, privacy={"show_connections": False}
    )
    for q in (str(steam), "1"):  # the Steam id, the Discord id
        assert await _names(viewer, hub, q=q) == [], q
        assert await _names(staff, hub, q=q) == ["Shy"], q
        assert await _names(_as(shy), hub, q=q) == ["Shy"], q
    # The name and the member number are no secret.
    assert await _names(viewer, hub, q="shy") == ["Shy"]
    assert await _names(viewer, hub, q="#50") == ["Shy"]


async def test_a_profile_hides_connections_by_choice_and_the_staff_part_from_members(
    hub: hubs.Hub,
) -> None:
    viewer = await _viewer(hub)
    staff = await _staff(hub)
    shy = await _person(
        hub, 1, "Shy", steam_id=76561198000000001, privacy={"show_connections": False}
    )
    open_ = await _person(hub, 2, "Open", steam_id=76561198000000002)
    await lifecycle.add_note(staff, hub, open_.id, "reliable")

    seen = await profile(viewer, hub, open_.id)
    assert seen.connections is not None
    assert (seen.connections.discord_id, seen.connections.steam_id) == ("2", "76561198000000002")
    assert seen.staff is None
    assert (await profile(viewer, hub, shy.id)).connections is None
    assert (await profile(_as(shy), hub, shy.id)).connections is not None

    full = await profile(staff, hub, open_.id)
    assert full.staff is not None
    assert full.staff.notes == 1
    assert (await profile(staff, hub, shy.id)).connections is not None


async def test_the_staff_part_needs_manage_members(hub: hubs.Hub) -> None:
    other_staff = await _staff(hub, "manage_roles")
    member = await _person(hub, 1, "Alice")
    assert (await profile(other_staff, hub, member.id)).staff is None


async def test_the_staff_part_tells_the_latest_change(hub: hubs.Hub) -> None:
    staff = await _staff(hub)
    visitor = await _person(hub, 1, "Alice", state=MemberState.VISITOR, discord_roles=(55,))
    await lifecycle.accept(SYSTEM, hub, visitor.id)
    seen = await profile(staff, hub, visitor.id)
    assert seen.staff is not None
    assert seen.staff.last_change == "accepted"
    assert seen.staff.discord_role_ids == ["55"]
    assert seen.state == MemberState.MEMBER
    assert seen.number == 1


async def test_profiles_of_non_members_are_for_staff_and_themselves(hub: hubs.Hub) -> None:
    viewer = await _viewer(hub)
    staff = await _staff(hub)
    visitor = await _person(hub, 1, "Visitor", state=MemberState.VISITOR)
    gone = await _person(hub, 2, "Gone", state=MemberState.DISMISSED, number=2)
    for row in (visitor, gone):
        with pytest.raises(NotFound) as missing:
            await profile(viewer, hub, row.id)
        assert missing.value.code == "member_not_found"
        assert (await profile(staff, hub, row.id)).id == row.id
    assert (await profile(_as(visitor), hub, visitor.id)).state == MemberState.VISITOR
    other = await hubs.ensure_hub_for_guild(2, "Night Owls", owner_discord_id=200)
    foreign = await _person(other, 3, "Foreign")
    with pytest.raises(NotFound):
        await profile(staff, hub, foreign.id)


async def test_my_membership_is_the_actors_own_row(hub: hubs.Hub) -> None:
    member = await _person(hub, 1, "Alice")
    mine = await my_membership(_as(member), hub)
    assert mine is not None
    assert mine.id == member.id
    assert await my_membership(Actor(None, 100), hub) is None


# The audit log


async def test_the_audit_log_filters_by_actor_target_action_and_time(hub: hubs.Hub) -> None:
    staff = await _staff(hub, "view_audit_log")
    entries = [
        ("members.accepted", staff, "1"),
        ("members.role_given", staff, "1"),
        ("roles.created", SYSTEM, "7"),
        ("membersxaccepted", SYSTEM, "1"),  # not in the members. category
    ]
    for action, actor, target in entries:
        await audit.record(actor, action, hub_id=hub.id, target=target)
    other = await hubs.ensure_hub_for_guild(2, "Night Owls", owner_discord_id=200)
    await audit.record(staff, "members.accepted", hub_id=other.id, target="1")

    async def actions(**query: object) -> list[str]:
        page = await audit_log(staff, hub, AuditQuery(**query))
        return [entry.action for entry in page.items]

    assert await actions() == [
        "membersxaccepted",
        "roles.created",
        "members.role_given",
        "members.accepted",
    ]
    assert await actions(actor=staff.user_id) == ["members.role_given", "members.accepted"]
    assert await actions(target="7") == ["roles.created"]
    assert await actions(action="members.accepted") == ["members.accepted"]
    assert await actions(action="members.") == ["members.role_given", "members.accepted"]
    assert await actions(action="members") == []
    later = datetime.now(UTC) + timedelta(seconds=5)
    past = datetime.now(UTC) - timedelta(hours=1)
    assert len(await actions(since=past)) == 4
    assert await actions(since=later) == []
    assert await actions(until=past) == []
    page = await audit_log(staff, hub, AuditQuery(limit=3))
    rest = await audit_log(staff, hub, AuditQuery(limit=3, cursor=page.next_cursor))
    assert [e.action for e in rest.items] == ["members.accepted"]
    assert rest.next_cursor is None


async def test_the_audit_log_needs_view_audit_log(hub: hubs.Hub) -> None:
    staff = await _staff(hub, "manage_members")
    with pytest.raises(Forbidden) as refused:
        await audit_log(staff, hub, AuditQuery())
    assert refused.value.code == "missing_permission"
