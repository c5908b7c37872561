"""Login with Steam over HTTP against a local fake Steam OpenID provider, and forgeries."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from models import auth
from models.users import User
from tests.fakesteam import FakeSteam, fake_steam
from tests.web.conftest import ClientFactory, problem_of
from tests.web.test_oauth import FRONTEND, exchange, fragment_of, query_of

STEAM_ID = 76561197960287930
CALLBACK = "http://127.0.0.1/api/v1/auth/steam/callback"


@pytest.fixture
async def steam() -> AsyncIterator[FakeSteam]:
    async with fake_steam() as provider:
        provider.sign_in_as(STEAM_ID)
        yield provider


@pytest.fixture
async def client(api_client: ClientFactory, steam: FakeSteam) -> AsyncIterator[TestClient]:
    async with api_client(
        steam={"openid_endpoint": steam.endpoint},
        auth={"frontend_origins": [FRONTEND]},
        rate_limit={"enabled": False},
    ) as started:
        yield started


async def steam_callback_url(client: TestClient, start: str = "/api/v1/auth/steam/login") -> URL:
    """Start a login and let Steam sign the user in; return the callback URL Steam sends."""
    response = await client.get(start, params={"next": "/dashboard"}, allow_redirects=False)
    assert response.status == 302, await response.text()
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(response.headers["Location"], allow_redirects=False) as at_steam,
    ):
        assert at_steam.status == 302, await at_steam.text()
        return URL(at_steam.headers["Location"])


async def back_to_us(client: TestClient, callback: URL) -> str:
    assert str(callback).startswith(CALLBACK + "?state=")
    response = await client.get(callback.raw_path_qs, allow_redirects=False)
    assert response.status == 302, await response.text()
    return response.headers["Location"]


def forged(callback: URL, **fields: str) -> URL:
    return callback.update_query({f"openid.{k}": v for k, v in fields.items()})


async def test_steam_login_end_to_end_creates_the_user(
    client: TestClient, steam: FakeSteam
) -> None:
    final = await back_to_us(client, await steam_callback_url(client))
    assert final.startswith(f"{FRONTEND}/dashboard#ticket=")
    response = await exchange(client, fragment_of(final)["ticket"])
    assert response.status == 200, await response.text()
    user = await User.get(steam_id=STEAM_ID)
    assert (await auth.Session.get(user_id=user.id)).method == "steam"
    (check,) = steam.checks
    assert check["openid.mode"] == "check_authentication"


async def test_the_request_to_steam_names_us_as_realm_and_return_to(client: TestClient) -> None:
    response = await client.get("/api/v1/auth/steam/login", allow_redirects=False)
    query = query_of(response.headers["Location"])
    assert query["openid.mode"] == "checkid_setup"
    assert query["openid.realm"] == "http://127.0.0.1"
    assert query["openid.return_to"].startswith(CALLBACK + "?state=")
    assert query["openid.claimed_id"].endswith("identifier_select")


async def test_foreign_op_endpoint_is_refused(client: TestClient, steam: FakeSteam) -> None:
    callback = forged(await steam_callback_url(client), op_endpoint="https://evil.example/login")
    final = await back_to_us(client, callback)
    assert fragment_of(final) == {"error": "steam_foreign_endpoint"}
    assert steam.checks == []  # nobody was asked, least of all the attacker's endpoint
    assert not await User.exists()


async def test_claimed_id_swapped_is_refused(client: TestClient, steam: FakeSteam) -> None:
    other = "https://steamcommunity.com/openid/id/76561197960287931"
    callback = forged(await steam_callback_url(client), claimed_id=other)
    assert fragment_of(await back_to_us(client, callback)) == {"error": "steam_bad_identity"}
    assert not await User.exists()


async def test_claimed_id_and_identity_swapped_is_refused_by_steam(
    client: TestClient, steam: FakeSteam
) -> None:
    other = "https://steamcommunity.com/openid/id/76561197960287931"
    callback = forged(await steam_callback_url(client), claimed_id=other, identity=other)
    assert fragment_of(await back_to_us(client, callback)) == {"error": "steam_not_confirmed"}
    assert not await User.exists()


async def test_return_to_mismatch_is_refused(client: TestClient) -> None:
    callback = await steam_callback_url(client)
    tampered = forged(callback, return_to="http://127.0.0.1/api/v1/auth/steam/callback?state=x")
    assert fragment_of(await back_to_us(client, tampered)) == {"error": "steam_return_to_mismatch"}


async def test_replayed_callback_is_refused(client: TestClient) -> None:
    callback = await steam_callback_url(client)
    await back_to_us(client, callback)
    response = await client.get(callback.raw_path_qs, allow_redirects=False)
    await problem_of(response, 401, "invalid_state")


async def test_invalid_check_authentication_is_refused(client: TestClient) -> None:
    callback = forged(await steam_callback_url(client), sig="forged-signature")
    assert fragment_of(await back_to_us(client, callback)) == {"error": "steam_not_confirmed"}
    assert not await User.exists()


async def test_callback_from_another_browser_is_refused(client: TestClient) -> None:
    callback = await steam_callback_url(client)
    client.session.cookie_jar.clear()
    assert fragment_of(await back_to_us(client, callback)) == {"error": "invalid_state"}


async def test_link_steam_to_a_discord_user(client: TestClient) -> None:
    user = await User.create(username="alice", discord_id=42)
    tokens = await auth.start_session(user, "discord")
    response = await client.post(
        "/api/v1/auth/steam/link",
        json={"next": "/account"},
        headers={"Authorization": f"Bearer {tokens.access_token}"},
    )
    assert response.status == 200, await response.text()
    async with (
        aiohttp.ClientSession() as browser,
        browser.get((await response.json())["authorize_url"], allow_redirects=False) as at_steam,
    ):
        callback = URL(at_steam.headers["Location"])
    assert await back_to_us(client, callback) == f"{FRONTEND}/account#linked=steam"
    assert (await User.get(id=user.id)).steam_id == STEAM_ID


async def test_unlink_steam_refuses_the_last_way_to_log_in(client: TestClient) -> None:
    user = await User.create(username="driver", steam_id=STEAM_ID)
    tokens = await auth.start_session(user, "steam")
    response = await client.delete(
        "/api/v1/auth/steam/link", headers={"Authorization": f"Bearer {tokens.access_token}"}
    )
    await problem_of(response, 409, "last_login_method")


# Persona names from the Steam Web API ([steam] api_key)

PERSONA = "Ålice the Trucker"


@pytest.fixture
async def keyed_client(api_client: ClientFactory, steam: FakeSteam) -> AsyncIterator[TestClient]:
    """The API with a Steam Web API key, asking the fake's GetPlayerSummaries."""
    steam.personas[STEAM_ID] = PERSONA
    config = {
        "openid_endpoint": steam.endpoint,
        "api_key": steam.api_key,
        "api_base": steam.api_base,
    }
    async with api_client(
        steam=config, auth={"frontend_origins": [FRONTEND]}, rate_limit={"enabled": False}
    ) as started:
        yield started


