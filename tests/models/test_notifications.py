"""The notification center: who is told what, on which channels, and the events wired to it.

`notify` runs inside the transaction of the change it reports, so a rollback tells nobody;
preferences choose the channels, except for security notices; a burst of DMs becomes one.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from models import accounts, admin, auth, hubs, mfa, outbox, users
from models.accounts import AccountPolicy, PasswordChange, ResetConfirm, ResetRequest
from models.actor import SYSTEM, Actor
from models.errors import Conflict, Forbidden, Invalid
from models.hubs import Hub
from models.members import Member, MemberState, ensure_member, lifecycle
from models.members.bans import BanInput, ban
from models.members.roles import RoleInput, create_role, give_role, take_role
from models.notifications import center, digest
from models.notifications.tables import DmState, Notification, NotificationPreference
from models.outbox import OutboxItem, OutboxKind
from models.points.ledger import CorrectionInput, GrantInput, correct, grant
from models.points.ranks import RankInput, create_rank
from models.users import User
from tests.web.auth_client import create_user, totp

OWNER = 10
POLICY = AccountPolicy(link_base="https://hub.example.com", password_reset_ttl=3600)


@pytest.fixture
async def hub() -> Hub:
    return await hubs.ensure_hub_for_guild(77, "Road Kings", OWNER)


async def _visitor(hub: Hub, name: str = "alice", discord_id: int = 555) -> Member:
    user = await users.user_for_discord(discord_id, name)
    return await ensure_member(hub.id, user)


async def _member(hub: Hub, name: str = "alice", discord_id: int = 555) -> Member:
    visitor = await _visitor(hub, name, discord_id)
    await lifecycle.accept(SYSTEM, hub, visitor.id)
    return await Member.get(id=visitor.id).select_related("user")


async def _notify(user_id: int, kind: str, data: dict[str, Any] | None = None, **options: Any):
    async with in_transaction():
        return await center.notify([user_id], kind, data, **options)


async def _told(user_id: int, kind: str | None = None) -> list[Notification]:
    rows = Notification.filter(user_id=user_id).order_by("id")
    return await (rows.filter(kind=kind) if kind else rows)


def _choose(user_id: int, kind: str, channel: str, enabled: bool):
    return NotificationPreference.create(
        user_id=user_id, kind=kind, channel=channel, enabled=enabled
    )


async def _digests(user_id: int) -> list[OutboxItem]:
    return await OutboxItem.filter(
        kind=OutboxKind.DISCORD_DM, template=center.DIGEST, user_id=user_id
    ).order_by("id")


# Channels: defaults, preferences, security notices


async def test_a_kind_reaches_its_default_channels(hub: Hub) -> None:
    alice = await _member(hub)
    [welcome] = await _told(alice.user_id, "member.accepted")
    assert (welcome.in_app, welcome.dm_state, welcome.hub_id) == (True, DmState.WAITING, hub.id)
    assert len(await _digests(alice.user_id)) == 1
    # member.resigned is in-app only: no DM for it.
    await lifecycle.resign(Actor(alice.user_id, 555), hub, confirm=True)
    [left] = await _told(alice.user_id, "member.resigned")
    assert (left.in_app, left.dm_state) == (True, DmState.NONE)


async def test_preferences_choose_the_channels_per_kind_over_every_kind(hub: Hub) -> None:
    alice = await _visitor(hub)
    kind = "member.rank_changed"
    await _choose(alice.user_id, center.EVERY_KIND, "in_app", False)
    await _choose(alice.user_id, kind, "in_app", True)  # this kind wins over "*"
    await _choose(alice.user_id, kind, "discord", False)
    [note] = await _notify(alice.user_id, kind, {"hub": hub.name}, hub=hub)
    assert (note.in_app, note.dm_state) == (True, DmState.NONE)
    # Another kind follows "*": not in-app, but still by DM (its default).
    [other] = await _notify(alice.user_id, "member.accepted", {"hub": hub.name}, hub=hub)
    assert (other.in_app, other.dm_state) == (False, DmState.WAITING)
    unread = await center.unread_count(Actor(alice.user_id))
    assert unread == 1  # the DM-only one is not in the in-app list


async def test_a_kind_muted_everywhere_writes_nothing_and_dms_off_win(hub: Hub) -> None:
    alice = await _visitor(hub)
    await _choose(alice.user_id, "member.accepted", "in_app", False)
    await _choose(alice.user_id, "member.accepted", "discord", False)
    assert await _notify(alice.user_id, "member.accepted", {"hub": "x"}, hub=hub) == []
    # DMs off as a whole beat a kind's own "discord: on".
    await _choose(alice.user_id, "member.dismissed", "discord", True)
    await _choose(alice.user_id, center.EVERY_KIND, "discord", False)
    [note] = await _notify(alice.user_id, "member.dismissed", {"hub": "x"}, hub=hub)
    assert note.dm_state == DmState.NONE
    assert await _digests(alice.user_id) == []


async def test_dms_turned_back_on_keep_in_app_only_kinds_in_app(hub: Hub) -> None:
    # "*" on discord is the DMs switch: on again must not make every kind a DM.
    alice = await _visitor(hub)
    await _choose(alice.user_id, center.EVERY_KIND, "discord", True)
    [note] = await _notify(alice.user_id, "member.roles_changed", {"hub": "x"}, hub=hub)
    assert note.dm_state == DmState.NONE
    [other] = await _notify(alice.user_id, "member.accepted", {"hub": "x"}, hub=hub)
    assert other.dm_state == DmState.WAITING


async def test_security_notices_ignore_mutes_and_reach_the_mailbox() -> None:
    alice = await create_user()
    for channel in ("in_app", "email"):
        await _choose(alice.id, center.EVERY_KIND, channel, False)
        await _choose(alice.id, "account.password_changed", channel, False)
    [note] = await _notify(alice.id, "account.password_changed")
    assert (note.in_app, note.hub_id) == (True, None)
    [mail] = await OutboxItem.filter(kind=OutboxKind.EMAIL, template=center.EMAIL)
    assert (mail.address, mail.params) == ("alice@example.com", {"notification_id": note.id})
    assert await center.email_params(mail, None) == {
        "title": "Your password was changed",
        "body": "If this was not you, reset your password now.",
        "footer": "This is a security notice about your account: it is always sent.",
    }


async def test_security_notices_cannot_be_muted_and_unknown_kinds_are_refused() -> None:
    alice = await create_user()
    mute = center.PreferenceChange(kind="account.new_login", channel="email", enabled=False)
    with pytest.raises(Conflict) as refused:
        await center.set_preferences(Actor(alice.id), center.PreferencesInput(changes=[mute]), None)
    assert refused.value.code == "not_mutable"
    mute = center.PreferenceChange(kind="member.flew", channel="in_app", enabled=False)
    with pytest.raises(Invalid) as unknown:
        await center.set_preferences(Actor(alice.id), center.PreferencesInput(changes=[mute]), None)
    assert unknown.value.code == "unknown_kind"
    assert not await NotificationPreference.filter(user_id=alice.id).exists()


async def test_a_user_of_another_hub_never_gets_a_hubs_notification(hub: Hub) -> None:
    other = await hubs.ensure_hub_for_guild(78, "Night Owls", OWNER)
    insider = await _visitor(hub)
    outsider = await _visitor(other, "bob", 556)
    async with in_transaction():
        written = await center.notify(
            [insider.user_id, outsider.user_id], "member.accepted", {"hub": hub.name}, hub=hub
        )
    assert [n.user_id for n in written] == [insider.user_id]
    assert await _told(outsider.user_id) == []
    assert await _digests(outsider.user_id) == []


async def test_an_undeclared_kind_is_a_programming_error() -> None:
    alice = await create_user()
    with pytest.raises(ValueError, match=r"member\.flew"):
        await _notify(alice.id, "member.flew")


# Discord DMs: a burst in the window is one DM


async def test_a_burst_within_the_window_becomes_one_dm_with_all_of_them(hub: Hub) -> None:
    alice = await _visitor(hub)
    for rank in ("Rookie", "Driver", "Pro"):
        await _notify(
            alice.user_id, "member.rank_changed", {"hub": hub.name, "rank": rank}, hub=hub
        )
    [item] = await _digests(alice.user_id)
    assert item.address == "555"
    notes = await digest.take(item)
    assert len(notes) == 3
    assert {n.dm_state for n in await _told(alice.user_id)} == {DmState.TAKEN}
    text = await digest.text(item, notes)
    assert text.index("now Rookie") < text.index("now Driver") < text.index("now Pro")
    # What comes after the DM was taken waits for a DM of its own, after this one.
    await _notify(alice.user_id, "member.accepted", {"hub": hub.name, "number": 1}, hub=hub)
    assert len(await _digests(alice.user_id)) == 1  # the first one has not been tried yet
    await OutboxItem.filter(id=item.id).update(attempts=1, status="sent")
    await digest.follow_up(item)
    assert len(await _digests(alice.user_id)) == 2


async def test_a_long_burst_is_cut_to_the_newest_few_and_counted(hub: Hub) -> None:
    alice = await _visitor(hub)
    for number in range(digest.SHOWN + 3):
        await _notify(alice.user_id, "member.accepted", {"hub": "H", "number": number}, hub=hub)
    [item] = await _digests(alice.user_id)
    text = await digest.text(item, await digest.take(item))
    assert text.count("Welcome to H") == digest.SHOWN
    assert text.endswith("…and 3 more in your notifications.")
    assert len(text) <= digest.MESSAGE_LIMIT


async def test_a_refused_dm_turns_dms_off_with_an_in_app_notice(hub: Hub) -> None:
    alice = await _visitor(hub)
    await _notify(alice.user_id, "member.accepted", {"hub": hub.name}, hub=hub)
    async with in_transaction():
        await center.dms_refused(alice.user_id)
    notes = await _told(alice.user_id)
    assert [n.kind for n in notes] == ["member.accepted", "notifications.dm_blocked"]
    assert [n.dm_state for n in notes] == [DmState.NONE, DmState.NONE]
    prefs = await center.preferences(Actor(alice.user_id), None)
    assert prefs.direct_messages is False
    [later] = await _notify(alice.user_id, "member.dismissed", {"hub": hub.name}, hub=hub)
    assert later.dm_state == DmState.NONE


# Wired events: each change tells the person it concerns


async def test_accepting_tells_the_member_their_number(hub: Hub) -> None:
    alice = await _member(hub)
    [note] = await _told(alice.user_id)
    assert (note.kind, note.data, note.hub_id) == (
        "member.accepted",
        {"hub": "Road Kings", "number": 1},
        hub.id,
    )
    view = center.view(note, None)
    assert view.title == "Welcome to Road Kings"
    assert view.body == "You are now member #1 of Road Kings."


async def test_dismissing_resigning_and_restoring_are_told(hub: Hub) -> None:
    alice = await _member(hub)
    await lifecycle.dismiss(SYSTEM, hub, alice.id, "inactive")
    await lifecycle.accept(SYSTEM, hub, alice.id)  # restored: the same number again
    await lifecycle.resign(Actor(alice.user_id, 555), hub, confirm=True)
    notes = [(n.kind, n.data) for n in await _told(alice.user_id)]
    assert notes == [
        ("member.accepted", {"hub": "Road Kings", "number": 1}),
        ("member.dismissed", {"hub": "Road Kings", "reason": "inactive"}),
        ("member.accepted", {"hub": "Road Kings", "number": 1}),
        ("member.resigned", {"hub": "Road Kings"}),
    ]


async def test_a_ban_tells_members_and_visitors_it_matches(hub: Hub) -> None:
    alice = await _member(hub)
    bob = await _visitor(hub, "bob", 556)
    await ban(SYSTEM, hub, BanInput(discord_id=555, reason="cheating"))
    await ban(SYSTEM, hub, BanInput(discord_id=556))
    [alice_ban] = await _told(alice.user_id, "member.banned")
    [bob_ban] = await _told(bob.user_id, "member.banned")
    assert alice_ban.data == {"hub": "Road Kings", "reason": "cheating"}
    assert center.view(bob_ban, None).body == "Reason: none given"  # translated when read


async def test_role_changes_are_told_in_app(hub: Hub) -> None:
    alice = await _member(hub)
    role = await create_role(SYSTEM, hub, RoleInput(name="Convoy team", position=5))
    await give_role(SYSTEM, hub, alice.id, role.id)
    await take_role(SYSTEM, hub, alice.id, role.id)
    given, taken = await _told(alice.user_id, "member.roles_changed")
    assert given.data == {"hub": "Road Kings", "added": "Convoy team", "removed": {"t": "none"}}
    assert center.view(taken, None).body == "Added: none. Removed: Convoy team."
    assert (given.in_app, given.dm_state) == (True, DmState.NONE)  # in-app only by default


async def test_rank_changes_up_and_down_are_told(hub: Hub) -> None:
    await create_rank(SYSTEM, hub, RankInput(name="Rookie", threshold=0))
    await create_rank(SYSTEM, hub, RankInput(name="Pro", threshold=100))
    alice = await _member(hub)
    await grant(SYSTEM, hub, alice.id, GrantInput(amount=150, reason="convoy"))
    await grant(SYSTEM, hub, alice.id, GrantInput(amount=10, reason="no change"))
    await correct(SYSTEM, hub, alice.id, CorrectionInput(amount=-100, reason="double count"))
    up, down = await _told(alice.user_id, "member.rank_changed")  # 10 more changed nothing
    assert up.data == {"hub": "Road Kings", "rank": "Pro", "previous": {"t": "no rank"}}
    assert center.view(up, None).title == "Your rank in Road Kings is now Pro"
    assert center.view(up, None).body == "Previous rank: no rank."
    assert down.data == {"hub": "Road Kings", "rank": "Rookie", "previous": "Pro"}


async def test_a_login_from_a_new_place_is_told_and_not_every_login(hub: Hub) -> None:
    alice = await create_user()
    await auth.start_session(alice, "password", user_agent="Firefox", ip="10.0.0.1")  # first
    pair = await auth.start_session(alice, "password", user_agent="Firefox", ip="10.0.0.1")
    await auth.refresh_session(pair.refresh_token, ip="10.0.0.9")  # a refresh is no login
    assert await _told(alice.id) == []
    await auth.start_session(alice, "steam", user_agent="Chrome", ip="10.0.0.2")
    [note] = await _told(alice.id, "account.new_login")
    assert note.data == {"method": {"t": "Steam"}, "ip": "10.0.0.2"}
    assert center.view(note, None).body.startswith("Signed in with Steam from 10.0.0.2.")
    assert await OutboxItem.filter(kind=OutboxKind.EMAIL, template=center.EMAIL).count() == 1


async def test_turning_mfa_on_and_off_is_told() -> None:
    alice = await create_user()
    pair = await auth.start_session(alice, "password")
    actor = await auth.actor_for(auth.decode_access_token(pair.access_token))
    setup = await mfa.begin_setup(actor)
    codes = await mfa.confirm_setup(alice.id, totp(setup.secret))
    await mfa.disable(actor, codes[0])
    on, off = await _told(alice.id, "account.mfa_changed")
    assert (on.data, off.data) == ({"state": {"t": "turned on"}}, {"state": {"t": "turned off"}})
    assert center.view(off, None).title == "Two-factor authentication was turned off"


async def test_a_superuser_resetting_mfa_tells_the_owner() -> None:
    alice = await create_user()
    boss = await User.create(username="root", is_superuser=True)
    pair = await auth.start_session(boss, "password")
    boss_actor = await auth.actor_for(auth.decode_access_token(pair.access_token))
    await User.filter(id=alice.id).update(mfa_enabled=True, mfa_secret="x")
    await admin.reset_mfa(boss_actor, alice.id)
    [note] = await _told(alice.id, "account.mfa_changed")
    assert note.data == {"state": {"t": "turned off"}}


async def test_changing_or_resetting_the_password_is_told() -> None:
    alice = await create_user()
    pair = await auth.start_session(alice, "password")
    actor = await auth.actor_for(auth.decode_access_token(pair.access_token))
    change = PasswordChange(current_password="correct horse battery", new_password="new pass 123!")
    await accounts.change_password(actor, change)
    await accounts.request_password_reset(ResetRequest(email="alice@example.com"), POLICY)
    item = await OutboxItem.filter(template="reset_password").order_by("-id").first()
    assert item is not None
    token = (await outbox.render_params(item))["link"].split("token=", 1)[1]
    await accounts.confirm_password_reset(ResetConfirm(token=token, password="a new password!"))
    assert len(await _told(alice.id, "account.password_changed")) == 2


async def test_a_refused_password_change_tells_nothing() -> None:
    alice = await create_user()
    pair = await auth.start_session(alice, "password")
    actor = await auth.actor_for(auth.decode_access_token(pair.access_token))
    wrong = PasswordChange(current_password="wrong guess!", new_password="new pass 123!")
    with pytest.raises(Forbidden, match="not correct"):
        await accounts.change_password(actor, wrong)
    assert await _told(alice.id) == []


# Transactions: a rollback tells nobody


async def _fail_after(work: Awaitable[object]) -> None:
    """Run `work` in a transaction that then fails (as a later step of a change would)."""
    async with in_transaction():
        await work
        raise RuntimeError("the change failed after the notification was written")


async def test_a_rolled_back_change_writes_no_notification_and_no_dm(hub: Hub) -> None:
    alice = await _visitor(hub)
    with pytest.raises(RuntimeError):
        await _fail_after(lifecycle.accept(SYSTEM, hub, alice.id))
    assert (await Member.get(id=alice.id)).state == MemberState.VISITOR
    assert await _told(alice.user_id) == []
    assert await _digests(alice.user_id) == []
    with pytest.raises(RuntimeError):
        await _fail_after(center.notify([alice.user_id], "account.password_changed"))
    assert await Notification.all().count() == 0
    assert await OutboxItem.all().count() == 0


async def test_notification_e_mails_say_why_they_were_sent() -> None:
    alice = await create_user()
    await User.filter(id=alice.id).update(is_verified=True)
    async with in_transaction():
        await center.notify([alice.id], "account.password_changed")
    (item,) = await OutboxItem.filter(template=center.EMAIL)
    security = await center.email_params(item, "de")
    assert "immer" in security["footer"]  # a security notice: always sent, in German
    note = await Notification.get(id=item.params["notification_id"])
    await Notification.filter(id=note.id).update(kind="member.rank_changed")
    chosen = await center.email_params(item, None)
    assert "notification settings" in chosen["footer"]
    await note.delete()
    with pytest.raises(outbox.Undeliverable):
        await center.email_params(item, None)
