"""The emulator's OAuth2: consent, code exchange (client, redirect URI, PKCE, single use), /@me."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest

from . import FakeDiscord

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.backend_independent]
REDIRECT = "https://hub.example.com/callback"
VERIFIER = "v" * 50


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def authorize(http: aiohttp.ClientSession, emulator: FakeDiscord, **extra: str) -> dict:
    query = {
        "response_type": "code",
        "client_id": str(emulator.application_id),
        "redirect_uri": REDIRECT,
        "scope": "identify email",
        "state": "s1",
        "code_challenge": challenge(VERIFIER),
        "code_challenge_method": "S256",
        **extra,
    }
    async with http.get(f"{emulator.authorize_url}?{urlencode(query)}", allow_redirects=False) as r:
        assert r.status == 302, await r.text()
        location = r.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def token(
    http: aiohttp.ClientSession, emulator: FakeDiscord, secret: str = "", **form: str
) -> tuple[int, dict]:
    secret = secret or emulator.oauth2.client_secret
    auth = aiohttp.encode_basic_auth(str(emulator.application_id), secret)
    data = {"grant_type": "authorization_code", "redirect_uri": REDIRECT, **form}
    async with http.post(
        f"{emulator.api_base}/oauth2/token", data=data, headers={"Authorization": auth}
    ) as response:
        return response.status, await response.json()


@pytest.fixture
def emulator(fake_discord: FakeDiscord) -> FakeDiscord:
    fake_discord.oauth2.redirect_uris.add(REDIRECT)
    fake_discord.oauth2.approve_as(fake_discord.user("alice"))
    return fake_discord


async def test_code_exchange_and_users_me(emulator: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http:
        granted = await authorize(http, emulator)
        assert granted["state"] == "s1"
        status, body = await token(http, emulator, code=granted["code"], code_verifier=VERIFIER)
        assert status == 200
        assert body["token_type"] == "Bearer"
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        async with http.get(f"{emulator.api_base}/users/@me", headers=headers) as me:
            user = await me.json()
    assert user["username"] == "alice"
    assert user["email"]
    assert user["verified"]


async def test_code_works_once(emulator: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http:
        code = (await authorize(http, emulator))["code"]
        assert (await token(http, emulator, code=code, code_verifier=VERIFIER))[0] == 200
        status, body = await token(http, emulator, code=code, code_verifier=VERIFIER)
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_wrong_verifier_secret_or_redirect_uri_is_refused(emulator: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http:
        code = (await authorize(http, emulator))["code"]
        assert (await token(http, emulator, code=code, code_verifier="w" * 50))[0] == 400
        code = (await authorize(http, emulator))["code"]
        status, _ = await token(
            http, emulator, code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT + "/x"
        )
        assert status == 400
        code = (await authorize(http, emulator))["code"]
        status, body = await token(http, emulator, "wrong", code=code, code_verifier=VERIFIER)
    assert (status, body["error"]) == (401, "invalid_client")


async def test_unregistered_redirect_uri_is_not_redirected_to(emulator: FakeDiscord) -> None:
    query = urlencode({"client_id": emulator.application_id, "redirect_uri": "https://evil.com"})
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{emulator.authorize_url}?{query}", allow_redirects=False) as response,
    ):
        assert response.status == 400


async def test_denied_consent_redirects_with_access_denied(emulator: FakeDiscord) -> None:
    emulator.oauth2.deny()
    async with aiohttp.ClientSession() as http:
        answer = await authorize(http, emulator)
    assert answer == {"error": "access_denied", "state": "s1"}


async def test_unknown_bearer_token_is_unauthorized(emulator: FakeDiscord) -> None:
    headers = {"Authorization": "Bearer nope"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{emulator.api_base}/users/@me", headers=headers) as response,
    ):
        assert response.status == 401


async def revoke(
    http: aiohttp.ClientSession, emulator: FakeDiscord, secret: str = "", **form: str
) -> tuple[int, dict]:
    secret = secret or emulator.oauth2.client_secret
    auth = aiohttp.encode_basic_auth(str(emulator.application_id), secret)
    async with http.post(
        f"{emulator.api_base}/oauth2/token/revoke", data=form, headers={"Authorization": auth}
    ) as response:
        return response.status, await response.json()


async def test_a_revoked_token_stops_working_and_is_recorded(emulator: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http:
        code = (await authorize(http, emulator))["code"]
        access = (await token(http, emulator, code=code, code_verifier=VERIFIER))[1]["access_token"]
        status, _ = await revoke(http, emulator, token=access, token_type_hint="access_token")
        assert status == 200
        headers = {"Authorization": f"Bearer {access}"}
        async with http.get(f"{emulator.api_base}/users/@me", headers=headers) as me:
            assert me.status == 401
    (revocation,) = emulator.oauth2.revocations
    assert (revocation.token, revocation.token_type_hint) == (access, "access_token")
    assert revocation.user is emulator.oauth2.approver


async def test_revoking_an_unknown_token_is_accepted_like_rfc_7009_says(
    emulator: FakeDiscord,
) -> None:
    async with aiohttp.ClientSession() as http:
        assert (await revoke(http, emulator, token="never-issued"))[0] == 200
    assert emulator.oauth2.revocations[0].user is None


async def test_revocation_needs_the_client_and_a_token(emulator: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http:
        status, body = await revoke(http, emulator, "wrong", token="t")
        assert (status, body["error"]) == (401, "invalid_client")
        status, body = await revoke(http, emulator, token_type_hint="access_token")
        assert (status, body["error"]) == (400, "invalid_request")
        status, body = await revoke(http, emulator, token="t", token_type_hint="id_token")
        assert (status, body["error"]) == (400, "invalid_request")
    assert emulator.oauth2.revocations == []