async def test_a_new_steam_user_is_named_after_their_persona(
    keyed_client: TestClient, steam: FakeSteam
) -> None:
    final = await back_to_us(keyed_client, await steam_callback_url(keyed_client))
    assert "ticket=" in final
    assert (await User.get(steam_id=STEAM_ID)).username == PERSONA
    (call,) = steam.summaries_calls
    assert call.header_key == steam.api_key
    assert call.query == {"steamids": str(STEAM_ID)}  # the key stays out of the URL


async def test_an_existing_steam_user_keeps_their_name(keyed_client: TestClient) -> None:
    await User.create(username="driver", steam_id=STEAM_ID)
    await back_to_us(keyed_client, await steam_callback_url(keyed_client))
    assert (await User.get(steam_id=STEAM_ID)).username == "driver"


async def test_a_failed_persona_lookup_falls_back_to_the_steam_id(
    keyed_client: TestClient, steam: FakeSteam, caplog: pytest.LogCaptureFixture
) -> None:
    steam.summaries_status = 500
    with caplog.at_level(logging.DEBUG):
        final = await back_to_us(keyed_client, await steam_callback_url(keyed_client))
    assert "ticket=" in final
    assert (await User.get(steam_id=STEAM_ID)).username == f"steam-{STEAM_ID}"
    assert len(steam.summaries_calls) == 1
    assert "GetPlayerSummaries answered HTTP 500" in caplog.text
    assert steam.api_key not in caplog.text


async def test_without_an_api_key_steam_is_not_asked(client: TestClient, steam: FakeSteam) -> None:
    steam.personas[STEAM_ID] = PERSONA
    await back_to_us(client, await steam_callback_url(client))
    assert (await User.get(steam_id=STEAM_ID)).username == f"steam-{STEAM_ID}"
    assert steam.summaries_calls == []
