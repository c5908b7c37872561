"""Accounts: password checks without enumeration, hashing off the loop, resets, deletion."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from argon2 import PasswordHasher

from models import accounts, auth, outbox, passwords
from models.accounts import AccountPolicy, PasswordLogin, Registration, ResetConfirm, ResetRequest
from models.actor import Actor
from models.errors import Conflict, Forbidden, Invalid, Unauthorized
from models.outbox import OutboxItem, OutboxKind, OutboxStatus, claim_due
from models.pagination import PageQuery
from models.users import User
from models.validation import validate
from tests.web.auth_client import PASSWORD, create_user

POLICY = AccountPolicy(link_base="https://hub.example.com", password_reset_ttl=3600)


class CountingHasher(PasswordHasher):
    """The real hasher, counting verifications and noting the thread they run in."""

    def __init__(self) -> None:
        super().__init__()
        self.verified = 0
        self.threads: set[str] = set()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        self.threads.add(threading.current_thread().name)
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(passwords, "hasher", counting)
    return counting


async def actor_of_session(user: User) -> Actor:
    pair = await auth.start_session(user, "password")
    return await auth.actor_for(auth.decode_access_token(pair.access_token))


async def test_unknown_email_and_wrong_password_do_the_same_work_and_fail_alike(
    hasher: CountingHasher,
) -> None:
    await create_user("alice@example.com")
    errors = []
    for email, password in (("nobody@example.com", PASSWORD), ("alice@example.com", "wrong" * 3)):
        with pytest.raises(Unauthorized) as caught:
            await accounts.login_with_password(PasswordLogin(email=email, password=password))
        errors.append((caught.value.code, caught.value.message))
    assert errors[0] == errors[1] == ("invalid_credentials", errors[0][1])
    assert hasher.verified == 2  # the unknown address was checked against a dummy hash
    assert threading.main_thread().name not in hasher.threads  # argon2 never runs on the loop


async def test_correct_password_logs_in() -> None:
    await create_user("alice@example.com")
    result = await accounts.login_with_password(
        PasswordLogin(email=" Alice@Example.com", password=PASSWORD)
    )
    assert result.tokens is not None
    assert result.mfa_ticket is None


async def test_outdated_hash_is_upgraded_at_login() -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    user = await User.create(
        username="alice", email="a@example.com", password_hash=old, is_verified=True
    )
    await accounts.login_with_password(PasswordLogin(email="a@example.com", password=PASSWORD))
    await user.refresh_from_db()
    assert user.password_hash != old
    assert not passwords.needs_rehash(user.password_hash)


async def test_unverified_account_cannot_log_in() -> None:
    await create_user("alice@example.com", verified=False)
    with pytest.raises(Forbidden) as caught:
        await accounts.login_with_password(
            PasswordLogin(email="alice@example.com", password=PASSWORD)
        )
    assert caught.value.code == "email_not_verified"


async def test_registering_a_taken_address_notifies_its_owner_instead() -> None:
    data = Registration(email="alice@example.com", username="alice", password=PASSWORD)
    await accounts.register(data, POLICY)
    await accounts.register(data.model_copy(update={"username": "mallory"}), POLICY)
    assert await User.filter(email="alice@example.com").count() == 1
    mails = await OutboxItem.filter(status=OutboxStatus.PENDING).order_by("id")
    assert [m.template for m in mails] == ["verify_email", "account_exists"]
    assert "token=" not in str(mails[0].params)  # the link is minted when the mail is sent
    link = (await outbox.render_params(mails[0]))["link"]
    assert link.startswith("https://hub.example.com/verify-email?token=")


@pytest.mark.parametrize(
    ("password", "field"),
    [
        ("short", "password"),
        ("x" * 257, "password"),
        ("alice@example.com", None),
        ("Alice12345", None),
    ],
)
def test_password_rules(password: str, field: str | None) -> None:
    with pytest.raises(Invalid) as caught:
        validate(
            Registration,
            {"email": "alice@example.com", "username": "alice12345", "password": password},
        )
    assert caught.value.params["errors"][0]["field"] == field


async def _reset_token() -> str:
    await accounts.request_password_reset(ResetRequest(email="alice@example.com"), POLICY)
    item = await OutboxItem.filter(template="reset_password").order_by("-id").first()
    assert item is not None
    return (await outbox.render_params(item))["link"].split("token=", 1)[1]


async def test_reset_link_works_once() -> None:
    await create_user("alice@example.com")
    token = await _reset_token()
    await accounts.confirm_password_reset(ResetConfirm(token=token, password="a new password!"))
    with pytest.raises(Unauthorized) as caught:
        await accounts.confirm_password_reset(ResetConfirm(token=token, password="another one!!"))
    assert caught.value.code == "invalid_ticket"
    result = await accounts.login_with_password(
        PasswordLogin(email="alice@example.com", password="a new password!")
    )
    assert result.tokens is not None


async def test_reset_link_expires() -> None:
    await create_user("alice@example.com")
    token = await _reset_token()
    later = auth.now() + timedelta(seconds=3601)
    with time_machine.travel(later), pytest.raises(Unauthorized) as caught:
        await accounts.confirm_password_reset(ResetConfirm(token=token, password="a new password!"))
    assert caught.value.code == "invalid_ticket"


async def test_reset_for_an_unknown_address_sends_nothing() -> None:
    await accounts.request_password_reset(ResetRequest(email="nobody@example.com"), POLICY)
    assert await claim_due(OutboxKind.EMAIL) == []  # a no-op row, for the timing only


async def test_a_weak_new_password_does_not_use_up_the_link() -> None:
    await create_user("alice@example.com")
    token = await _reset_token()
    with pytest.raises(Invalid):
        await accounts.confirm_password_reset(
            ResetConfirm(token=token, password="ALICE@example.com")
        )
    await accounts.confirm_password_reset(ResetConfirm(token=token, password="a new password!"))


async def test_restore_is_refused_after_the_grace_period() -> None:
    user = await create_user()
    await accounts.request_deletion(await actor_of_session(user), None, POLICY)
    later = auth.now() + timedelta(days=POLICY.deletion_grace_days, seconds=1)
    with time_machine.travel(later), pytest.raises(Conflict) as caught:
        await accounts.restore_account(user.id, POLICY)
    assert caught.value.code == "deletion_final"


async def test_purge_erases_only_accounts_past_the_grace_period() -> None:
    leaving = await create_user("leaving@example.com", username="leaving")
    staying = await create_user("staying@example.com", username="staying")
    await accounts.request_deletion(await actor_of_session(leaving), None, POLICY)
    with time_machine.travel(auth.now() + timedelta(days=10)):
        await accounts.request_deletion(await actor_of_session(staying), None, POLICY)
    with time_machine.travel(auth.now() + timedelta(days=POLICY.deletion_grace_days, hours=1)):
        assert await accounts.purge_deleted_accounts(POLICY.deletion_grace_days) == 1
    await leaving.refresh_from_db()
    await staying.refresh_from_db()
    assert (leaving.email, leaving.password_hash, leaving.is_active) == (None, None, False)
    assert await auth.Session.filter(user_id=leaving.id).count() == 0
    assert staying.email == "staying@example.com"
    assert staying.deletion_requested_at is not None


async def test_only_superusers_see_the_platform_users() -> None:
    admin = await create_user("admin@example.com", username="admin")
    await User.filter(id=admin.id).update(is_superuser=True)
    await create_user("bob@example.com", username="bob")
    with pytest.raises(Forbidden):
        await accounts.list_users(Actor(admin.id + 1, None, False), PageQuery())
    page = await accounts.list_users(Actor(admin.id, None, True), PageQuery(limit=1))
    assert [u.username for u in page.items] == ["admin"]
    assert page.next_cursor is not None
    # A token that still says "superuser" after the grant was revoked is not enough.
    await User.filter(id=admin.id).update(is_superuser=False)
    with pytest.raises(Forbidden):
        await accounts.user_profile(Actor(admin.id, None, True), admin.id)
