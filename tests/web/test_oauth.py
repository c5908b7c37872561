"""Login with Discord over HTTP against the Discord emulator: the test plays the browser."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import time_machine
from aiohttp.test_utils import TestClient
from yarl import URL

from models import auth
from models.users import User
from tests.fakediscord import FakeDiscord
from tests.web.conftest import ClientFactory, problem_of

FRONTEND = "https://hub.example.com"
REDIRECT_URI = "http://127.0.0.1/api/v1/auth/discord/callback"
LOGIN = "/api/v1/auth/discord/login"


@pytest.fixture
async def client(api_client: ClientFactory, discord: FakeDiscord) -> AsyncIterator[TestClient]:
    """The API configured for Discord login at the emulator (rate limits off: many flows)."""
    discord.oauth2.redirect_uris.add(REDIRECT_URI)
    oauth = {
        "client_id": str(discord.application_id),
        "client_secret": discord.oauth2.client_secret,
        "redirect_uri": REDIRECT_URI,
        "authorize_url": discord.authorize_url,
    }
    async with api_client(
        discord={"api_base": discord.api_base, "oauth": oauth},
        auth={"frontend_origins": [FRONTEND]},
        rate_limit={"enabled": False},
    ) as started:
        yield started


async def start_login(client: TestClient, next_url: str = "/dashboard") -> str:
    """GET our login route; return where it sends the browser (Discord's consent page)."""
    response = await client.get(LOGIN, params={"next": next_url}, allow_redirects=False)
    assert response.status == 302, await response.text()
    return response.headers["Location"]


async def consent(authorize_url: str) -> str:
    """The browser at Discord: return where Discord redirects it (our callback)."""
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(authorize_url, allow_redirects=False) as response,
    ):
        assert response.status == 302, await response.text()
        return response.headers["Location"]


async def back_to_us(client: TestClient, callback_url: str) -> aiohttp.ClientResponse:
    """Follow Discord's redirect to our callback (the client's cookie jar comes along)."""
    assert callback_url.startswith(REDIRECT_URI)
    return await client.get(URL(callback_url).raw_path_qs, allow_redirects=False)


