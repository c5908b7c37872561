"""A local Steam OpenID 2.0 provider on 127.0.0.1 for login tests.

`GET /openid/login` (checkid_setup) signs the chosen test user in at once and redirects to
`return_to` with a positive assertion; `POST /openid/login` (check_authentication) says
`is_valid:true` only for an assertion it issued, unchanged, and only once, like Steam.
`GET /ISteamUser/GetPlayerSummaries/v2/` is the Web API: it needs `api_key` (the
`x-webapi-key` header or `key` parameter, else 403) and names the players in `personas`.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from aiohttp import web

NS = "http://specs.openid.net/auth/2.0"
SIGNED = "signed,op_endpoint,claimed_id,identity,return_to,response_nonce,assoc_handle"


@dataclass(frozen=True)
class SummariesCall:
    """One GetPlayerSummaries request: its query, and the key sent in the header."""

    query: dict[str, str]
    header_key: str | None


class FakeSteam:
    def __init__(self) -> None:
        self.steam_id: int | None = None  # who is signed in to Steam in the browser
        self.issued: dict[str, dict[str, str]] = {}  # by signature
        self.checks: list[dict[str, str]] = []
        self.api_key = "fake-steam-web-api-key"
        self.personas: dict[int, str] = {}  # persona names by Steam id
        self.summaries_status = 200  # another status makes GetPlayerSummaries fail
        self.summaries_calls: list[SummariesCall] = []
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/openid/login"

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sign_in_as(self, steam_id: int) -> None:
        self.steam_id = steam_id

    def assertion(self, return_to: str, steam_id: int) -> dict[str, str]:
        """A positive assertion for `steam_id`, remembered for check_authentication."""
        claimed = f"https://steamcommunity.com/openid/id/{steam_id}"
        nonce = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + secrets.token_hex(4)
        params = {
            "openid.ns": NS,
            "openid.mode": "id_res",
            "openid.op_endpoint": self.endpoint,
            "openid.claimed_id": claimed,
            "openid.identity": claimed,
            "openid.return_to": return_to,
            "openid.response_nonce": nonce,
            "openid.assoc_handle": "1234567890",
            "openid.signed": SIGNED,
            "openid.sig": secrets.token_urlsafe(20),
        }
        self.issued[params["openid.sig"]] = dict(params)
        return params

    async def login(self, request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            return await self.check_authentication(request)
        query = request.query
        if query.get("openid.mode") != "checkid_setup" or self.steam_id is None:
            raise web.HTTPBadRequest(text="fakesteam: bad request or no user signed in")
        return_to = query["openid.return_to"]
        params = self.assertion(return_to, self.steam_id)
        raise web.HTTPFound(f"{return_to}&{urlencode(params)}")

    async def check_authentication(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.checks.append(form)
        issued = self.issued.pop(str(form.get("openid.sig", "")), None)
        claimed = {**form, "openid.mode": "id_res"}
        valid = form.get("openid.mode") == "check_authentication" and issued == claimed
        body = f"ns:{NS}\nis_valid:{'true' if valid else 'false'}\n"
        return web.Response(text=body, content_type="text/plain")

    async def player_summaries(self, request: web.Request) -> web.Response:
        """Like Steam: a bad key is a 403, ids it does not know are left out of `players`."""
        header_key = request.headers.get("x-webapi-key")
        self.summaries_calls.append(SummariesCall(dict(request.query), header_key))
        if self.summaries_status != 200:
            return web.Response(status=self.summaries_status, text="fakesteam: failing on demand")
        if (header_key or request.query.get("key")) != self.api_key:
            raise web.HTTPForbidden(text="Forbidden")
        ids = [i for i in request.query.get("steamids", "").split(",") if i.isdigit()]
        if not ids:
            raise web.HTTPBadRequest(text="Required parameter 'steamids' is missing")
        players = [
            {"steamid": i, "personaname": self.personas[int(i)], "communityvisibilitystate": 3}
            for i in ids
            if int(i) in self.personas
        ]
        return web.json_response({"response": {"players": players}})


@asynccontextmanager
async def fake_steam() -> AsyncIterator[FakeSteam]:
    steam = FakeSteam()
    app = web.Application()
    app.router.add_route("*", "/openid/login", steam.login)
    app.router.add_get("/ISteamUser/GetPlayerSummaries/v2/", steam.player_summaries)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    steam.port = runner.addresses[0][1]
    try:
        yield steam
    finally:
        await runner.cleanup()
