"""Administration: superusers deactivate, reactivate, delete, promote and demote users, reset
their MFA, unlink their identities, search them, and look over every hub."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pyotp
import pytest
import time_machine

from models import accounts, admin, auth, hubs, identities, members, mfa
from models.accounts import PasswordLogin, UserQuery
from models.actor import SYSTEM, Actor
from models.audit import AuditLog
from models.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    ReauthenticationRequired,
    Unauthorized,
)
from models.identities import ExternalIdentity, Provider
from models.members import Member, MemberState
from models.pagination import PageQuery
from models.users import User
from tests.web.auth_client import PASSWORD, create_user, totp

DISCORD_ID = 111_222_333_444_555_666
STEAM_ID = 76561197960287930
PAST_REAUTH_WINDOW = timedelta(seconds=700)

Op = Callable[[Actor, int], Awaitable[Any]]
# Each operation on one user, as the adapters call it.
OPS: dict[str, Op] = {
    "deactivate": admin.deactivate,
    "reactivate": admin.reactivate,
    "delete": admin.delete_user,
    "promote": lambda actor, user_id: admin.set_superuser(actor, user_id, True),
    "demote": lambda actor, user_id: admin.set_superuser(actor, user_id, False),
    "reset_mfa": admin.reset_mfa,
    "unlink": lambda actor, user_id: admin.unlink_identity(actor, user_id, Provider.DISCORD),
}
# Those that take something away need a recent login, and never target the actor.
DESTRUCTIVE = sorted(set(OPS) - {"reactivate", "promote"})


async def session_actor(user: User) -> Actor:
    """The actor the API builds for a fresh login of `user` (superuser flag from the row)."""
    pair = await auth.start_session(user, "password")
    return await auth.actor_for(auth.decode_access_token(pair.access_token))


async def superuser() -> Actor:
    boss = await create_user("boss@example.com", username="boss")
    await User.filter(id=boss.id).update(is_superuser=True)
    return await session_actor(await User.get(id=boss.id))


async def alice(**fields: Any) -> User:
    """A user with a password, a Discord and a Steam account: every way to log in."""
    user = await create_user("alice@example.com", username="alice")
    await User.filter(id=user.id).update(discord_id=DISCORD_ID, steam_id=STEAM_ID, **fields)
    return await User.get(id=user.id)


async def password_login() -> auth.LoginResult:
    return await accounts.login_with_password(
        PasswordLogin(email="alice@example.com", password=PASSWORD)
    )


async def entries(action: str) -> list[tuple[int | None, str]]:
    return [(e.actor_id, e.target) for e in await AuditLog.filter(action=action).order_by("id")]


def code_of(caught: pytest.ExceptionInfo[DomainError]) -> str:
    return caught.value.code


# Who may act


@pytest.mark.parametrize("name", sorted(OPS))
async def test_only_superusers_may_act(name: str) -> None:
    user = await alice(mfa_enabled=True)
    bob = await create_user("bob@example.com", username="bob")
    with pytest.raises(Forbidden) as caught:
        await OPS[name](await session_actor(bob), user.id)
    assert code_of(caught) == "forbidden"
    # An application token of a superuser never carries the power.
    await User.filter(id=bob.id).update(is_superuser=True)
    _token, secret = await auth.create_app_token(bob.id, "script", ["write"], None)
    token_actor = await auth.actor_for(await auth.authenticate_app_token(secret))
    with pytest.raises(Forbidden):
        await OPS[name](token_actor, user.id)
    assert await AuditLog.all().count() == 0


@pytest.mark.parametrize("name", DESTRUCTIVE)
async def test_destructive_operations_need_a_recent_login(name: str) -> None:
    actor = await superuser()
    user = await alice(mfa_enabled=True)
    with (
        time_machine.travel(auth.now() + PAST_REAUTH_WINDOW),
        pytest.raises(ReauthenticationRequired),
    ):
        await OPS[name](actor, user.id)
    assert await AuditLog.all().count() == 0


@pytest.mark.parametrize("name", sorted(OPS))
async def test_an_unknown_user_is_not_found(name: str) -> None:
    with pytest.raises(NotFound) as caught:
        await OPS[name](await superuser(), 2**63 - 1)
    assert code_of(caught) == "user_not_found"


@pytest.mark.parametrize("name", DESTRUCTIVE)
async def test_superusers_do_not_act_on_their_own_account(name: str) -> None:
    actor = await superuser()
    assert actor.user_id is not None
    await User.filter(id=actor.user_id).update(discord_id=DISCORD_ID, mfa_enabled=True)
    with pytest.raises(Forbidden) as caught:
        await OPS[name](actor, actor.user_id)
    assert code_of(caught) == "own_account"
    me = await User.get(id=actor.user_id)
    assert (me.is_active, me.is_superuser, me.mfa_enabled) == (True, True, True)


# Deactivating and reactivating


async def test_deactivation_refuses_every_way_in_and_ends_every_credential() -> None:
    actor = await superuser()
    secret = pyotp.random_base32()
    user = await alice(mfa_enabled=True, mfa_secret=secret)
    pair = await auth.start_session(user, "password")
    _token, app_secret = await auth.create_app_token(user.id, "tracker", ["read"], None)
    tickets = {
        provider: await identities.issue_login_ticket(user, provider, 300)
        for provider in ("discord", "steam", "link")
    }
    mfa_ticket = (await password_login()).mfa_ticket
    assert mfa_ticket is not None

    summary = await admin.deactivate(actor, user.id)

    assert summary.is_active is False
    assert await entries("user.deactivate") == [(actor.user_id, str(user.id))]
    # Credentials issued before: the session, its refresh token, the application token.
    with pytest.raises(Unauthorized):
        await auth.check_not_revoked(auth.decode_access_token(pair.access_token))
    with pytest.raises(Unauthorized):
        await auth.refresh_session(pair.refresh_token)
    with pytest.raises(Unauthorized):
        await auth.authenticate_app_token(app_secret)
    # Logins finishing after, and new ones by each method.
    with pytest.raises(Forbidden) as caught:
        await password_login()
    assert code_of(caught) == "account_disabled"
    for ticket in tickets.values():
        with pytest.raises(Forbidden):
            await identities.exchange_login_ticket(ticket)
    with pytest.raises(Forbidden):  # the right code, but the account is off
        await mfa.verify_login(mfa.MfaLogin(mfa_ticket=mfa_ticket, code=totp(secret)))
    for identity in (
        ExternalIdentity(Provider.DISCORD, DISCORD_ID, username="alice"),
        ExternalIdentity(Provider.STEAM, STEAM_ID),
    ):
        signed_in = await identities.sign_in(identity)
        assert signed_in.id == user.id  # the same (disabled) account, not a new one
        ticket = await identities.issue_login_ticket(signed_in, identity.provider, 300)
        with pytest.raises(Forbidden):
            await identities.exchange_login_ticket(ticket)
    assert await auth.active_sessions(user.id) == []


async def test_deactivating_twice_is_a_conflict_audited_once() -> None:
    actor = await superuser()
    user = await alice()
    await admin.deactivate(actor, user.id)
    with pytest.raises(Conflict) as caught:
        await admin.deactivate(actor, user.id)
    assert code_of(caught) == "already_inactive"
    assert len(await entries("user.deactivate")) == 1


async def test_reactivation_lets_the_user_log_in_again_but_old_sessions_stay_ended() -> None:
    actor = await superuser()
    user = await alice()
    old = await auth.start_session(user, "password")
    await admin.deactivate(actor, user.id)
    summary = await admin.reactivate(actor, user.id)
    assert summary.is_active is True
    assert await entries("user.reactivate") == [(actor.user_id, str(user.id))]
    assert (await password_login()).tokens is not None
    with pytest.raises(Unauthorized):
        await auth.refresh_session(old.refresh_token)
    with pytest.raises(Conflict) as caught:
        await admin.reactivate(actor, user.id)
    assert code_of(caught) == "already_active"


async def test_reactivation_does_not_need_a_recent_login() -> None:
    actor = await superuser()
    user = await alice(is_active=False)
    with time_machine.travel(auth.now() + PAST_REAUTH_WINDOW):
        assert (await admin.reactivate(actor, user.id)).is_active


async def test_an_erased_account_cannot_be_reactivated() -> None:
    actor = await superuser()
    user = await alice()
    await admin.delete_user(actor, user.id)
    with pytest.raises(Conflict) as caught:
        await admin.reactivate(actor, user.id)
    assert code_of(caught) == "account_erased"
    assert not (await User.get(id=user.id)).is_active


# Deleting


async def test_delete_erases_now_like_the_purge_and_audits_no_personal_data() -> None:
    actor = await superuser()
    user = await alice(is_superuser=True, mfa_enabled=True, mfa_secret=pyotp.random_base32())
    pair = await auth.start_session(user, "discord")
    _token, app_secret = await auth.create_app_token(user.id, "tracker", ["read"], None)
    await mfa.RecoveryCode.create(user_id=user.id, code_hash="x" * 64)

    await admin.delete_user(actor, user.id)

    erased = await User.get(id=user.id)
    assert (erased.username, erased.email, erased.discord_id, erased.steam_id) == (
        "Deleted user",
        None,
        None,
        None,
    )
    assert (erased.is_active, erased.is_superuser, erased.mfa_enabled) == (False, False, False)
    with pytest.raises(Unauthorized):
        await auth.check_not_revoked(auth.decode_access_token(pair.access_token))
    with pytest.raises(Unauthorized):
        await auth.authenticate_app_token(app_secret)
    assert await mfa.RecoveryCode.filter(user_id=user.id).count() == 0
    entry = await AuditLog.get(action="user.delete")
    assert (entry.actor_id, entry.target, entry.details) == (actor.user_id, str(user.id), {})
    with pytest.raises(Unauthorized):
        await password_login()


# Promoting and demoting


async def test_promote_then_demote_ends_the_demoted_sessions() -> None:
    actor = await superuser()
    user = await alice()
    promoted = await admin.set_superuser(actor, user.id, True)
    assert promoted.is_superuser
    pair = await auth.start_session(await User.get(id=user.id), "password")
    assert (await auth.actor_for(auth.decode_access_token(pair.access_token))).is_superuser
    demoted = await admin.set_superuser(actor, user.id, False)
    assert not demoted.is_superuser
    with pytest.raises(Unauthorized):
        await auth.check_not_revoked(auth.decode_access_token(pair.access_token))
    changes = await AuditLog.filter(action="user.superuser").order_by("id")
    assert [(e.target, e.details) for e in changes] == [
        (str(user.id), {"is_superuser": True}),
        (str(user.id), {"is_superuser": False}),
    ]


# MFA


async def test_reset_mfa_turns_it_off_and_drops_the_recovery_codes() -> None:
    actor = await superuser()
    user = await alice(mfa_enabled=True, mfa_secret=pyotp.random_base32())
    await mfa.RecoveryCode.create(user_id=user.id, code_hash="x" * 64)
    assert (await password_login()).mfa_ticket is not None
    summary = await admin.reset_mfa(actor, user.id)
    assert summary.mfa_enabled is False
    stored = await User.get(id=user.id)
    assert (stored.mfa_enabled, stored.mfa_secret) == (False, None)
    assert await mfa.RecoveryCode.filter(user_id=user.id).count() == 0
    assert (await password_login()).tokens is not None  # no code asked any more
    assert await entries("user.mfa_reset") == [(actor.user_id, str(user.id))]
    with pytest.raises(Conflict) as caught:
        await admin.reset_mfa(actor, user.id)
    assert code_of(caught) == "mfa_not_enabled"


# Linked accounts


async def test_unlinking_a_wrong_discord_account_ends_the_logins_it_made() -> None:
    actor = await superuser()
    user = await alice()
    by_discord = await auth.start_session(user, "discord")
    by_link = await auth.start_session(user, "link")
    by_password = await auth.start_session(user, "password")
    pending = await identities.issue_login_ticket(user, "discord", 300)

    summary = await admin.unlink_identity(actor, user.id, Provider.DISCORD)

    assert (summary.discord_id, summary.steam_id) == (None, str(STEAM_ID))
    live = {str(s.id) for s in await auth.active_sessions(user.id)}
    assert live == {by_password.session_id}
    assert by_discord.session_id not in live
    assert by_link.session_id not in live
    with pytest.raises(Unauthorized):
        await identities.exchange_login_ticket(pending)
    entry = await AuditLog.get(action="user.unlink_discord")
    assert (entry.actor_id, entry.target, entry.details) == (
        actor.user_id,
        str(DISCORD_ID),
        {"user_id": user.id},
    )
    # The Discord account is free to be linked where it belongs.
    owner = await identities.sign_in(ExternalIdentity(Provider.DISCORD, DISCORD_ID, "real"))
    assert owner.id != user.id


async def test_a_superuser_cannot_unlink_the_last_way_in() -> None:
    actor = await superuser()
    user = await User.create(username="discord-only", discord_id=DISCORD_ID)
    session = await auth.start_session(user, "discord")
    with pytest.raises(Conflict) as caught:
        await admin.unlink_identity(actor, user.id, Provider.DISCORD)
    assert code_of(caught) == "last_login_method"
    assert (await User.get(id=user.id)).discord_id == DISCORD_ID
    assert [str(s.id) for s in await auth.active_sessions(user.id)] == [session.session_id]
    with pytest.raises(NotFound) as missing:
        await admin.unlink_identity(actor, user.id, Provider.STEAM)
    assert code_of(missing) == "identity_not_linked"
    assert await AuditLog.all().count() == 0


# Searching users


async def test_search_matches_names_addresses_and_ids_keeping_pages() -> None:
    actor = await superuser()
    await alice()
    await create_user("bob@example.com", username="Bobby")
    await create_user("carol@work.example", username="carol_100%")

    async def found(q: str, **page: Any) -> list[str]:
        result = await accounts.list_users(actor, UserQuery(q=q, **page))
        return [u.username for u in result.items]

    assert await found("BOB") == ["Bobby"]
    assert await found("work.EXAMPLE") == ["carol_100%"]
    assert await found(str(DISCORD_ID)) == ["alice"]
    assert await found(str(STEAM_ID)) == ["alice"]
    assert await found("%") == ["carol_100%"]  # a literal, not a wildcard
    assert await found("_") == ["carol_100%"]
    assert await found("nobody") == []
    first = await accounts.list_users(actor, UserQuery(q="example", limit=2))
    rest = await accounts.list_users(actor, UserQuery(q="example", cursor=first.next_cursor))
    names = [u.username for u in first.items + rest.items]
    assert names == ["boss", "alice", "Bobby", "carol_100%"]
    assert rest.next_cursor is None


async def test_the_operator_searches_as_the_system() -> None:
    await alice()
    page = await accounts.list_users(SYSTEM, UserQuery(q="ALICE"))
    assert [u.email for u in page.items] == ["alice@example.com"]


# Hubs


async def test_hubs_are_listed_with_their_state_a_page_at_a_time() -> None:
    actor = await superuser()
    guild_hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 7)
    for name in ("ann", "ben", "cid"):
        await members.ensure_member(guild_hub.id, await User.create(username=name))
    await Member.filter(hub_id=guild_hub.id).update(state=MemberState.MEMBER)
    leaver = await Member.filter(hub_id=guild_hub.id).first()
    assert leaver is not None
    await Member.filter(id=leaver.id).update(state=MemberState.LEFT)
    await hubs.deactivate_guild(42)
    operator_hub = await hubs.create_hub(SYSTEM, "Night Owls")
    await hubs.Hub.filter(id=operator_hub.id).update(public=False, plugins=["shoutbox"])

    first = await admin.list_hubs(actor, PageQuery(limit=1))
    second = await admin.list_hubs(actor, PageQuery(limit=1, cursor=first.next_cursor))

    assert second.next_cursor is None
    kings, owls = first.items[0], second.items[0]
    assert (kings.slug, kings.active, kings.public, kings.guild_id) == (
        "road-kings",
        False,
        True,
        "42",
    )
    assert kings.members == 2  # the one who left is not counted
    assert (owls.slug, owls.active, owls.public, owls.guild_id, owls.members) == (
        "night-owls",
        True,
        False,
        None,
        0,
    )
    assert owls.plugins == ["shoutbox"]
    with pytest.raises(Forbidden):
        await admin.list_hubs(await session_actor(await User.get(username="ann")), PageQuery())
