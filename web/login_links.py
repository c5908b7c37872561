"""Exchanging a one-time login ticket (from a login callback or the bot's /login DM)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from models import identities
from web.api import Router, read_json
from web.clientip import client_ip
from web.sessions import LoginResponse, login_response

router = Router("login")


class TicketExchange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket: str = Field(min_length=16, max_length=200)


@router.post(
    "/auth/login-ticket",
    body=TicketExchange,
    response=LoginResponse,
    errors=(400, 401, 403, 422),
    limit="auth",
)
async def exchange_ticket(request: web.Request) -> web.Response:
    """Log in with a one-time ticket; with MFA on, answers with a ticket for the code step."""
    body = await read_json(request, TicketExchange)
    result = await identities.exchange_login_ticket(
        body.ticket,
        user_agent=request.headers.get("User-Agent", ""),
        ip=client_ip(request),
    )
    return login_response(result)
