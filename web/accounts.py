"""E-mail + password accounts and the users API over HTTP (rules in `models.accounts`)."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel

from models import accounts
from models.accounts import (
    AccountPolicy,
    EmailChange,
    PasswordChange,
    PasswordLogin,
    ProfileUpdate,
    Reauthentication,
    Registration,
    ResetConfirm,
    ResetRequest,
    SensitiveConfirm,
    TokenInput,
    UserQuery,
    UserSummary,
)
from models.errors import NotFound
from models.i18n import N_, translate
from models.pagination import Page
from models.users import Profile
from web.api import Router, json_response, parse_query, path_id, read_json
from web.auth import actor_of, current_claims
from web.captcha import require_captcha
from web.clientip import client_ip
from web.keys import SETTINGS
from web.problems import language
from web.sessions import LoginResponse, login_response

router = Router("accounts", app_tokens=False)


class Notice(BaseModel):
    """The request was taken; what happens next arrives by e-mail."""

    detail: str


class Deletion(BaseModel):
    erase_after: datetime


def policy(request: web.Request) -> AccountPolicy:
    """Links in e-mails open the website (the first frontend origin), else the public URL."""
    settings = request.app[SETTINGS]
    return AccountPolicy(
        link_base=(settings.auth.frontend_origins or [settings.web.public_url])[0],
        email_link_ttl=settings.auth.email_link_ttl,
        password_reset_ttl=settings.auth.password_reset_ttl,
        deletion_grace_days=settings.auth.account_deletion_grace_days,
    )


def notice(request: web.Request, message: str) -> web.Response:
    return json_response(Notice(detail=translate(message, language(request))), status=202)


def no_content() -> web.Response:
    return web.Response(status=204)


# Registration, login, passwords


@router.post(
    "/auth/register",
    body=Registration,
    response=Notice,
    status=202,
    errors=(400, 422),
    limit="auth",
)
async def register(request: web.Request) -> web.Response:
    """Create an account; a verification link is sent to the address."""
    body = await read_json(request, Registration)
    await require_captcha(request, body.captcha_token)
    await accounts.register(body, policy(request))
    return notice(request, N_("Check your inbox: we sent you an e-mail with a link."))


@router.post(
    "/auth/verify-email", body=TokenInput, status=204, errors=(400, 401, 422), limit="auth"
)
async def verify_email(request: web.Request) -> web.Response:
    """Confirm the e-mail address with the token from the verification link."""
    await accounts.verify_email((await read_json(request, TokenInput)).token)
    return no_content()


@router.post(
    "/auth/login",
    body=PasswordLogin,
    response=LoginResponse,
    errors=(400, 401, 403, 422),
    limit="auth",
)
async def login(request: web.Request) -> web.Response:
    """Log in with e-mail and password; with MFA on, the answer asks for a code."""
    body = await read_json(request, PasswordLogin)
    await require_captcha(request, body.captcha_token)
    result = await accounts.login_with_password(
        body, user_agent=request.headers.get("User-Agent", ""), ip=client_ip(request)
    )
    return login_response(result)


@router.post("/auth/password-reset", body=ResetRequest, response=Notice, status=202, limit="auth")
async def request_password_reset(request: web.Request) -> web.Response:
    """Send a password reset link (the answer is the same whether the address is known)."""
    body = await read_json(request, ResetRequest)
    await require_captcha(request, body.captcha_token)
    await accounts.request_password_reset(body, policy(request))
    return notice(request, N_("If an account uses this address, we sent it a link."))


@router.post(
    "/auth/password-reset/confirm", body=ResetConfirm, status=204, errors=(401, 422), limit="auth"
)
async def confirm_password_reset(request: web.Request) -> web.Response:
    """Set a new password with the token from the reset link; every session ends."""
    await accounts.confirm_password_reset(await read_json(request, ResetConfirm))
    return no_content()


@router.post(
    "/auth/reauthenticate",
    body=Reauthentication,
    status=204,
    errors=(401, 403, 422),
    auth=True,
    limit="auth",
)
async def reauthenticate(request: web.Request) -> web.Response:
    """Confirm it is you (password, or MFA code) before a sensitive action."""
    actor = await actor_of(request)
    await accounts.reauthenticate(actor, await read_json(request, Reauthentication))
    return no_content()


@router.post(
    "/auth/email/confirm", body=TokenInput, status=204, errors=(401, 409, 422), limit="auth"
)
async def confirm_email_change(request: web.Request) -> web.Response:
    """Switch to the new e-mail address with the token from the confirmation link."""
    await accounts.confirm_email_change((await read_json(request, TokenInput)).token)
    return no_content()


@router.post(
    "/users/@me/password",
    body=PasswordChange,
    status=204,
    errors=(401, 403, 422),
    auth=True,
    limit="auth",
)
async def change_password(request: web.Request) -> web.Response:
    """Change (or first set) your password; your other sessions end."""
    actor = await actor_of(request)
    await accounts.change_password(actor, await read_json(request, PasswordChange))
    return no_content()


@router.post(
    "/users/@me/email",
    body=EmailChange,
    response=Notice,
    status=202,
    errors=(401, 403, 422),
    auth=True,
    limit="auth",
)
async def change_email(request: web.Request) -> web.Response:
    """Change your e-mail address: a link to the new address confirms it (recent login)."""
    actor = await actor_of(request)
    body = await read_json(request, EmailChange)
    await accounts.request_email_change(actor, body, policy(request))
    return notice(request, N_("Open the link we sent to the new address to confirm it."))


# The current user


@router.patch("/users/@me", body=ProfileUpdate, response=Profile, errors=(401, 422), auth=True)
async def update_me(request: web.Request) -> web.Response:
    """Change your profile, language, time zone or privacy settings."""
    claims = await current_claims(request)
    body = await read_json(request, ProfileUpdate)
    return json_response(await accounts.update_profile(claims.user_id, body))


@router.delete(
    "/users/@me",
    body=SensitiveConfirm,
    response=Deletion,
    status=202,
    errors=(401, 403),
    auth=True,
)
async def delete_me(request: web.Request) -> web.Response:
    """Delete your account after a grace period (recent login or a code); you are logged out."""
    actor = await actor_of(request)
    body = await read_json(request, SensitiveConfirm) if request.body_exists else None
    code = body.code if body else None
    erase_after = await accounts.request_deletion(actor, code, policy(request))
    return json_response(Deletion(erase_after=erase_after), status=202)


@router.post("/users/@me/restore", response=Profile, errors=(401, 409), auth=True)
async def restore_me(request: web.Request) -> web.Response:
    """Cancel the deletion of your account within the grace period."""
    claims = await current_claims(request)
    return json_response(await accounts.restore_account(claims.user_id, policy(request)))


# The platform (superusers)


@router.get(
    "/users", query=UserQuery, response=Page[UserSummary], errors=(401, 403, 422), auth=True
)
async def list_users(request: web.Request) -> web.Response:
    """Every user of the platform, or those `q` finds (superusers only)."""
    actor = await actor_of(request)
    return json_response(await accounts.list_users(actor, parse_query(request, UserQuery)))


@router.get("/users/{user_id}", response=Profile, errors=(401, 403, 404), auth=True)
async def get_user(request: web.Request) -> web.Response:
    """One user's profile (superusers only)."""
    actor = await actor_of(request)
    missing = NotFound(N_("That user does not exist."), code="user_not_found")
    return json_response(await accounts.user_profile(actor, path_id(request, "user_id", missing)))