async def login_flow(client: TestClient, next_url: str = "/dashboard") -> str:
    """The whole browser round trip; return the final redirect to the website."""
    response = await back_to_us(client, await consent(await start_login(client, next_url)))
    assert response.status == 302, await response.text()
    return response.headers["Location"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def fragment_of(url: str) -> dict[str, str]:
    """What a login callback tells the website: in the fragment, which no server sees."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).fragment).items()}


async def exchange(client: TestClient, ticket: str) -> aiohttp.ClientResponse:
    return await client.post("/api/v1/auth/login-ticket", json={"ticket": ticket})


# The happy paths


async def test_discord_login_end_to_end_creates_the_user(
    client: TestClient, discord: FakeDiscord
) -> None:
    alice = discord.user("alice")
    discord.oauth2.approve_as(alice)
    final = await login_flow(client)
    assert final.startswith(f"{FRONTEND}/dashboard#ticket=")
    response = await exchange(client, fragment_of(final)["ticket"])
    assert response.status == 200, await response.text()
    tokens = await response.json()
    me = await client.get(
        "/api/v1/users/@me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    profile = await me.json()
    assert profile["connections"]["discord_id"] == str(alice.id)
    assert profile["connections"]["email"] == "alice@users.fakediscord.test"
    assert profile["username"] == "alice"


async def test_the_ticket_joins_what_next_already_has(
    client: TestClient, discord: FakeDiscord
) -> None:
    discord.oauth2.approve_as(discord.user("alice"))
    final = await login_flow(client, "/dashboard?tab=jobs#top")
    assert final.startswith(f"{FRONTEND}/dashboard?tab=jobs#top&ticket=")
    assert query_of(final) == {"tab": "jobs"}  # the ticket never reaches a server's logs
    assert (await exchange(client, fragment_of(final)["ticket"])).status == 200


async def test_discord_login_finds_the_user_the_bot_already_knows(
    client: TestClient, discord: FakeDiscord
) -> None:
    alice = discord.user("alice")
    known = await User.create(username="alice", discord_id=alice.id)
    discord.oauth2.approve_as(alice)
    final = await login_flow(client)
    await exchange(client, fragment_of(final)["ticket"])
    assert await User.all().count() == 1
    session = await auth.Session.get(user_id=known.id)
    assert session.method == "discord"


async def test_the_exchange_uses_pkce_and_the_exact_redirect_uri(
    client: TestClient, discord: FakeDiscord
) -> None:
    discord.oauth2.approve_as(discord.user("alice"))
    authorize = await start_login(client)
    query = query_of(authorize)
    assert (query["code_challenge_method"], query["redirect_uri"]) == ("S256", REDIRECT_URI)
    assert set(query["scope"].split()) == {"identify", "email"}
    await back_to_us(client, await consent(authorize))
    (exchanged,) = discord.requests_to("POST /oauth2/token")
    assert exchanged.status == 200
    assert exchanged.body["redirect_uri"] == REDIRECT_URI
    assert len(exchanged.body["code_verifier"]) >= 43


async def test_login_ticket_from_a_callback_works_once(
    client: TestClient, discord: FakeDiscord
) -> None:
    discord.oauth2.approve_as(discord.user("alice"))
    ticket = fragment_of(await login_flow(client))["ticket"]
    assert (await exchange(client, ticket)).status == 200
    await problem_of(await exchange(client, ticket), 401, "invalid_ticket")


async def test_login_ticket_with_mfa_on_asks_for_a_code(
    client: TestClient, discord: FakeDiscord
) -> None:
    alice = discord.user("alice")
    await User.create(username="alice", discord_id=alice.id, mfa_enabled=True, mfa_secret="A" * 32)
    discord.oauth2.approve_as(alice)
    response = await exchange(client, fragment_of(await login_flow(client))["ticket"])
    body = await response.json()
    assert body["mfa_required"] is True
    assert body["mfa_ticket"]
    assert "access_token" not in body


# The OAuth state: missing, reused, expired, from another browser


async def test_callback_without_state_is_refused(client: TestClient) -> None:
    response = await client.get("/api/v1/auth/discord/callback?code=abc", allow_redirects=False)
    await problem_of(response, 401, "invalid_state")


async def test_reused_state_is_refused(client: TestClient, discord: FakeDiscord) -> None:
    discord.oauth2.approve_as(discord.user("alice"))
    callback = await consent(await start_login(client))
    assert (await back_to_us(client, callback)).status == 302
    await problem_of(await back_to_us(client, callback), 401, "invalid_state")


async def test_expired_state_is_refused(client: TestClient, discord: FakeDiscord) -> None:
    discord.oauth2.approve_as(discord.user("alice"))
    callback = await consent(await start_login(client))
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=11)):
        response = await back_to_us(client, callback)
    await problem_of(response, 401, "invalid_state")
    assert not await User.exists()


async def test_state_from_another_browser_is_refused(
    client: TestClient, discord: FakeDiscord
) -> None:
    # An attacker starts a login and sends the victim the callback link (login CSRF).
    discord.oauth2.approve_as(discord.user("mallory"))
    callback = await consent(await start_login(client))
    client.session.cookie_jar.clear()  # the victim's browser has no binding cookie
    response = await back_to_us(client, callback)
    assert response.status == 302
    assert fragment_of(response.headers["Location"]) == {"error": "invalid_state"}
    assert not await User.exists()


async def test_state_with_a_wrong_cookie_is_refused(
    client: TestClient, discord: FakeDiscord
) -> None:
    discord.oauth2.approve_as(discord.user("mallory"))
    callback = await consent(await start_login(client))
    client.session.cookie_jar.update_cookies(
        {"dh_login_discord": "forged"}, URL("http://127.0.0.1/api/v1/auth/")
    )
    response = await back_to_us(client, callback)
    assert fragment_of(response.headers["Location"]) == {"error": "invalid_state"}


async def test_denied_at_discord_goes_back_with_an_error(
    client: TestClient, discord: FakeDiscord
) -> None:
    discord.oauth2.deny()
    response = await back_to_us(client, await consent(await start_login(client)))
    assert response.headers["Location"] == f"{FRONTEND}/dashboard#error=access_denied"


async def test_discord_outage_goes_back_with_an_error(
    client: TestClient, discord: FakeDiscord
) -> None:
    discord.oauth2.approve_as(discord.user("alice"))
    discord.fail("POST /oauth2/token", status=502)
    final = await login_flow(client)
    assert fragment_of(final) == {"error": "login_unavailable"}


# The access token is revoked once Discord said who logged in


async def test_the_access_token_is_revoked_after_the_login(
    client: TestClient, discord: FakeDiscord
) -> None:
    alice = discord.user("alice")
    discord.oauth2.approve_as(alice)
    await login_flow(client)
    (revocation,) = discord.oauth2.revocations
    assert (revocation.user, revocation.token_type_hint) == (alice, "access_token")
    assert discord.oauth2.tokens == {}  # no token of the login is left alive
    (revoked,) = discord.requests_to("POST /oauth2/token/revoke")
    assert revoked.status == 200


async def test_a_failed_revocation_is_logged_and_the_login_goes_on(
    client: TestClient, discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    discord.oauth2.approve_as(discord.user("alice"))
    discord.fail("POST /oauth2/token/revoke", status=500)
    with caplog.at_level(logging.WARNING, logger="web.oauth"):
        final = await login_flow(client)
    assert "ticket=" in final
    assert "error=" not in final
    assert await User.exists(username="alice")
    assert discord.oauth2.revocations == []
    assert "Could not revoke a Discord access token (HTTP 500)" in caplog.text


async def test_login_without_oauth_configuration_is_unavailable(
    api_client: ClientFactory,
) -> None:
    async with api_client() as plain:
        response = await plain.get(LOGIN, allow_redirects=False)
        await problem_of(response, 503, "login_unavailable")


# Open redirects: `next` never leaves our origins


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("//evil.com", id="protocol-relative"),
        pytest.param("/\\evil.com", id="slash-backslash"),
        pytest.param("\\\\evil.com", id="double-backslash"),
        pytest.param("https:evil.com", id="scheme-without-slashes"),
        pytest.param("https://hub.example.com.evil.com/", id="suffix-of-our-origin"),
        pytest.param("http://127.0.0.1.evil.com/", id="suffix-of-public-url"),
        pytest.param("https://hub.example.com@evil.com/", id="userinfo"),
        pytest.param("https://evil.com\\@hub.example.com/", id="userinfo-backslash"),
        pytest.param("javascript:alert(1)", id="javascript"),
        pytest.param("data:text/html,hi", id="data"),
        pytest.param("/%2F%2Fevil.com", id="encoded-slashes"),
        pytest.param("%2F%2Fevil.com", id="fully-encoded-slashes"),
        pytest.param("/%5Cevil.com", id="encoded-backslash"),
        pytest.param("/\t/evil.com", id="tab"),
        pytest.param("/%09/evil.com", id="encoded-tab"),
        pytest.param("http://hub.example.com/", id="other-scheme-of-our-origin"),
        pytest.param("evil.com", id="bare-host"),
    ],
)
async def test_unsafe_next_is_refused(client: TestClient, target: str) -> None:
    response = await client.get(LOGIN, params={"next": target}, allow_redirects=False)
    await problem_of(response, 422, "unsafe_redirect")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/dashboard?tab=jobs", f"{FRONTEND}/dashboard?tab=jobs"),
        (f"{FRONTEND}/settings", f"{FRONTEND}/settings"),
        ("http://127.0.0.1/api/v1/docs", "http://127.0.0.1/api/v1/docs"),
    ],
)
async def test_safe_next_is_where_the_browser_lands(
    client: TestClient, discord: FakeDiscord, target: str, expected: str
) -> None:
    discord.oauth2.deny()
    response = await back_to_us(client, await consent(await start_login(client, target)))
    assert response.headers["Location"].startswith(expected)


# Linking and unlinking Discord


async def _logged_in(**fields) -> dict[str, str]:
    user = await User.create(username="driver", **fields)
    tokens = await auth.start_session(user, "steam")
    return {"Authorization": f"Bearer {tokens.access_token}"}


async def start_link(client: TestClient, headers: dict[str, str]) -> str:
    response = await client.post(
        "/api/v1/auth/discord/link", json={"next": "/account"}, headers=headers
    )
    assert response.status == 200, await response.text()
    return (await response.json())["authorize_url"]


async def test_link_discord_to_the_logged_in_user(client: TestClient, discord: FakeDiscord) -> None:
    alice = discord.user("alice")
    headers = await _logged_in(steam_id=76561197960287930)
    discord.oauth2.approve_as(alice)
    response = await back_to_us(client, await consent(await start_link(client, headers)))
    assert response.headers["Location"] == f"{FRONTEND}/account#linked=discord"
    assert (await User.get(steam_id=76561197960287930)).discord_id == alice.id


async def test_link_an_identity_of_another_account_is_refused(
    client: TestClient, discord: FakeDiscord
) -> None:
    alice = discord.user("alice")
    await User.create(username="alice", discord_id=alice.id)
    headers = await _logged_in(steam_id=76561197960287930)
    discord.oauth2.approve_as(alice)
    response = await back_to_us(client, await consent(await start_link(client, headers)))
    assert response.headers["Location"] == f"{FRONTEND}/account#error=identity_taken"
    assert (await User.get(steam_id=76561197960287930)).discord_id is None


async def test_link_needs_a_logged_in_session(client: TestClient) -> None:
    response = await client.post("/api/v1/auth/discord/link", json={})
    await problem_of(response, 401, "unauthorized")


async def test_unlink_discord(client: TestClient) -> None:
    headers = await _logged_in(steam_id=76561197960287930, discord_id=5)
    response = await client.delete("/api/v1/auth/discord/link", headers=headers)
    assert response.status == 204
    assert (await User.get(steam_id=76561197960287930)).discord_id is None


async def test_unlink_the_last_way_to_log_in_is_refused(client: TestClient) -> None:
    headers = await _logged_in(discord_id=5)
    response = await client.delete("/api/v1/auth/discord/link", headers=headers)
    await problem_of(response, 409, "last_login_method")
