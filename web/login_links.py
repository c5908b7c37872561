"""Exchanging a one-time login ticket (from a login callback or the bot's /login DM)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, RootModel

from models import identities
from web.api import Router, json_response, read_json
from web.sessions import TokenResponse, token_response

router = Router("login")


class TicketExchange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket: str = Field(min_length=16, max_length=200)


class MfaRequired(BaseModel):
    mfa_required: bool = True
    mfa_ticket: str = Field(description="Send it with a code to POST /api/v1/auth/mfa/verify.")


class LoginTicketResult(RootModel[TokenResponse | MfaRequired]):
    """Tokens, or the MFA step."""


@router.post(
    "/auth/login-ticket",
    body=TicketExchange,
    response=LoginTicketResult,
    errors=(400, 401, 403, 422),
    limit="auth",
)
async def exchange_ticket(request: web.Request) -> web.Response:
    """Log in with a one-time ticket; with MFA on, answers with a ticket for the code step."""
    body = await read_json(request, TicketExchange)
    result = await identities.exchange_login_ticket(
        body.ticket,
        user_agent=request.headers.get("User-Agent", ""),
        ip=request.remote or "",
    )
    if result.tokens is None:
        return json_response(MfaRequired(mfa_ticket=result.mfa_ticket or ""))
    return token_response(result.tokens)
