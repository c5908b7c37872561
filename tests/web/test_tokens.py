"""Access tokens, refresh tokens, sessions and application tokens over HTTP, and forgeries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from models import auth, hubs
from models.members import MemberRole, Role, sync_discord_state
from models.users import User
from tests.web.conftest import ClientFactory, problem_of


async def _login(name: str = "alice", **fields) -> tuple[User, auth.TokenPair]:
    user = await User.create(username=name, **fields)
    return user, await auth.start_session(user, "password")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _claims(user: User, **overrides) -> dict:
    config = auth.token_config()
    now = int(time.time())
    return {
        "iss": config.issuer,
        "aud": config.audience,
        "sub": str(user.id),
        "iat": now,
        "exp": now + 600,
        "jti": "x",
        **overrides,
    }


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _refused(client: TestClient, token: str) -> None:
    response = await client.get("/api/v1/users/@me", headers=_bearer(token))
    await problem_of(response, 401, "invalid_token")


async def test_a_valid_token_shows_the_profile(client: TestClient) -> None:
    _user, pair = await _login(email="alice@example.com")
    response = await client.get("/api/v1/users/@me", headers=_bearer(pair.access_token))
    assert response.status == 200
    body = await response.json()
    assert body["username"] == "alice"
    assert body["connections"]["email"] == "alice@example.com"
    assert body["mfa_enabled"] is False


async def test_no_credentials_is_401(client: TestClient) -> None:
    response = await client.get("/api/v1/users/@me")
    await problem_of(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_forged_alg_none_is_refused(client: TestClient, alg: str) -> None:
    user, _ = await _login()
    kid = auth.token_config().keyring.active.kid
    token = f"{_b64({'alg': alg, 'typ': 'JWT', 'kid': kid})}.{_b64(_claims(user))}."
    await _refused(client, token)


async def test_token_signed_with_another_key_is_refused(client: TestClient) -> None:
    user, _ = await _login()
    kid = auth.token_config().keyring.active.kid
    other = ed25519.Ed25519PrivateKey.generate()
    token = jwt.encode(_claims(user), other, algorithm="EdDSA", headers={"kid": kid})
    await _refused(client, token)


async def test_hs256_signed_with_the_public_key_is_refused(client: TestClient) -> None:
    """Algorithm confusion: the public key used as an HMAC secret."""
    user, _ = await _login()
    key = auth.token_config().keyring.active
    secret = key.public_pem().encode()
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{_b64(header)}.{_b64(_claims(user))}".encode()
    signature = base64.urlsafe_b64encode(hmac.new(secret, signing_input, hashlib.sha256).digest())
    await _refused(client, signing_input.decode() + "." + signature.rstrip(b"=").decode())


async def test_rs256_token_with_our_kid_is_refused(client: TestClient) -> None:
    user, _ = await _login()
    kid = auth.token_config().keyring.active.kid
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(user), rsa_key, algorithm="RS256", headers={"kid": kid})
    await _refused(client, token)


async def test_tampered_payload_is_refused(client: TestClient) -> None:
    user, pair = await _login()
    header, _, signature = pair.access_token.split(".")
    forged = _b64(_claims(user, sub=str(user.id + 1), su=True))
    await _refused(client, f"{header}.{forged}.{signature}")


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": int(time.time()) - 10},
        {"aud": "another-service"},
        {"iss": "someone-else"},
        {"sub": "not-a-number"},
    ],
    ids=["expired", "wrong-aud", "wrong-iss", "bad-sub"],
)
async def test_bad_claims_are_refused(client: TestClient, overrides: dict) -> None:
    user, _ = await _login()
    key = auth.token_config().keyring.active
    token = jwt.encode(
        _claims(user, **overrides), key.private, algorithm=key.algorithm, headers={"kid": key.kid}
    )
    await _refused(client, token)


async def test_refresh_token_is_not_an_access_token(client: TestClient) -> None:
    _, pair = await _login()
    await _refused(client, pair.refresh_token)


async def test_garbage_and_wrong_scheme(client: TestClient) -> None:
    await _refused(client, "not.a.jwt")
    response = await client.get("/api/v1/users/@me", headers={"Authorization": "Basic abc"})
    await problem_of(response, 401, "bad_authorization")


async def test_refresh_rotates_and_reuse_ends_the_session(client: TestClient) -> None:
    _, pair = await _login()
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": pair.refresh_token})
    assert first.status == 200
    rotated = await first.json()
    assert rotated["refresh_token"] != pair.refresh_token
    replay = await client.post("/api/v1/auth/refresh", json={"refresh_token": pair.refresh_token})
    await problem_of(replay, 401, "refresh_token_reused")
    # The thief's replay ended the family: the legitimate new token is dead too.
    after = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    await problem_of(after, 401, "invalid_token")
    await _refused(client, rotated["access_token"])


async def test_logout_revokes_the_access_token_at_once(client: TestClient) -> None:
    _, pair = await _login()
    assert (await client.get("/api/v1/users/@me", headers=_bearer(pair.access_token))).status == 200
    response = await client.post("/api/v1/auth/logout", headers=_bearer(pair.access_token))
    assert response.status == 204
    await _refused(client, pair.access_token)


async def test_logout_everywhere_and_session_list(client: TestClient) -> None:
    user, laptop = await _login()
    phone = await auth.start_session(user, "discord", user_agent="Phone")
    listed = await client.get("/api/v1/auth/sessions", headers=_bearer(laptop.access_token))
    items = (await listed.json())["items"]
    assert {i["method"] for i in items} == {"password", "discord"}
    assert [i["current"] for i in items if i["id"] == laptop.session_id] == [True]
    revoke = await client.delete(
        f"/api/v1/auth/sessions/{phone.session_id}", headers=_bearer(laptop.access_token)
    )
    assert revoke.status == 204
    await _refused(client, phone.access_token)
    out = await client.post("/api/v1/auth/logout-everywhere", headers=_bearer(laptop.access_token))
    assert out.status == 204
    await _refused(client, laptop.access_token)


async def test_app_tokens_need_recent_login_are_listed_without_secret_and_revocable(
    client: TestClient,
) -> None:
    _user, pair = await _login()
    headers = _bearer(pair.access_token)
    created = await client.post(
        "/api/v1/auth/app-tokens", json={"name": "Tracker"}, headers=headers
    )
    assert created.status == 201
    body = await created.json()
    secret = body["token"]
    assert secret.startswith("dha_")
    listed = await (await client.get("/api/v1/auth/app-tokens", headers=headers)).json()
    assert [t["name"] for t in listed["items"]] == ["Tracker"]
    assert "token" not in listed["items"][0]
    me = await client.get("/api/v1/users/@me", headers=_bearer(secret))
    assert me.status == 200
    await client.delete(f"/api/v1/auth/app-tokens/{body['id']}", headers=headers)
    await _refused(client, secret)
    # An old session is not "recent": creating tokens then needs re-authentication.
    await auth.Session.filter(id=pair.session_id).update(
        authenticated_at=auth.now().replace(year=2000)
    )
    stale = await client.post("/api/v1/auth/app-tokens", json={"name": "X"}, headers=headers)
    await problem_of(stale, 403, "reauthentication_required")


async def test_public_keys_verify_our_tokens(client: TestClient) -> None:
    user, pair = await _login()
    jwks = await (await client.get("/api/v1/auth/jwks.json")).json()
    kid = jwt.get_unverified_header(pair.access_token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    key = jwt.PyJWK(jwk)
    config = auth.token_config()
    claims = jwt.decode(pair.access_token, key, algorithms=[jwk["alg"]], audience=config.audience)
    assert claims["sub"] == str(user.id)
    pem = await (await client.get("/api/v1/auth/pub-key")).text()
    public = serialization.load_pem_public_key(pem.encode())
    assert jwt.decode(pair.access_token, public, algorithms=[jwk["alg"]], audience=config.audience)


async def test_role_changes_show_in_the_next_token_and_live_at_once(client: TestClient) -> None:
    user, pair = await _login(discord_id=42)
    hub = await hubs.ensure_hub_for_guild(1, "Road Kings", owner_discord_id=7)
    member = await sync_discord_state(hub.id, user, [], is_admin=False)
    staff = await Role.create(hub=hub, name="Staff", permissions=["manage_members"])
    await MemberRole.create(member=member, role=staff)
    headers = _bearer(pair.access_token)
    token_view = await (await client.get("/api/v1/users/@me", headers=headers)).json()
    assert token_view["hubs"] == {}  # issued before the membership and role existed
    live = await (await client.get("/api/v1/users/@me/live", headers=headers)).json()
    assert live["hubs"] == {"road-kings": ["manage_members"]}
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": pair.refresh_token}
    )
    new_access = (await refreshed.json())["access_token"]
    after = await (await client.get("/api/v1/users/@me", headers=_bearer(new_access))).json()
    assert after["hubs"] == {"road-kings": ["manage_members"]}


async def test_disabled_account_cannot_refresh(api_client: ClientFactory) -> None:
    user, pair = await _login()
    await User.filter(id=user.id).update(is_active=False)
    async with api_client() as client:
        response = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": pair.refresh_token}
        )
        await problem_of(response, 401, "invalid_token")


async def test_mfa_users_must_log_in_again_to_refresh_an_old_session(client: TestClient) -> None:
    user, pair = await _login(mfa_enabled=True, mfa_secret="JBSWY3DPEHPK3PXP")
    fresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": pair.refresh_token})
    assert fresh.status == 200
    rotated = (await fresh.json())["refresh_token"]
    await auth.Session.filter(user_id=user.id).update(
        authenticated_at=auth.now().replace(year=2000)
    )
    old = await client.post("/api/v1/auth/refresh", json={"refresh_token": rotated})
    await problem_of(old, 401, "mfa_required")


async def test_app_tokens_are_listed_a_page_at_a_time_newest_first(client: TestClient) -> None:
    user, pair = await _login()
    for name in ("first", "second", "third"):
        await auth.create_app_token(user.id, name, ["read"], None)
    headers = _bearer(pair.access_token)
    url, names, cursor = "/api/v1/auth/app-tokens?limit=2", [], None
    for _ in range(3):
        page = await (
            await client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=headers)
        ).json()
        names += [t["name"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert names == ["third", "second", "first"]
