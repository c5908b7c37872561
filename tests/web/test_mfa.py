"""TOTP over HTTP: set up, log in with a code, replays and guessing refused, recovery codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient

from models import auth
from tests.web.auth_client import (
    NO_LIMITS,
    PASSWORD,
    bearer,
    create_user,
    login,
    login_tokens,
    totp,
)
from tests.web.conftest import ClientFactory, problem_of

API = "/api/v1"


@pytest.fixture
async def client(api_client: ClientFactory) -> AsyncIterator[TestClient]:
    async with api_client(rate_limit=NO_LIMITS) as started:
        yield started


async def enable_mfa(client: TestClient, headers: dict[str, str]) -> tuple[str, list[str]]:
    """Turn MFA on with the current code; return the secret and the recovery codes."""
    setup = await client.post(f"{API}/auth/mfa/setup", headers=headers)
    assert setup.status == 200
    secret = (await setup.json())["secret"]
    me = await (await client.get(f"{API}/users/@me", headers=headers)).json()
    assert me["mfa_enabled"] is False  # not before a code confirms it
    confirm = await client.post(
        f"{API}/auth/mfa/confirm", json={"code": totp(secret)}, headers=headers
    )
    assert confirm.status == 200
    return secret, (await confirm.json())["recovery_codes"]


async def mfa_ticket(client: TestClient) -> str:
    answer = await (await login(client)).json()
    assert answer["mfa_required"] is True
    assert "access_token" not in answer or answer["access_token"] is None
    return answer["mfa_ticket"]


async def verify(client: TestClient, ticket: str, code: str) -> Any:
    return await client.post(f"{API}/auth/mfa/verify", json={"mfa_ticket": ticket, "code": code})


@pytest.fixture
async def secured(client: TestClient) -> tuple[str, list[str]]:
    await create_user()
    return await enable_mfa(client, bearer(await login_tokens(client)))


async def test_login_needs_a_code_and_a_code_works_once(
    client: TestClient, secured: tuple[str, list[str]]
) -> None:
    secret, codes = secured
    assert len(codes) == 10
    code = totp(secret, 1)
    answer = await verify(client, await mfa_ticket(client), code)
    assert answer.status == 200
    tokens = await answer.json()
    me = await (await client.get(f"{API}/users/@me", headers=bearer(tokens))).json()
    assert me["mfa_enabled"] is True
    replayed = await verify(client, await mfa_ticket(client), code)
    await problem_of(replayed, 401, "invalid_mfa_code")


async def test_guessing_stops_after_five_wrong_codes(
    client: TestClient, secured: tuple[str, list[str]]
) -> None:
    secret, _ = secured
    ticket = await mfa_ticket(client)
    right = totp(secret, 1)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(4):
        await problem_of(await verify(client, ticket, wrong), 401, "invalid_mfa_code")
    await problem_of(await verify(client, ticket, wrong), 401, "mfa_attempts_exceeded")
    await problem_of(await verify(client, ticket, right), 401, "invalid_ticket")


async def test_a_recovery_code_logs_in_once(
    client: TestClient, secured: tuple[str, list[str]]
) -> None:
    _, codes = secured
    assert (await verify(client, await mfa_ticket(client), codes[0])).status == 200
    await problem_of(
        await verify(client, await mfa_ticket(client), codes[0]), 401, "invalid_mfa_code"
    )


async def test_disabling_needs_a_code(client: TestClient, secured: tuple[str, list[str]]):
    secret, _ = secured
    tokens = await (await verify(client, await mfa_ticket(client), totp(secret, 1))).json()
    headers = bearer(tokens)
    url = f"{API}/auth/mfa/disable"
    await problem_of(await client.post(url, json={}, headers=headers), 422, "validation_failed")
    wrong = await client.post(url, json={"code": "not-a-code"}, headers=headers)
    await problem_of(wrong, 401, "invalid_mfa_code")
    with time_machine.travel(auth.now() + timedelta(seconds=30)):
        disabled = await client.post(url, json={"code": totp(secret, 1)}, headers=headers)
        assert disabled.status == 204
        assert (await login(client)).status == 200
        assert "access_token" in await (await login(client)).json()


async def test_a_code_stands_in_for_a_recent_login(
    client: TestClient, secured: tuple[str, list[str]]
) -> None:
    secret, _ = secured
    tokens = await (await verify(client, await mfa_ticket(client), totp(secret, 1))).json()
    headers = bearer(tokens)
    with time_machine.travel(auth.now() + timedelta(seconds=700)):
        password = await client.post(
            f"{API}/auth/reauthenticate", json={"password": PASSWORD}, headers=headers
        )
        await problem_of(password, 403, "reauthentication_failed")  # MFA on: a code is needed
        code = {"code": totp(secret)}
        deleted = await client.request("DELETE", f"{API}/users/@me", json=code, headers=headers)
        assert deleted.status == 202


async def test_mfa_routes_need_a_login(client: TestClient) -> None:
    await problem_of(await client.post(f"{API}/auth/mfa/setup"), 401, "unauthorized")
