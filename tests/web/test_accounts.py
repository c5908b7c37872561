"""E-mail + password accounts over HTTP: register, verify, log in, reset, change, delete."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import time_machine
from aiohttp.test_utils import TestClient

from models import auth
from models.outbox import OutboxItem
from models.users import User
from tests.fixtures.captcha import HUMAN, fake_captcha
from tests.fixtures.smtp import SmtpSink, smtp_sink
from tests.web.auth_client import (
    NO_LIMITS,
    PASSWORD,
    bearer,
    create_user,
    login,
    login_tokens,
)
from tests.web.conftest import ClientFactory, problem_of

API = "/api/v1"
NEW_PASSWORD = "a much better password"
FRONTEND = "https://hub.example.com"


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    async with smtp_sink() as started:
        yield started


@pytest.fixture
async def client(api_client: ClientFactory) -> AsyncIterator[TestClient]:
    async with api_client(rate_limit=NO_LIMITS, auth={"frontend_origins": [FRONTEND]}) as c:
        yield c


async def token_from_mail(sink: SmtpSink, address: str, page: str) -> str:
    """Deliver the queued e-mails and return the token in the link of the last one to `address`.

    Until they are sent, no queued e-mail holds a token: each one is minted as its e-mail goes.
    """
    for item in await OutboxItem.all():
        assert "token=" not in json.dumps(item.params), item.params
    await sink.worker().run_once()
    link = sink.link_in(sink.to(address)[-1])
    assert link.startswith(f"{FRONTEND}/{page}?token=")
    return link.split("token=", 1)[1]


# Registration and verification


async def test_register_sends_a_link_that_verifies_once(client: TestClient, sink: SmtpSink):
    body = {"email": "Alice@Example.com", "username": "alice", "password": PASSWORD}
    registered = await client.post(f"{API}/auth/register", json=body)
    assert registered.status == 202
    await problem_of(await login(client), 403, "email_not_verified")
    token = await token_from_mail(sink, "alice@example.com", "verify-email")
    first = await client.post(f"{API}/auth/verify-email", json={"token": token})
    again = await client.post(f"{API}/auth/verify-email", json={"token": token})
    assert first.status == 204
    await problem_of(again, 401, "invalid_ticket")
    tokens = await login_tokens(client)
    me = await (await client.get(f"{API}/users/@me", headers=bearer(tokens))).json()
    assert me["connections"]["email_verified"] is True


async def test_registering_a_taken_address_looks_the_same(client: TestClient, sink: SmtpSink):
    await create_user("alice@example.com")
    body = {"email": "alice@example.com", "username": "mallory", "password": "mallory's pass"}
    taken = await client.post(f"{API}/auth/register", json=body)
    fresh = await client.post(f"{API}/auth/register", json={**body, "email": "bob@example.com"})
    assert (taken.status, await taken.json()) == (fresh.status, await fresh.json())
    await sink.worker().run_once()
    assert sink.to("alice@example.com")[0]["Subject"] == "Your Drivers Hub account"
    assert await User.filter(email="alice@example.com").count() == 1


# Logging in


async def test_unknown_email_and_wrong_password_get_the_same_answer(client: TestClient):
    await create_user("alice@example.com")
    unknown = await problem_of(
        await login(client, "nobody@example.com"), 401, "invalid_credentials"
    )
    wrong = await problem_of(
        await login(client, "alice@example.com", "not the password"), 401, "invalid_credentials"
    )
    assert unknown["detail"] == wrong["detail"]


async def test_logins_do_not_stall_the_event_loop(client: TestClient) -> None:
    """Argon2 runs in threads: during 20 logins the health check stays fast."""
    await create_user("alice@example.com")
    latencies: list[float] = []

    async def ping_until(done: asyncio.Event) -> None:
        while not done.is_set():
            started = time.perf_counter()
            assert (await client.get(f"{API}/health")).status == 200
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.005)

    done = asyncio.Event()
    pinger = asyncio.create_task(ping_until(done))
    answers = await asyncio.gather(*(login(client) for _ in range(20)))
    done.set()
    await pinger
    assert [a.status for a in answers] == [200] * 20
    latencies.sort()
    assert latencies[int(len(latencies) * 0.99) - 1] < 0.05, latencies[-5:]


# Passwords


async def test_reset_answers_alike_and_ends_every_session(client: TestClient, sink: SmtpSink):
    await create_user("alice@example.com")
    tokens = await login_tokens(client)
    known = await client.post(f"{API}/auth/password-reset", json={"email": "alice@example.com"})
    unknown = await client.post(f"{API}/auth/password-reset", json={"email": "x@example.com"})
    assert (known.status, await known.json()) == (unknown.status, await unknown.json()) != 500
    token = await token_from_mail(sink, "alice@example.com", "reset-password")
    confirm = {"token": token, "password": NEW_PASSWORD}
    assert (await client.post(f"{API}/auth/password-reset/confirm", json=confirm)).status == 204
    again = await client.post(f"{API}/auth/password-reset/confirm", json=confirm)
    await problem_of(again, 401, "invalid_ticket")
    await problem_of(
        await client.get(f"{API}/users/@me", headers=bearer(tokens)), 401, "invalid_token"
    )
    await problem_of(await login(client), 401, "invalid_credentials")
    assert (await login(client, password=NEW_PASSWORD)).status == 200


async def test_changing_the_password_ends_the_other_sessions(client: TestClient) -> None:
    await create_user("alice@example.com")
    here, elsewhere = await login_tokens(client), await login_tokens(client)
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    wrong = {**change, "current_password": "not my password"}
    refused = await client.post(f"{API}/users/@me/password", json=wrong, headers=bearer(here))
    await problem_of(refused, 403, "wrong_password")
    changed = await client.post(f"{API}/users/@me/password", json=change, headers=bearer(here))
    assert changed.status == 204
    assert (await client.get(f"{API}/users/@me", headers=bearer(here))).status == 200
    gone = await client.get(f"{API}/users/@me", headers=bearer(elsewhere))
    await problem_of(gone, 401, "invalid_token")
    refresh = {"refresh_token": elsewhere["refresh_token"]}
    await problem_of(await client.post(f"{API}/auth/refresh", json=refresh), 401, "invalid_token")
    assert (await login(client, password=NEW_PASSWORD)).status == 200


# Sensitive actions


async def test_sensitive_actions_need_a_recent_login(client: TestClient, sink: SmtpSink):
    await create_user("alice@example.com")
    tokens = await login_tokens(client)
    headers = bearer(tokens)
    with time_machine.travel(auth.now() + timedelta(seconds=700)):  # past the re-auth window
        deleted = await client.delete(f"{API}/users/@me", headers=headers)
        await problem_of(deleted, 403, "reauthentication_required")
        new_email = {"email": "alice@new.example.com"}
        moved = await client.post(f"{API}/users/@me/email", json=new_email, headers=headers)
        await problem_of(moved, 403, "reauthentication_required")
        wrong = {"password": "not my password"}
        denied = await client.post(f"{API}/auth/reauthenticate", json=wrong, headers=headers)
        await problem_of(denied, 403, "reauthentication_failed")
        confirm = {"password": PASSWORD}
        reauth = await client.post(f"{API}/auth/reauthenticate", json=confirm, headers=headers)
        assert reauth.status == 204
        moved = await client.post(f"{API}/users/@me/email", json=new_email, headers=headers)
        assert moved.status == 202
        token = await token_from_mail(sink, "alice@new.example.com", "confirm-email")
    assert (await client.post(f"{API}/auth/email/confirm", json={"token": token})).status == 204
    assert (await login(client, "alice@new.example.com")).status == 200


async def test_delete_logs_out_and_restore_cancels(client: TestClient) -> None:
    await create_user("alice@example.com")
    tokens = await login_tokens(client)
    deleted = await client.delete(f"{API}/users/@me", headers=bearer(tokens))
    assert deleted.status == 202
    assert "erase_after" in await deleted.json()
    await problem_of(
        await client.get(f"{API}/users/@me", headers=bearer(tokens)), 401, "invalid_token"
    )
    # During the grace period the owner may log in again, at once.
    again = await login_tokens(client)
    me = await (await client.get(f"{API}/users/@me", headers=bearer(again))).json()
    assert me["deletion_requested_at"] is not None
    restored = await client.post(f"{API}/users/@me/restore", headers=bearer(again))
    assert restored.status == 200
    me = await (await client.get(f"{API}/users/@me", headers=bearer(again))).json()
    assert me["deletion_requested_at"] is None
    second = await client.post(f"{API}/users/@me/restore", headers=bearer(again))
    await problem_of(second, 409, "not_deleting")


# Profile and the platform view


async def test_profile_changes_show_up_in_the_cached_profile(client: TestClient) -> None:
    await create_user("alice@example.com")
    headers = bearer(await login_tokens(client))
    assert (await client.get(f"{API}/users/@me", headers=headers)).status == 200  # now cached
    change = {"locale": "de", "timezone": "Europe/Berlin", "privacy": {"show_activity": False}}
    patched = await client.patch(f"{API}/users/@me", json=change, headers=headers)
    assert patched.status == 200
    me = await (await client.get(f"{API}/users/@me", headers=headers)).json()
    assert (me["locale"], me["timezone"]) == ("de", "Europe/Berlin")
    assert me["privacy"] == {"show_activity": False}


@pytest.mark.parametrize(
    "change",
    [
        {"locale": "xx"},
        {"timezone": "Mars/Olympus"},
        {"username": None},
        {"username": "   "},
        {"privacy": {"sell_my_data": True}},
        {"is_superuser": True},
    ],
)
async def test_bad_profile_changes_are_refused(client: TestClient, change: dict) -> None:
    await create_user("alice@example.com")
    headers = bearer(await login_tokens(client))
    response = await client.patch(f"{API}/users/@me", json=change, headers=headers)
    await problem_of(response, 422, "validation_failed")


async def test_only_superusers_list_users(client: TestClient) -> None:
    admin = await create_user("admin@example.com", username="admin")
    await User.filter(id=admin.id).update(is_superuser=True)
    await create_user("bob@example.com", username="bob")
    admin_headers = bearer(await login_tokens(client, "admin@example.com"))
    bob_headers = bearer(await login_tokens(client, "bob@example.com"))
    await problem_of(await client.get(f"{API}/users", headers=bob_headers), 403, "forbidden")
    first = await (await client.get(f"{API}/users?limit=1", headers=admin_headers)).json()
    assert first["items"][0]["username"] == "admin"
    page = await (
        await client.get(
            f"{API}/users", params={"cursor": first["next_cursor"]}, headers=admin_headers
        )
    ).json()
    assert (page["items"][0]["username"], page["next_cursor"]) == ("bob", None)
    one = await client.get(f"{API}/users/{admin.id}", headers=admin_headers)
    assert (await one.json())["username"] == "admin"
    await problem_of(
        await client.get(f"{API}/users/nope", headers=admin_headers), 404, "user_not_found"
    )


# Captcha


async def test_captcha_is_required_when_configured(api_client: ClientFactory) -> None:
    body = {"email": "alice@example.com", "username": "alice", "password": PASSWORD}
    async with (
        fake_captcha() as captcha,
        api_client(rate_limit=NO_LIMITS, captcha=captcha.sections) as client,
    ):
        missing = await client.post(f"{API}/auth/register", json=body)
        wrong = await client.post(f"{API}/auth/register", json={**body, "captcha_token": "bot"})
        solved = await client.post(f"{API}/auth/register", json={**body, "captcha_token": HUMAN})
        await problem_of(missing, 400, "captcha_failed")
        await problem_of(wrong, 400, "captcha_failed")
        await problem_of(await login(client), 400, "captcha_failed")
        assert solved.status == 202
    assert [c["response"] for c in captcha.checks] == ["bot", HUMAN]  # the empty one never left


# Bad input


@pytest.mark.parametrize(
    ("path", "data", "status", "code"),
    [
        ("/auth/login", b'{"email": "a@b.c", "password": ', 400, "malformed_json"),
        ("/auth/login", b"\xff\xfe not json", 400, "malformed_json"),
        ("/auth/login", b"[1, 2]", 422, "validation_failed"),
        ("/auth/register", b'{"email": "a@b.c"}', 422, "validation_failed"),
        (
            "/auth/login",
            b'{"email": "a@b.c", "password": "' + b"x" * 5000 + b'"}',
            422,
            "validation_failed",
        ),
        ("/auth/mfa/verify", b'{"mfa_ticket": 5, "code": null}', 422, "validation_failed"),
        ("/auth/register", b'{"x": "' + b"y" * 2_000_000 + b'"}', 413, "payload_too_large"),
    ],
)
async def test_bad_bodies_are_refused_never_500(
    client: TestClient, path: str, data: bytes, status: int, code: str
) -> None:
    response = await client.post(
        f"{API}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    await problem_of(response, status, code)
