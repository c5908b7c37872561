"""Two-factor authentication over HTTP (rules in `models.mfa`)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from models import mfa
from models.auth import LoginResult
from models.mfa import CodeInput, MfaLogin
from web.api import Router, json_response, read_json
from web.auth import actor_of, current_claims
from web.sessions import LoginResponse, login_response

router = Router("mfa", app_tokens=False)


class MfaSetupView(BaseModel):
    secret: str = Field(description="For typing into the app; the URI is for a QR code.")
    otpauth_uri: str


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(description="Shown once: each works once instead of a code.")


@router.post(
    "/auth/mfa/verify", body=MfaLogin, response=LoginResponse, errors=(401, 422), limit="auth"
)
async def verify(request: web.Request) -> web.Response:
    """Finish a login that asked for a code: the ticket and a code (or recovery code)."""
    tokens = await mfa.verify_login(await read_json(request, MfaLogin))
    return login_response(LoginResult(tokens=tokens))


@router.post("/auth/mfa/setup", response=MfaSetupView, errors=(401, 403, 409), auth=True)
async def setup(request: web.Request) -> web.Response:
    """Start turning MFA on: a secret for the app, active once a code confirms it."""
    setup = await mfa.begin_setup(await actor_of(request))
    return json_response(MfaSetupView(secret=setup.secret, otpauth_uri=setup.otpauth_uri))


@router.post(
    "/auth/mfa/confirm",
    body=CodeInput,
    response=RecoveryCodes,
    errors=(401, 409, 422),
    auth=True,
    limit="auth",
)
async def confirm(request: web.Request) -> web.Response:
    """Turn MFA on with a code from the app; answers the recovery codes, once."""
    claims = await current_claims(request)
    codes = await mfa.confirm_setup(claims.user_id, (await read_json(request, CodeInput)).code)
    return json_response(RecoveryCodes(recovery_codes=codes))


@router.post(
    "/auth/mfa/disable", body=CodeInput, status=204, errors=(401, 409, 422), auth=True, limit="auth"
)
async def disable(request: web.Request) -> web.Response:
    """Turn MFA off with a code from the app or a recovery code."""
    actor = await actor_of(request)
    await mfa.disable(actor, (await read_json(request, CodeInput)).code)
    return web.Response(status=204)


@router.post(
    "/auth/mfa/recovery-codes",
    body=CodeInput,
    response=RecoveryCodes,
    errors=(401, 422),
    auth=True,
    limit="auth",
)
async def regenerate(request: web.Request) -> web.Response:
    """New recovery codes for a code from the app; the old ones stop working."""
    claims = await current_claims(request)
    codes = await mfa.regenerate_recovery_codes(
        claims.user_id, (await read_json(request, CodeInput)).code
    )
    return json_response(RecoveryCodes(recovery_codes=codes))
