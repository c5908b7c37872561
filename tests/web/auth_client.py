"""Helpers for tests that log in through the API: users with passwords, tokens, TOTP codes."""

from __future__ import annotations

import time
from typing import Any

import pyotp
from aiohttp.test_utils import TestClient

from models.mfa import STEP
from models.passwords import hash_password
from models.users import User

PASSWORD = "correct horse battery"
# Each login is several requests: the per-IP limits are tested elsewhere.
NO_LIMITS: dict[str, Any] = {"enabled": False}


async def create_user(
    email: str = "alice@example.com", *, username: str = "alice", verified: bool = True
) -> User:
    return await User.create(
        username=username,
        email=email,
        password_hash=await hash_password(PASSWORD),
        is_verified=verified,
    )


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def login(client: TestClient, email: str = "alice@example.com", password: str = PASSWORD):
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def login_tokens(client: TestClient, email: str = "alice@example.com") -> dict[str, Any]:
    response = await login(client, email)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["access_token"], body
    return body


def totp(secret: str, steps_ahead: int = 0) -> str:
    """The code the authenticator app shows now (or `steps_ahead` periods later)."""
    return pyotp.TOTP(secret).generate_otp(int(time.time()) // STEP + steps_ahead)
