"""Known and unknown accounts cost the same work, so answer times tell nobody who is registered.

The work is counted, not timed (timing is the benchmark's job, tests/benchmarks/run.py part
`reset-timing`): argon2 operations, and the statements and commits the ORM sends.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator

import pytest
from argon2 import PasswordHasher
from tortoise.backends.asyncpg.client import TransactionWrapper as PostgresTransaction
from tortoise.backends.sqlite.client import SqliteTransactionWrapper

from models import accounts, passwords
from models.accounts import AccountPolicy, PasswordLogin, Registration, ResetRequest
from models.errors import Unauthorized
from models.outbox import OutboxItem, OutboxKind, OutboxStatus, claim_due
from models.users import User
from tests.web.auth_client import PASSWORD, create_user

POLICY = AccountPolicy(link_base="https://hub.example.com")
WRITES = ("INSERT", "UPDATE", "DELETE")


class WorkMeter(logging.Handler):
    """Counts argon2 operations, SQL statements by kind, and commits/rollbacks."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        # Tortoise logs every statement it sends as "<sql>: <values>" at DEBUG.
        verb = record.getMessage().split(None, 1)[0].upper()
        self.counts["write" if verb in WRITES else verb.lower()] += 1

    async def of(self, action: Callable[[], Awaitable[object]]) -> Counter[str]:
        """The work `action` does; an Unauthorized it raises counts as its answer."""
        self.counts.clear()
        try:
            await action()
        except Unauthorized as exc:
            self.counts[f"answer {exc.code}"] += 1
        return Counter(self.counts)


@pytest.fixture
def meter(monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkMeter]:
    meter = WorkMeter()
    hasher = passwords.hasher

    class CountingHasher(PasswordHasher):
        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            meter.counts["argon2 hash"] += 1
            return hasher.hash(password, salt=salt)

        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            meter.counts["argon2 verify"] += 1
            return hasher.verify(hash, password)

    monkeypatch.setattr(passwords, "hasher", CountingHasher())
    for wrapper in (SqliteTransactionWrapper, PostgresTransaction):
        for name in ("commit", "rollback"):
            monkeypatch.setattr(wrapper, name, _counted(getattr(wrapper, name), meter, name))
    db_log = logging.getLogger("tortoise.db_client")
    level = db_log.level
    db_log.setLevel(logging.DEBUG)
    db_log.addHandler(meter)
    yield meter
    db_log.removeHandler(meter)
    db_log.setLevel(level)


def _counted(method: Callable, meter: WorkMeter, name: str) -> Callable:
    async def counted(self: object) -> None:
        meter.counts[name] += 1
        await method(self)

    return counted


@pytest.fixture(autouse=True)
async def dummy_hash_made() -> None:
    """The first unknown login in a process also makes the dummy hash, once; not counted."""
    await passwords.verify_password(None, "warm up")


def login(email: str) -> Callable[[], Awaitable[object]]:
    data = PasswordLogin(email=email, password="wrong password")
    return lambda: accounts.login_with_password(data)


def reset(email: str) -> Callable[[], Awaitable[object]]:
    return lambda: accounts.request_password_reset(ResetRequest(email=email), POLICY)


async def test_login_wrong_password_and_unknown_address_do_the_same_work(
    meter: WorkMeter,
) -> None:
    await create_user("alice@example.com")
    known = await meter.of(login("alice@example.com"))
    assert await meter.of(login("nobody@example.com")) == known
    # One read, one argon2 verification, the same refusal; failures count in the cache.
    assert known == Counter({"select": 1, "argon2 verify": 1, "answer invalid_credentials": 1})


async def test_password_reset_does_the_same_work_for_every_address(meter: WorkMeter) -> None:
    await create_user("alice@example.com")
    await create_user("gone@example.com", username="gone")
    await User.filter(email="gone@example.com").update(is_active=False)
    known = await meter.of(reset("alice@example.com"))
    assert await meter.of(reset("nobody@example.com")) == known
    assert await meter.of(reset("gone@example.com")) == known
    # The work is real (a read, a write, a commit, no argon2) ...
    assert known == Counter({"select": 1, "write": 1, "commit": 1})
    # ... but only the account's owner gets an e-mail; the other rows keep no address.
    due = await claim_due(OutboxKind.EMAIL)
    assert [(m.template, m.address) for m in due] == [("reset_password", "alice@example.com")]
    assert {m.address for m in await OutboxItem.filter(status=OutboxStatus.FAILED)} == {""}


async def test_an_address_longer_than_any_account_is_an_unknown_one(meter: WorkMeter) -> None:
    """The forms take up to 320 characters, the column 254: no account, not an error."""
    long = f"{'x' * 300}@example.com"
    # Only the read is skipped, which tells nothing: no account can have this address.
    assert await meter.of(login(long)) == Counter(
        {"argon2 verify": 1, "answer invalid_credentials": 1}
    )
    assert await meter.of(reset(long)) == Counter({"write": 1, "commit": 1})
    assert await claim_due(OutboxKind.EMAIL) == []


async def test_registering_a_taken_address_does_the_work_of_a_registration(
    meter: WorkMeter,
) -> None:
    data = Registration(email="alice@example.com", username="alice", password=PASSWORD)
    new = await meter.of(lambda: accounts.register(data, POLICY))
    taken = await meter.of(lambda: accounts.register(data.model_copy(), POLICY))
    assert new == taken
    assert new == Counter({"argon2 hash": 1, "select": 1, "write": 2, "commit": 1})
    # The owner is told; the stand-in for the verification e-mail is never sent.
    due = await claim_due(OutboxKind.EMAIL)
    assert [m.template for m in due] == ["verify_email", "account_exists"]
