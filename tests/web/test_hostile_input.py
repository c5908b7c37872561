"""Hostile input over HTTP: every answer is a 4xx problem, never a 500, and nothing odd is
stored: deep or huge JSON, null settings, odd token claims, invisible or unnormalised text."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient

from models import auth, hubs, plugins
from models.accounts import AccountPolicy, Registration, register
from models.hubs import Hub
from models.users import User
from models.validation import validate
from tests.web.auth_client import NO_LIMITS, PASSWORD, login
from tests.web.conftest import ClientFactory, problem_of
from web.app import routers

API = "/api/v1"
HUB = f"{API}/hubs/road-kings"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def client(api_client: ClientFactory) -> AsyncIterator[TestClient]:
    async with api_client(rate_limit=NO_LIMITS) as started:
        yield started


async def _session(username: str, **fields: Any) -> tuple[User, dict[str, str]]:
    """A user logged in just now (sensitive routes pass) and their bearer header."""
    user = await User.create(username=username, **fields)
    pair = await auth.start_session(user, "password")
    return user, {"Authorization": f"Bearer {pair.access_token}"}


async def _owner() -> tuple[Hub, User, dict[str, str]]:
    """The Road Kings hub and its owner, logged in."""
    hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    return hub, *await _session("olga", discord_id=10)


async def _patch_hub(client: TestClient, headers: dict[str, str], body: Any) -> Any:
    return await client.patch(HUB, json=body, headers=headers)


# 1. JSON nesting and number length, on every route that reads a body

DEEP = b'{"email": ' + b"[" * 33 + b"]" * 33 + b"}"
VERY_DEEP = b"[" * 100_000
LONG_NUMBER = b'{"email": ' + b"1" * 31 + b"}"
HUGE_NUMBER = b'{"email": ' + b"9" * 5000 + b"}"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (DEEP, "json_too_deep"),
        (VERY_DEEP, "json_too_deep"),
        (LONG_NUMBER, "number_too_long"),
        (HUGE_NUMBER, "number_too_long"),
        (b'{"email": NaN}', "number_out_of_range"),
    ],
    ids=["33-levels", "100k-levels", "31-digits", "5000-digits", "nan"],
)
async def test_deep_or_huge_json_is_a_400_before_login(
    client: TestClient, body: bytes, code: str
) -> None:
    response = await client.post(f"{API}/auth/login", data=body, headers=JSON)
    await problem_of(response, 400, code)


async def test_deep_or_huge_json_is_a_400_for_a_logged_in_user(client: TestClient) -> None:
    _, _, headers = await _owner()
    for body, code in ((DEEP, "json_too_deep"), (HUGE_NUMBER, "number_too_long")):
        response = await client.patch(HUB, data=body, headers=headers | JSON)
        await problem_of(response, 400, code)
    lists: Any = []
    for _ in range(28):
        lists = [lists]  # 29 levels, under three objects: 32 in all, the most allowed
    thirty_two = {"plugin_settings": {"x": {"y": lists}}}
    response = await _patch_hub(client, headers, thirty_two)
    await problem_of(response, 422, "validation_failed")  # 32 levels parse; "x" is no package


def _body_routes() -> list[tuple[str, str]]:
    return sorted({(e.method, e.path) for r in routers() for e in r.endpoints if e.body})


@pytest.mark.parametrize(("method", "path"), _body_routes())
async def test_every_route_with_a_body_bounds_its_json(
    client: TestClient, method: str, path: str
) -> None:
    hub, _, headers = await _owner()
    await Hub.filter(id=hub.id).update(plugins=plugins.plugin_keys())  # every package's routes
    url = API + re.sub(r"\{\w+\}", "1", path.replace("{hub}", hub.slug))
    response = await client.request(method, url, data=DEEP, headers=headers | JSON)
    await problem_of(response, 400, "json_too_deep")


# 2. null where a setting needs a value


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"settings": {"description": None}}, "settings.description"),
        ({"settings": {"accent_color": None}}, "settings.accent_color"),
        ({"language": None}, "language"),
        ({"name": None}, "name"),
        ({"timezone": None}, "timezone"),
        ({"settings": None}, "settings"),
    ],
)
async def test_null_for_a_needed_setting_is_a_422_naming_it(
    client: TestClient, change: dict, field: str
) -> None:
    hub, _, headers = await _owner()
    response = await _patch_hub(client, headers, change)
    body = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == [field]
    after = await Hub.get(id=hub.id)
    assert (after.name, after.language, after.settings) == ("Road Kings", "en", {})


async def test_null_clears_the_optional_settings(client: TestClient) -> None:
    hub, _, headers = await _owner()
    values = {"website": "https://roadkings.example.com/", "audit_channel_id": 123}
    assert (await _patch_hub(client, headers, {"settings": values})).status == 200
    cleared = {"website": None, "audit_channel_id": None}
    assert (await _patch_hub(client, headers, {"settings": cleared})).status == 200
    stored = (await Hub.get(id=hub.id)).hub_settings
    assert (stored.website, stored.audit_channel_id) == (None, None)


async def test_ids_in_settings_stay_in_range(client: TestClient) -> None:
    hub, _, headers = await _owner()
    response = await _patch_hub(client, headers, {"settings": {"audit_channel_id": 2**63}})
    body = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["settings.audit_channel_id"]
    assert (await Hub.get(id=hub.id)).settings == {}


async def test_null_in_the_profile_is_a_422_naming_it(client: TestClient) -> None:
    _, _, headers = await _owner()
    for change, field in (
        ({"first_name": None}, "first_name"),
        ({"privacy": {"show_online": None}}, "privacy.show_online"),
    ):
        response = await client.patch(f"{API}/users/@me", json=change, headers=headers)
        body = await problem_of(response, 422, "validation_failed")
        assert [e["field"] for e in body["errors"]] == [field]


# 3. Odd claims in validly signed tokens


def _signed(user: User, session_id: str, **overrides: Any) -> dict[str, str]:
    config = auth.token_config()
    key = config.keyring.active
    now = int(time.time())
    claims = {
        "iss": config.issuer,
        "aud": config.audience,
        "sub": str(user.id),
        "sid": session_id,
        "iat": now,
        "exp": now + 600,
        "jti": "x",
        **overrides,
    }
    token = jwt.encode(claims, key.private, algorithm=key.algorithm, headers={"kid": key.kid})
    return {"Authorization": f"Bearer {token}"}


ODD_CLAIMS = [
    {"sub": "99999999999999999999999"},
    {"sub": str(2**63)},
    {"sub": "-1"},
    {"sub": "0"},
    {"sub": "1e3"},
    {"sub": "١"},
    {"did": "99999999999999999999999"},
    {"did": "-5"},
    {"did": 10},
    {"did": True},
    {"su": "no"},
    {"hubs": ["road-kings"]},
    {"hubs": {"road-kings": "manage_hub"}},
]


@pytest.mark.parametrize("overrides", ODD_CLAIMS, ids=lambda o: f"{next(iter(o))}={o!r}")
async def test_odd_claims_in_a_signed_token_are_a_401(client: TestClient, overrides: dict) -> None:
    user = await User.create(username="alice")
    pair = await auth.start_session(user, "password")
    session_id = auth.decode_access_token(pair.access_token).session_id or ""
    headers = _signed(user, session_id, **overrides)
    response = await client.get(f"{API}/users/@me", headers=headers)
    await problem_of(response, 401, "invalid_token")


@pytest.mark.parametrize("padded", [" {}", "{} ", "0{}", "+{}"])
async def test_a_sub_spelled_differently_is_not_the_same_user(
    client: TestClient, padded: str
) -> None:
    user = await User.create(username="alice")
    pair = await auth.start_session(user, "password")
    session_id = auth.decode_access_token(pair.access_token).session_id or ""
    good = await client.get(f"{API}/users/@me", headers=_signed(user, session_id))
    assert good.status == 200
    odd = _signed(user, session_id, sub=padded.format(user.id))
    await problem_of(await client.get(f"{API}/users/@me", headers=odd), 401, "invalid_token")


async def test_a_list_as_sub_is_a_401(client: TestClient) -> None:
    user = await User.create(username="alice")
    pair = await auth.start_session(user, "password")
    session_id = auth.decode_access_token(pair.access_token).session_id or ""
    headers = _signed(user, session_id, sub=[str(user.id)])
    await problem_of(await client.get(f"{API}/users/@me", headers=headers), 401, "invalid_token")


# 4. Names and free text


async def test_a_nul_in_a_hub_name_is_a_422(client: TestClient) -> None:
    hub, _, headers = await _owner()
    response = await _patch_hub(client, headers, {"name": "Road\u0000Kings"})
    body = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["name"]
    assert (await Hub.get(id=hub.id)).name == "Road Kings"


@pytest.mark.parametrize("name", ["\u200b\u200b", "\u3164", "\u0301", "  \ufeff  "])
async def test_an_invisible_hub_name_is_a_422(client: TestClient, name: str) -> None:
    hub, _, headers = await _owner()
    response = await _patch_hub(client, headers, {"name": name})
    body = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["name"]
    assert (await Hub.get(id=hub.id)).name == "Road Kings"


async def test_names_and_descriptions_are_stored_in_nfc(client: TestClient) -> None:
    hub, _, headers = await _owner()
    change = {"name": "  Cafe\u0301 Racers ", "settings": {"description": "Cafe\u0301\r\nrun"}}
    response = await _patch_hub(client, headers, change)
    assert response.status == 200
    body = await response.json()
    assert (body["name"], body["description"]) == ("Café Racers", "Café\nrun")
    stored = await Hub.get(id=hub.id)
    assert (stored.name, stored.hub_settings.description) == ("Café Racers", "Café\nrun")


async def test_control_characters_in_a_description_are_a_422(client: TestClient) -> None:
    hub, _, headers = await _owner()
    response = await _patch_hub(client, headers, {"settings": {"description": "a\u001bb"}})
    body = await problem_of(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["settings.description"]
    assert (await Hub.get(id=hub.id)).settings == {}


async def test_text_that_cannot_be_stored_is_refused_anywhere_in_a_body(
    client: TestClient,
) -> None:
    hub, _, headers = await _owner()
    for body, field in (
        (b'{"plugin_settings": {"shoutbox": {"x": "\\u0000"}}}', "plugin_settings.shoutbox.x"),
        (b'{"timezone": "Europe/\\ud800"}', "timezone"),
    ):
        response = await client.patch(HUB, data=body, headers=headers | JSON)
        problem = await problem_of(response, 422, "validation_failed")
        assert [e["field"] for e in problem["errors"]] == [field]
    response = await client.post(
        f"{API}/auth/login", data=b'{"email": "a\\u0000@b.c", "password": "x"}', headers=JSON
    )
    await problem_of(response, 422, "validation_failed")
    assert (await Hub.get(id=hub.id)).settings == {}


async def test_usernames_and_app_token_names_are_checked_and_normalised(
    client: TestClient,
) -> None:
    _, headers = await _session("zoe")
    for name in ("\u200b\u200b", "a\u0000b", "two\nlines"):
        response = await client.patch(f"{API}/users/@me", json={"username": name}, headers=headers)
        await problem_of(response, 422, "validation_failed")
    response = await client.patch(
        f"{API}/users/@me", json={"username": " Zoe\u0308 "}, headers=headers
    )
    assert (response.status, (await response.json())["username"]) == (200, "Zoë")
    created = await client.post(
        f"{API}/auth/app-tokens", json={"name": "Tracker\u200b\u200b"}, headers=headers
    )
    assert (created.status, (await created.json())["name"]) == (201, "Tracker")
    invisible = await client.post(
        f"{API}/auth/app-tokens", json={"name": "\u2060"}, headers=headers
    )
    await problem_of(invisible, 422, "validation_failed")


async def test_an_address_differing_only_by_normalisation_counts_as_taken(
    client: TestClient,
) -> None:
    policy = AccountPolicy(link_base="https://hub.example.com")
    composed, decomposed = "jos\u00e9@example.com", "jose\u0301@example.com"
    await register(
        validate(Registration, {"email": composed, "username": "José", "password": PASSWORD}),
        policy,
    )
    again = {"email": decomposed, "username": "Jose\u0301", "password": PASSWORD}
    response = await client.post(f"{API}/auth/register", json=again)
    assert response.status == 202  # the same answer as a new address: nothing leaks
    assert await User.all().count() == 1
    assert (await User.get(email=composed)).username == "José"
    await User.filter(email=composed).update(is_verified=True)
    assert (await login(client, decomposed)).status == 200
