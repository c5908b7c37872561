"""Ids in paths: anything but a plain id in range is a 404 problem (never a 422 or a 500)."""

from __future__ import annotations

import uuid

import pytest
from aiohttp.test_utils import TestClient

from models import auth, hubs
from models.users import User
from tests.web.conftest import problem_of

API = "/api/v1"
MAX_ID = 2**63 - 1
BAD_IDS = [
    "abc",
    "-1",
    "+1",
    "0",
    "01",
    "1.5",
    "1e3",
    "0x10",
    "%201",
    "%D9%A1",  # an Arabic-Indic digit one: str.isdigit() and int() would take it
    str(MAX_ID + 1),
    "99999999999999999999999",
    "%00",
]


async def _bearer(**fields: object) -> dict[str, str]:
    user = await User.create(username=f"u{uuid.uuid4().hex[:8]}", **fields)
    pair = await auth.start_session(user, "discord")
    return {"Authorization": f"Bearer {pair.access_token}"}


# method, path with {} for the id, and the code for a well-formed id that names nothing
NUMERIC_ROUTES = {
    "user": ("GET", "/users/{}", "user_not_found"),
    "app_token": ("DELETE", "/auth/app-tokens/{}", "token_not_found"),
    "settings_change": ("POST", "/hubs/road-kings/settings/history/{}/revert", "change_not_found"),
}


async def _allowed_caller(route: str) -> dict[str, str]:
    """Credentials that pass the route's other checks, so only the id can fail."""
    if route == "settings_change":
        await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
        return await _bearer(discord_id=10)  # the hub's owner
    return await _bearer(is_superuser=True)


@pytest.mark.parametrize("name", sorted(NUMERIC_ROUTES))
async def test_malformed_numeric_ids_are_404(client: TestClient, name: str) -> None:
    method, path, code = NUMERIC_ROUTES[name]
    headers = await _allowed_caller(name)
    for bad in BAD_IDS:
        response = await client.request(method, API + path.format(bad), headers=headers)
        await problem_of(response, 404, code)


@pytest.mark.parametrize("name", sorted(NUMERIC_ROUTES))
async def test_the_largest_id_reaches_the_database_and_is_not_found(
    client: TestClient, name: str
) -> None:
    method, path, code = NUMERIC_ROUTES[name]
    headers = await _allowed_caller(name)
    response = await client.request(method, API + path.format(MAX_ID), headers=headers)
    await problem_of(response, 404, code)


@pytest.mark.parametrize(
    "bad",
    [
        *BAD_IDS,
        "1",
        "not-a-uuid",
        uuid.uuid4().hex,  # without dashes
        f"urn:uuid:{uuid.uuid4()}",
        f"{uuid.uuid4()}0",
        str(uuid.uuid4()).replace("-", "_"),
    ],
)
async def test_malformed_session_ids_are_404(client: TestClient, bad: str) -> None:
    response = await client.delete(f"{API}/auth/sessions/{bad}", headers=await _bearer())
    await problem_of(response, 404, "session_not_found")


async def test_session_ids_in_any_case_still_work(client: TestClient) -> None:
    user = await User.create(username="alice")
    laptop = await auth.start_session(user, "password")
    phone = await auth.start_session(user, "password")
    headers = {"Authorization": f"Bearer {laptop.access_token}"}
    unknown = await client.delete(f"{API}/auth/sessions/{uuid.uuid4()}", headers=headers)
    await problem_of(unknown, 404, "session_not_found")
    gone = await client.delete(f"{API}/auth/sessions/{phone.session_id.upper()}", headers=headers)
    assert gone.status == 204
    assert [str(s.id) for s in await auth.active_sessions(user.id)] == [laptop.session_id]
