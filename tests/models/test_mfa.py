"""TOTP: a code works once, recovery codes work once, wrong codes are limited per login."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import connections

from models import auth, encryption, mfa
from models.actor import Actor
from models.errors import Conflict, Forbidden, Unauthorized
from models.mfa import MfaLogin
from models.users import User
from tests.web.auth_client import create_user, totp


async def session_actor(user: User) -> Actor:
    pair = await auth.start_session(user, "password")
    return await auth.actor_for(auth.decode_access_token(pair.access_token))


async def mfa_user() -> tuple[User, list[str]]:
    """A user with MFA on, confirmed with the current code (so the next one is `steps_ahead=1`)."""
    user = await create_user()
    setup = await mfa.begin_setup(await session_actor(user))
    codes = await mfa.confirm_setup(user.id, totp(setup.secret))
    await user.refresh_from_db()
    return user, codes


def secret_of(user: User) -> str:
    """The secret the authenticator app holds (the database keeps it sealed)."""
    assert user.mfa_secret is not None
    return encryption.unseal(user.mfa_secret)


async def login_ticket(user: User) -> str:
    result = await auth.complete_login(user, "password", user_agent="test", ip="127.0.0.1")
    assert result.mfa_ticket is not None
    return result.mfa_ticket


async def test_setup_is_off_until_a_code_confirms_it() -> None:
    user = await create_user()
    setup = await mfa.begin_setup(await session_actor(user))
    assert setup.otpauth_uri.startswith("otpauth://totp/")
    assert setup.secret in setup.otpauth_uri
    await user.refresh_from_db()
    assert not user.mfa_enabled
    with pytest.raises(Unauthorized):
        await mfa.confirm_setup(user.id, "000000" if totp(setup.secret) != "000000" else "111111")
    codes = await mfa.confirm_setup(user.id, totp(setup.secret))
    await user.refresh_from_db()
    assert user.mfa_enabled
    assert len(set(codes)) == mfa.RECOVERY_CODES
    stored = await mfa.RecoveryCode.filter(user_id=user.id).values_list("code_hash", flat=True)
    assert not set(codes) & set(stored)  # only hashes are kept
    with pytest.raises(Conflict):
        await mfa.begin_setup(await session_actor(user))


async def test_a_code_is_accepted_once() -> None:
    user, _ = await mfa_user()
    code = totp(secret_of(user), steps_ahead=1)
    assert await mfa.accept_totp(user, code)
    assert not await mfa.accept_totp(user, code)
    assert not await mfa.accept_totp(await User.get(id=user.id), code)


async def test_concurrent_replays_of_one_code_let_exactly_one_through() -> None:
    user, _ = await mfa_user()
    code = totp(secret_of(user), steps_ahead=1)
    copies = [await User.get(id=user.id) for _ in range(5)]
    results = await asyncio.gather(*(mfa.accept_totp(u, code) for u in copies))
    assert results.count(True) == 1


async def test_a_recovery_code_works_once() -> None:
    user, codes = await mfa_user()
    assert await mfa.accept_second_factor(user, codes[0].upper())
    assert not await mfa.accept_second_factor(user, codes[0])
    assert await mfa.accept_second_factor(user, codes[1].replace("-", ""))


async def test_login_needs_the_code_and_gives_the_ticket_s_device_details() -> None:
    user, _ = await mfa_user()
    ticket = await login_ticket(user)
    pair = await mfa.verify_login(MfaLogin(mfa_ticket=ticket, code=totp(secret_of(user), 1)))
    session = await auth.Session.get(id=pair.session_id)
    assert (session.method, session.user_agent, session.ip) == ("password", "test", "127.0.0.1")
    with pytest.raises(Unauthorized) as caught:  # the ticket is spent
        await mfa.verify_login(MfaLogin(mfa_ticket=ticket, code=totp(secret_of(user), 1)))
    assert caught.value.code == "invalid_ticket"


async def test_wrong_codes_are_limited_per_login_attempt() -> None:
    user, _ = await mfa_user()
    ticket = await login_ticket(user)
    right = totp(secret_of(user), 1)
    wrong = "123456" if right != "123456" else "654321"
    codes = []
    for _ in range(mfa.MAX_LOGIN_FAILURES):
        with pytest.raises(Unauthorized) as caught:
            await mfa.verify_login(MfaLogin(mfa_ticket=ticket, code=wrong))
        codes.append(caught.value.code)
    assert codes == ["invalid_mfa_code"] * 4 + ["mfa_attempts_exceeded"]
    with pytest.raises(Unauthorized) as caught:
        await mfa.verify_login(MfaLogin(mfa_ticket=ticket, code=right))
    assert caught.value.code == "invalid_ticket"
    # A new login starts a new count.
    await mfa.verify_login(MfaLogin(mfa_ticket=await login_ticket(user), code=right))


async def test_disabling_needs_a_valid_code() -> None:
    user, codes = await mfa_user()
    actor = await session_actor(user)
    with pytest.raises(Unauthorized):
        await mfa.disable(actor, "not-a-code")
    await mfa.disable(actor, codes[0])
    await user.refresh_from_db()
    assert (user.mfa_enabled, user.mfa_secret) == (False, None)
    assert await mfa.RecoveryCode.filter(user_id=user.id).count() == 0


async def test_app_tokens_cannot_turn_mfa_off() -> None:
    user, codes = await mfa_user()
    _, secret = await auth.create_app_token(user.id, "tracker", [], None)
    with pytest.raises(Forbidden):
        await mfa.disable(await auth.actor_for(await auth.authenticate_app_token(secret)), codes[0])


async def test_regenerating_recovery_codes_retires_the_old_ones() -> None:
    user, old = await mfa_user()
    new = await mfa.regenerate_recovery_codes(user.id, totp(secret_of(user), 1))
    assert not set(new) & set(old)
    assert not await mfa.accept_second_factor(user, old[0])
    assert await mfa.accept_second_factor(user, new[0])


# The secret at rest


async def raw_secret(user_id: int) -> str:
    """The column as the database holds it (what a dump or a backup would show)."""
    sql = f"SELECT mfa_secret FROM users WHERE id = {int(user_id)}"
    rows = await connections.get("default").execute_query_dict(sql)
    return rows[0]["mfa_secret"]


async def test_the_secret_is_stored_sealed() -> None:
    user = await create_user()
    setup = await mfa.begin_setup(await session_actor(user))
    stored = await raw_secret(user.id)
    assert setup.secret not in stored
    assert encryption.is_sealed(stored)
    assert encryption.unseal(stored) == setup.secret


async def test_a_secret_stored_in_the_clear_is_sealed_and_keeps_working() -> None:
    user, _ = await mfa_user()
    plain = secret_of(user)
    await User.filter(id=user.id).update(mfa_secret=plain)  # as an older version stored it
    assert await mfa.seal_totp_secrets() == 1
    assert await mfa.seal_totp_secrets() == 0  # nothing left to do: safe to run at every start
    assert plain not in await raw_secret(user.id)
    assert await mfa.accept_totp(await User.get(id=user.id), totp(plain, steps_ahead=1))
