"""The applications plugin's domain: types and forms within Discord's limits, answers checked
per kind, eligibility rule by rule, drafts between modals, submitting with its side effects,
one decision under concurrency, changed decisions, conversations, lists and statistics."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from models import hubs
from models.actor import SYSTEM, Actor
from models.applications import (
    Application,
    ApplicationDraft,
    ApplicationMessage,
    ApplicationState,
    ApplicationType,
    ops,
)
from models.applications.forms import Form, steps, validate_answers
from models.applications.schemas import (
    ApplicationQuery,
    MineQuery,
    StatsQuery,
    TypeInput,
    TypeUpdate,
)
from models.audit import AuditLog
from models.auth import now
from models.discord_actions import ActionKind, DiscordAction
from models.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from models.hubs import Hub
from models.members import Member, MemberRole, MemberState, Role, ensure_member, lifecycle
from models.members.bans import BanInput, ban
from models.members.roles import RoleInput, create_role, give_role
from models.notifications.tables import Notification
from models.pagination import PageQuery
from models.users import User
from models.validation import validate
from tests.models.test_points_ledger import _wide_pool

GUILD, OWNER = 42, 10
REVIEW_CHANNEL = 777


# The world


async def _hub(guild_id: int = GUILD, name: str = "Road Kings") -> Hub:
    return await hubs.ensure_hub_for_guild(guild_id, name, OWNER)


async def _user(name: str, discord_id: int | None = None, **extra: Any) -> User:
    return await User.create(username=name, discord_id=discord_id, **extra)


def _actor(user: User) -> Actor:
    return Actor(user_id=user.id, discord_id=user.discord_id)


async def _visitor(hub: Hub, name: str, discord_id: int | None = None, **extra: Any) -> User:
    """Someone the bot saw in the server: a visitor row, in the guild."""
    user = await _user(name, discord_id, **extra)
    await ensure_member(hub.id, user)
    return user


async def _role(hub: Hub, name: str, permissions: list[str] | None = None, **more: Any) -> Role:
    return await create_role(
        SYSTEM, hub, RoleInput(name=name, permissions=permissions or [], **more)
    )


async def _reviewer(hub: Hub, name: str, discord_id: int | None = None) -> User:
    user = await _visitor(hub, name, discord_id)
    role = await Role.get_or_none(hub_id=hub.id, name="Recruiters")
    if role is None:
        role = await _role(hub, "Recruiters", ["review_applications"], position=50)
    member = await Member.get(hub_id=hub.id, user_id=user.id)
    await give_role(SYSTEM, hub, member.id, role.id)
    return user


FIELDS: list[dict[str, Any]] = [
    {"key": "name", "kind": "short", "label": "Your name", "max_length": 20},
    {"key": "about", "kind": "paragraph", "label": "About you", "min_length": 10},
    {"key": "age", "kind": "number", "label": "Age", "min_value": 13, "max_value": 99},
    {"key": "game", "kind": "choice", "label": "Game", "choices": ["ETS2", "ATS"]},
    {
        "key": "days",
        "kind": "multi_choice",
        "label": "Days",
        "choices": ["Mon", "Tue", "Wed"],
        "required": False,
    },
    {"key": "rules", "kind": "yes_no", "label": "Read the rules?"},
    {"key": "born", "kind": "date", "label": "Birthday", "required": False},
    {"key": "site", "kind": "url", "label": "Website", "required": False},
    {"key": "steam", "kind": "steam", "label": "Steam", "required": False},
    {"key": "tmp", "kind": "truckersmp", "label": "TruckersMP", "required": False},
]
GOOD = {"name": "Alice", "about": "I drive a lot.", "age": "21", "game": "ATS", "rules": "yes"}


def _input(**more: Any) -> TypeInput:
    data = {"name": "Driver", "form": {"fields": FIELDS}, "review_channel_id": REVIEW_CHANNEL}
    return TypeInput.model_validate({**data, **more})


async def _type(hub: Hub, **more: Any) -> ApplicationType:
    return await ops.create_type(SYSTEM, hub, _input(**more))


def _fields_of(exc: DomainError) -> set[str]:
    return {e["field"] for e in exc.params["errors"]}


# Forms and Discord's limits


def test_a_form_discord_cannot_show_is_refused_naming_the_field() -> None:
    base = [{"key": f"f{i}", "kind": "short", "label": "x"} for i in range(3)]
    long_label = [*base, {"key": "f3", "kind": "short", "label": "L" * 46}]
    radio = [*base, {"key": "f3", "kind": "choice", "label": "x", "display": "radio",
                     "choices": [str(i) for i in range(11)]}]  # fmt: skip
    for fields, path in ((long_label, "form.fields.3.label"), (radio, "form.fields.3.choices")):
        with pytest.raises(Invalid) as caught:
            validate(TypeInput, {"name": "Driver", "form": {"fields": fields}})
        assert _fields_of(caught.value) == {path}


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ({"kind": "choice", "choices": [str(i) for i in range(26)]}, "choices"),
        (
            {"kind": "multi_choice", "display": "checkboxes", "choices": list("abcdefghijk")},
            "choices",
        ),
        ({"kind": "choice", "choices": ["a", "a"]}, "choices"),
        ({"kind": "short", "choices": ["a"]}, "choices"),
        ({"kind": "short", "help": "h" * 101}, "help"),
        ({"kind": "short", "min_length": 5, "max_length": 2}, "max_length"),
        ({"kind": "short", "max_length": 4001}, "max_length"),
        ({"kind": "number", "min_length": 2}, "min_length"),
        ({"kind": "short", "min_value": 2}, "min_value"),
        ({"kind": "yes_no", "display": "select"}, "display"),
        ({"kind": "short", "key": "Bad Key"}, "key"),
    ],
)
def test_each_field_rule_names_its_path(field: dict[str, Any], path: str) -> None:
    spec = {"key": "q", "label": "Question", **field}
    with pytest.raises(Invalid) as caught:
        validate(TypeInput, {"name": "T", "form": {"fields": [spec]}})
    assert _fields_of(caught.value) == {f"form.fields.0.{path}"}


def test_forms_are_shown_in_steps_of_five_and_keys_are_unique() -> None:
    form = Form.model_validate(
        {"fields": [{"key": f"f{i}", "kind": "short", "label": "x"} for i in range(12)]}
    )
    assert [len(page) for page in steps(form)] == [5, 5, 2]
    twice = [{"key": "a", "kind": "short", "label": "x"}] * 2
    with pytest.raises(Invalid) as caught:
        validate(TypeInput, {"name": "T", "form": {"fields": twice}})
    assert _fields_of(caught.value) == {"form.fields"}
    too_many = [{"key": f"f{i}", "kind": "short", "label": "x"} for i in range(26)]
    with pytest.raises(Invalid):
        validate(TypeInput, {"name": "T", "form": {"fields": too_many}})


# Answers, kind by kind


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("name", "A" * 21),  # too long
        ("about", "short"),  # too short
        ("age", "12"),  # out of range
        ("age", "twelve"),  # not a number
        ("game", "Snowrunner"),  # choice not offered
        ("days", ["Mon", "Sun"]),
        ("rules", "maybe"),
        ("born", "2026-02-30"),
        ("born", "01.02.2000"),
        ("site", "javascript:alert(1)"),
        ("steam", "https://steamcommunity.com/id/vanity"),
        ("tmp", "https://example.com/user/1"),
    ],
)
def test_a_wrong_answer_is_named_by_its_key(key: str, value: Any) -> None:
    form = Form.model_validate({"fields": FIELDS})
    with pytest.raises(Invalid) as caught:
        validate_answers(form, {**GOOD, key: value})
    assert _fields_of(caught.value) == {key}


def test_answers_are_normalised_and_missing_required_ones_named() -> None:
    form = Form.model_validate({"fields": FIELDS})
    clean = validate_answers(
        form,
        {
            **GOOD,
            "days": ["Wed", "Mon"],
            "born": "2000-02-29",
            "steam": "https://steamcommunity.com/profiles/76561198000000001/",
            "tmp": "https://truckersmp.com/user/12345",
            "site": "https://example.com/me",
        },
    )
    assert (clean["age"], clean["rules"]) == (21, True)
    assert clean["days"] == ["Mon", "Wed"]  # the form's order
    assert (clean["steam"], clean["tmp"]) == ("76561198000000001", 12345)
    with pytest.raises(Invalid) as caught:
        validate_answers(form, {"name": "  ", "extra": "x"})
    assert _fields_of(caught.value) == {"name", "about", "age", "game", "rules", "extra"}
    # One step's fields only
    assert validate_answers(form, {"name": "Al"}, only=["name", "born"]) == {"name": "Al"}


# Types


async def test_types_are_managed_with_manage_applications_only() -> None:
    hub = await _hub()
    app_type = await _type(hub)
    stranger = _actor(await _visitor(hub, "sam", 5))
    with pytest.raises(Forbidden) as caught:
        await ops.create_type(stranger, hub, _input())
    assert caught.value.code == "missing_permission"
    changed = await ops.update_type(SYSTEM, hub, app_type.id, TypeUpdate(active=False))
    assert changed.active is False
    assert await ops.open_types(stranger, hub) == []
    with pytest.raises(NotFound):
        await ops.get_type(stranger, hub, app_type.id, for_applying=True)
    assert await AuditLog.filter(action="applications.type_updated").count() == 1


async def test_a_type_names_roles_of_its_own_hub_only() -> None:
    hub, other = await _hub(), await _hub(43, "Other")
    theirs = await _role(other, "Theirs")
    data = validate(
        TypeInput, {"name": "T", "form": {"fields": FIELDS}, "give_role_ids": [theirs.id]}
    )
    with pytest.raises(Invalid) as caught:
        await ops.create_type(SYSTEM, hub, data)
    assert _fields_of(caught.value) == {"give_role_ids.0"}


# Eligibility


async def test_each_eligibility_rule_refuses_with_its_own_code() -> None:
    hub = await _hub()
    vip = await _role(hub, "VIP")
    muted = await _role(hub, "Muted")
    alice = await _visitor(hub, "alice", 1)
    me = _actor(alice)
    cases = [
        ({"require_steam": True}, "steam_required"),
        ({"require_verified_email": True}, "email_required"),
        ({"member_state": "member"}, "members_only"),
        ({"any_of_role_ids": [vip.id]}, "role_required"),
    ]
    for rules, code in cases:
        app_type = await _type(hub, name=f"T {code}", **rules)
        with pytest.raises(Forbidden) as caught:
            await ops.submit(me, hub, app_type.id, GOOD)
        assert caught.value.code == code
    member = await Member.get(user_id=alice.id)
    await give_role(SYSTEM, hub, member.id, muted.id)
    blocked = await _type(hub, name="Blocked", forbidden_role_ids=[muted.id])
    with pytest.raises(Forbidden) as caught:
        await ops.submit(me, hub, blocked.id, GOOD)
    assert (caught.value.code, caught.value.params["role"]) == ("role_forbidden", "Muted")
    await lifecycle.accept(SYSTEM, hub, member.id)
    drivers = await _type(hub, name="Drivers only", member_state="not_member")
    with pytest.raises(Forbidden) as caught:
        await ops.submit(me, hub, drivers.id, GOOD)
    assert caught.value.code == "not_for_members"
    # The message names the rule, in German too
    from models.i18n import render

    assert "Drivers only" in str(caught.value)
    assert render(caught.value.message, "de")  # a text to render in any language


async def test_website_visitors_are_not_in_the_server() -> None:
    hub = await _hub()
    app_type = await _type(hub, require_in_guild=True)
    web_user = await _user("wendy")  # no Discord account, never seen by the bot
    with pytest.raises(Forbidden) as caught:
        await ops.submit(_actor(web_user), hub, app_type.id, GOOD)
    assert caught.value.code == "not_in_server"
    bot_seen = await _visitor(hub, "bob", 2)
    assert (await ops.submit(_actor(bot_seen), hub, app_type.id, GOOD)).state == "pending"


async def test_one_pending_per_type_and_a_cooldown_after_a_decline() -> None:
    hub = await _hub()
    app_type = await _type(hub, cooldown_days=7)
    alice, rita = await _visitor(hub, "alice", 1), await _reviewer(hub, "rita", 3)
    first = await ops.submit(_actor(alice), hub, app_type.id, GOOD)
    with pytest.raises(Conflict) as caught:
        await ops.submit(_actor(alice), hub, app_type.id, GOOD)
    assert caught.value.code == "already_pending"
    await ops.decide(_actor(rita), hub, first.id, False, "not yet")
    with pytest.raises(Forbidden) as caught:
        await ops.submit(_actor(alice), hub, app_type.id, GOOD)
    assert caught.value.code == "cooldown"
    with time_machine.travel(now() + timedelta(days=7, minutes=1)):
        again = await ops.submit(_actor(alice), hub, app_type.id, GOOD)
    assert again.state == ApplicationState.PENDING
    several = await _type(hub, name="Events", allow_several_pending=True)
    await ops.submit(_actor(alice), hub, several.id, GOOD)
    await ops.submit(_actor(alice), hub, several.id, GOOD)


async def test_a_banned_person_cannot_apply() -> None:
    hub = await _hub()
    app_type = await _type(hub)
    bad = await _visitor(hub, "bad", 66)
    await ban(SYSTEM, hub, BanInput(discord_id=66, reason="spam"))
    with pytest.raises(Forbidden) as caught:
        await ops.submit(_actor(bad), hub, app_type.id, GOOD)
    assert caught.value.code == "banned"


async def test_another_hubs_or_an_inactive_type_is_unknown() -> None:
    hub, other = await _hub(), await _hub(43, "Other")
    theirs = await _type(other)
    inactive = await _type(hub, name="Old", active=False)
    alice = _actor(await _visitor(hub, "alice", 1))
    for type_id in (theirs.id, inactive.id, 10**12):
        with pytest.raises(NotFound) as caught:
            await ops.submit(alice, hub, type_id, GOOD)
        assert caught.value.code == "type_not_found"


# Submitting


async def test_submitting_queues_the_review_tells_reviewers_and_changes_roles() -> None:
    hub = await _hub()
    applicant_role = await _role(hub, "Applicant", discord_role_id=9001)
    visitor_role = await _role(hub, "Visitor")
    rita = await _reviewer(hub, "rita", 3)
    app_type = await _type(
        hub, submit_give_role_ids=[applicant_role.id], submit_remove_role_ids=[visitor_role.id]
    )
    alice = await _visitor(hub, "alice", 1)
    member = await Member.get(user_id=alice.id)
    await give_role(SYSTEM, hub, member.id, visitor_role.id)
    application = await ops.submit(_actor(alice), hub, app_type.id, GOOD)
    assert application.answers["age"] == 21
    review = await DiscordAction.get(target_key=f"application:{application.id}")
    assert (review.kind, review.channel_id) == (ActionKind.POST, REVIEW_CHANNEL)
    assert review.payload == {"render": "applications.review", "application_id": application.id}
    held = set(await MemberRole.filter(member_id=member.id).values_list("role_id", flat=True))
    assert held == {applicant_role.id}
    assert await DiscordAction.filter(kind=ActionKind.ADD_ROLE, role_id=9001).exists()
    told = await Notification.get(kind="application.received")
    assert (told.user_id, told.data["applicant"]) == (rita.id, "alice")
    # Withdrawing undoes what submitting changed
    await ops.withdraw(_actor(alice), hub, application.id)
    held = set(await MemberRole.filter(member_id=member.id).values_list("role_id", flat=True))
    assert held == {visitor_role.id}
    with pytest.raises(Conflict):
        await ops.withdraw(_actor(alice), hub, application.id)


async def test_a_form_in_steps_keeps_answers_between_modals_until_they_expire() -> None:
    hub = await _hub()
    fields = [{"key": f"q{i}", "kind": "short", "label": f"Q{i}"} for i in range(12)]
    app_type = await _type(hub, form={"fields": fields})
    alice = _actor(await _visitor(hub, "alice", 1))
    draft = await ops.start_draft(alice, hub, app_type.id)
    pages = steps(ops.form_of(app_type))
    with pytest.raises(Invalid) as caught:
        await ops.save_step(alice, hub, draft.id, 0, {"q0": "a"})
    assert _fields_of(caught.value) == {"q1", "q2", "q3", "q4"}
    with pytest.raises(Invalid) as caught:
        await ops.save_step(alice, hub, draft.id, 2, {})
    assert caught.value.code == "bad_step"
    for index, page in enumerate(pages):
        draft = await ops.save_step(alice, hub, draft.id, index, {f.key: "x" for f in page})
    assert draft.step == 3
    # Someone else's draft is as unknown as an expired one
    bob = _actor(await _visitor(hub, "bob", 2))
    with pytest.raises(NotFound) as caught:
        await ops.submit_draft(bob, hub, draft.id)
    assert caught.value.code == "draft_expired"
    application = await ops.submit_draft(alice, hub, draft.id)
    assert len(application.answers) == 12
    assert not await ApplicationDraft.exists()
    # An expired draft says so, and how to go on
    late = await ops.start_draft(bob, hub, app_type.id)
    later = now() + ops.DRAFT_TTL + timedelta(seconds=1)
    with time_machine.travel(later), pytest.raises(NotFound) as caught:
        await ops.save_step(bob, hub, late.id, 0, {f"q{i}": "x" for i in range(5)})
    assert caught.value.code == "draft_expired"
    assert "again" in str(caught.value)


# Deciding


async def test_accepting_makes_a_member_and_runs_the_accept_actions() -> None:
    hub = await _hub()
    driver = await _role(hub, "Driver", discord_role_id=8001)
    applicant_role = await _role(hub, "Applicant")
    app_type = await _type(
        hub,
        make_member=True,
        give_role_ids=[driver.id],
        remove_role_ids=[applicant_role.id],
        submit_give_role_ids=[applicant_role.id],
    )
    rita, alice = await _reviewer(hub, "rita", 3), await _visitor(hub, "alice", 1)
    application = await ops.submit(_actor(alice), hub, app_type.id, GOOD)
    decided = await ops.decide(_actor(rita), hub, application.id, True, "welcome")
    assert (decided.state, decided.decided_by_id) == (ApplicationState.ACCEPTED, rita.id)
    member = await Member.get(user_id=alice.id)
    assert (member.state, member.number) == (MemberState.MEMBER, 1)
    held = set(await MemberRole.filter(member_id=member.id).values_list("role_id", flat=True))
    assert held == {driver.id}
    assert await DiscordAction.filter(kind=ActionKind.ADD_ROLE, role_id=8001).exists()
    told = await Notification.get(kind="application.decided", user_id=alice.id)
    assert told.data["decision"] == {"t": "accepted"}
    assert await AuditLog.filter(action="applications.decided", actor_id=rita.id).exists()
    assert await DiscordAction.filter(target_key=f"application:{application.id}").exists()
    # Changing the decision reverts exactly that
    changed = await ops.change_decision(_actor(rita), hub, application.id, False, "a mistake")
    assert changed.state == ApplicationState.DECLINED
    member = await Member.get(user_id=alice.id)
    assert member.state == MemberState.DISMISSED
    held = set(await MemberRole.filter(member_id=member.id).values_list("role_id", flat=True))
    assert held == set()
    assert await AuditLog.filter(action="applications.decision_changed").exists()
    assert await Notification.filter(kind="application.decided", user_id=alice.id).count() == 2
    with pytest.raises(Conflict) as caught:
        await ops.change_decision(_actor(rita), hub, application.id, False, "again")
    assert caught.value.code == "same_decision"
    back = await ops.change_decision(_actor(rita), hub, application.id, True, "after all")
    assert back.state == ApplicationState.ACCEPTED
    assert (await Member.get(user_id=alice.id)).state == MemberState.MEMBER


async def test_accepting_a_member_already_is_no_error() -> None:
    hub = await _hub()
    app_type = await _type(hub, make_member=True)
    rita, alice = await _reviewer(hub, "rita", 3), await _visitor(hub, "alice", 1)
    await lifecycle.accept(SYSTEM, hub, (await Member.get(user_id=alice.id)).id)
    application = await ops.submit(_actor(alice), hub, app_type.id, GOOD)
    decided = await ops.decide(_actor(rita), hub, application.id, True)
    assert decided.effects["accepted"]["made_member"] is False


async def test_a_second_decision_names_the_first() -> None:
    hub = await _hub()
    app_type = await _type(hub)
    rita, rob = await _reviewer(hub, "rita", 3), await _reviewer(hub, "rob", 4)
    alice = await _visitor(hub, "alice", 1)
    application = await ops.submit(_actor(alice), hub, app_type.id, GOOD)
    await ops.decide(_actor(rita), hub, application.id, True)
    with pytest.raises(Conflict) as caught:
        await ops.decide(_actor(rob), hub, application.id, False, "no")
    assert caught.value.code == "already_decided"
    assert str(caught.value) == "rita already accepted this application."


async def test_two_reviewers_deciding_at_once_give_one_decision(database_url: str) -> None:
    hub = await _hub()
    app_type = await _type(hub, make_member=True)
    reviewers = [await _reviewer(hub, f"r{i}", 100 + i) for i in range(20)]
    applicants = [await _visitor(hub, f"a{i}", 200 + i) for i in range(4)]
    applications = [await ops.submit(_actor(a), hub, app_type.id, GOOD) for a in applicants]
    async with _wide_pool(database_url) as pool:
        jobs = [
            ops.decide(_actor(r), hub, app.id, i % 2 == 0, f"by {r.username}")
            for app in applications
            for i, r in enumerate(reviewers)
        ]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        if pool is not None:
            assert pool.get_size() >= 16  # the decisions really ran side by side
    won = [r for r in results if isinstance(r, Application)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == len(applications)
    assert len(lost) == len(results) - len(applications)
    assert {c.code for c in lost} == {"already_decided"}
    for app in applications:
        stored = await Application.get(id=app.id)
        winner = next(w for w in won if w.id == app.id)
        assert (stored.state, stored.decided_by_id) == (winner.state, winner.decided_by_id)
        assert await AuditLog.filter(action="applications.decided", target=str(app.id)).count() == 1
    members = await Member.filter(hub_id=hub.id, state=MemberState.MEMBER).count()
    assert members == sum(1 for w in won if w.state == ApplicationState.ACCEPTED)


async def test_reviewing_needs_the_permission_or_a_reviewer_role() -> None:
    hub = await _hub()
    leads = await _role(hub, "Event leads")
    app_type = await _type(hub, reviewer_role_ids=[leads.id])
    alice, sam = await _visitor(hub, "alice", 1), await _visitor(hub, "sam", 5)
    application = await ops.submit(_actor(alice), hub, app_type.id, GOOD)
    with pytest.raises(Forbidden) as caught:
        await ops.decide(_actor(sam), hub, application.id, True)
    assert caught.value.code == "missing_permission"
    with pytest.raises(NotFound):
        await ops.get_application(_actor(sam), hub, application.id)
    with pytest.raises(Forbidden):
        await ops.list_applications(_actor(sam), hub, ApplicationQuery())
    # Holding the type's reviewer role is enough for this type
    await give_role(SYSTEM, hub, (await Member.get(user_id=sam.id)).id, leads.id)
    assert (await ops.claim(_actor(sam), hub, application.id)).claimed_by_id == sam.id
    told = await Notification.filter(kind="application.received").values_list("user_id", flat=True)
    assert told == []  # sam got the role after the application came in
    rob = await _reviewer(hub, "rob", 4)
    with pytest.raises(Conflict) as caught:
        await ops.claim(_actor(rob), hub, application.id)
    assert (caught.value.code, caught.value.params["name"]) == ("already_claimed", "sam")
    assigned = await ops.assign(_actor(sam), hub, application.id, rob.id)
    assert assigned.claimed_by_id == rob.id
    assert await Notification.filter(kind="application.assigned", user_id=rob.id).exists()
    with pytest.raises(Invalid):
        await ops.assign(_actor(sam), hub, application.id, alice.id)


# The conversation


async def test_a_conversation_tells_the_other_side() -> None:
    hub = await _hub()
    app_type = await _type(hub)
    rita, alice = await _reviewer(hub, "rita", 3), await _visitor(hub, "alice", 1)
    application = await ops.submit(_actor(alice), hub, app_type.id, GOOD)
    await ops.record_review_post(application.id, REVIEW_CHANNEL, 5555, 6666)
    asked = await ops.add_message(_actor(rita), hub, application.id, "Which truck?")
    assert asked.from_staff
    note = await Notification.get(kind="application.message")
    assert (note.user_id, note.data["text"]) == (alice.id, "Which truck?")
    answer = await ops.add_message(_actor(alice), hub, application.id, "A Scania.")
    assert not answer.from_staff
    assert await Notification.filter(kind="application.reply", user_id=rita.id).exists()
    posted = await DiscordAction.get(target_key=f"application-message:{answer.id}")
    assert posted.channel_id == 6666
    assert posted.payload == {"render": "applications.message", "message_id": answer.id}
    page = await ops.messages(_actor(alice), hub, application.id)
    assert [m.text for m in page.items] == ["Which truck?", "A Scania."]
    stranger = await _visitor(hub, "sam", 5)
    with pytest.raises(NotFound):
        await ops.add_message(_actor(stranger), hub, application.id, "hi")
    await ops.delete_application(SYSTEM, hub, application.id)
    assert not await ApplicationMessage.exists()


# Lists and statistics


async def test_lists_filter_and_page_and_statistics_count() -> None:
    hub = await _hub()
    drivers, staff = await _type(hub), await _type(hub, name="Staff", allow_several_pending=True)
    rita, rob = await _reviewer(hub, "rita", 3), await _reviewer(hub, "rob", 4)
    people = [await _visitor(hub, f"p{i}", 300 + i) for i in range(6)]
    start = now()
    made = []
    for i, person in enumerate(people):
        with time_machine.travel(start + timedelta(hours=i)):
            made.append(await ops.submit(_actor(person), hub, drivers.id, GOOD))
    extra = await ops.submit(_actor(people[0]), hub, staff.id, GOOD)
    with time_machine.travel(start + timedelta(hours=10)):
        await ops.decide(_actor(rita), hub, made[0].id, True)  # after 10 h
        await ops.decide(_actor(rita), hub, made[1].id, False)  # 9 h
        await ops.decide(_actor(rob), hub, made[2].id, True)  # 8 h
    reviewer = _actor(rita)
    page = await ops.list_applications(reviewer, hub, ApplicationQuery(limit=4))
    assert [a.id for a in page.items] == [extra.id, *[m.id for m in made[::-1][:3]]]
    rest = await ops.list_applications(
        reviewer, hub, ApplicationQuery(limit=4, cursor=page.next_cursor)
    )
    assert [a.id for a in rest.items] == [m.id for m in made[2::-1]]
    assert rest.next_cursor is None
    by = await ops.list_applications(reviewer, hub, ApplicationQuery(reviewer=rita.id))
    assert {a.id for a in by.items} == {made[0].id, made[1].id}
    pending = await ops.list_applications(
        reviewer, hub, ApplicationQuery(state="pending", type=drivers.id)
    )
    assert {a.id for a in pending.items} == {m.id for m in made[3:]}
    since = await ops.list_applications(
        reviewer, hub, ApplicationQuery(since=start + timedelta(hours=4, minutes=1))
    )
    assert {a.id for a in since.items} == {made[5].id}
    mine = await ops.my_applications(_actor(people[0]), hub, MineQuery())
    assert {a.id for a in mine.items} == {made[0].id, extra.id}
    with time_machine.travel(start + timedelta(hours=11)):
        figures = await ops.statistics(reviewer, hub, StatsQuery(days=30))
    assert figures.counts == {"pending": 4, "accepted": 2, "declined": 1, "withdrawn": 0}
    assert {t.name: t.counts for t in figures.types}["Staff"] == {"pending": 1}
    assert figures.median_hours_to_decision == 9.0
    assert sum(w.received for w in figures.weeks) == 7
    assert sum(w.accepted for w in figures.weeks) == 2
    assert [(r.name, r.accepted, r.declined) for r in figures.reviewers] == [
        ("rita", 1, 1),
        ("rob", 1, 0),
    ]
    assert figures.reviewers[0].median_hours == 9.5


async def test_the_plugin_switch_turns_everything_off() -> None:
    hub = await _hub()
    app_type = await _type(hub)
    await hubs.update_hub(SYSTEM, hub, hubs.HubUpdate(plugins={"applications": False}))
    hub = await Hub.get(id=hub.id)
    alice = _actor(await _visitor(hub, "alice", 1))
    with pytest.raises(NotFound) as caught:
        await ops.submit(alice, hub, app_type.id, GOOD)
    assert caught.value.code == "plugin_disabled"
    with pytest.raises(NotFound):
        await ops.messages(alice, hub, 1, PageQuery())
