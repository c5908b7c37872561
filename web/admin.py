"""Administration over HTTP: superusers manage accounts and list hubs (rules in `models.admin`).

Application tokens are refused (`403 session_required`): a leaked token must never carry
platform-wide power, and these operations need a person's recent login anyway.
"""

from __future__ import annotations

from aiohttp import web

from models import admin
from models.accounts import UserSummary
from models.admin import HubState
from models.errors import NotFound
from models.i18n import N_
from models.identities import Provider
from models.pagination import Page, PageQuery
from web.api import Router, json_response, parse_query, path_id
from web.auth import actor_of

router = Router("admin", app_tokens=False)

SUPERUSERS = "Superusers only."
SENSITIVE = "Superusers only, with a recent login (403 reauthentication_required otherwise)."
NOT_YOURS = " Not for your own account (403 own_account)."


def user_id_of(request: web.Request) -> int:
    return path_id(request, "user_id", admin.user_not_found())


def provider_of(request: web.Request) -> Provider:
    try:
        return Provider(request.match_info["provider"])
    except ValueError:
        raise NotFound(
            N_("There is no login provider called {provider}."),
            code="provider_not_found",
            provider=request.match_info["provider"],
        ) from None


@router.post(
    "/users/{user_id}/deactivate",
    response=UserSummary,
    errors=(404, 409),
    auth=True,
    description=SENSITIVE + NOT_YOURS + " Every login method is refused; sessions end at once.",
)
async def deactivate_user(request: web.Request) -> web.Response:
    """Deactivate a user: no more logins, and their sessions and tokens stop."""
    actor = await actor_of(request)
    return json_response(await admin.deactivate(actor, user_id_of(request)))


@router.post(
    "/users/{user_id}/reactivate",
    response=UserSummary,
    errors=(404, 409),
    auth=True,
    description=SUPERUSERS + " Ended sessions stay ended: the user logs in again.",
)
async def reactivate_user(request: web.Request) -> web.Response:
    """Let a deactivated user log in again."""
    actor = await actor_of(request)
    return json_response(await admin.reactivate(actor, user_id_of(request)))


@router.delete(
    "/users/{user_id}",
    status=204,
    errors=(404,),
    auth=True,
    description=SENSITIVE + NOT_YOURS + " Personal data and credentials are erased at once.",
)
async def delete_user(request: web.Request) -> web.Response:
    """Delete a user now, without the grace period of a self-service deletion."""
    actor = await actor_of(request)
    await admin.delete_user(actor, user_id_of(request))
    return web.Response(status=204)


@router.put(
    "/users/{user_id}/superuser",
    response=UserSummary,
    errors=(404,),
    auth=True,
    description=SENSITIVE,
)
async def promote_user(request: web.Request) -> web.Response:
    """Make a user a platform superuser."""
    actor = await actor_of(request)
    return json_response(await admin.set_superuser(actor, user_id_of(request), True))


@router.delete(
    "/users/{user_id}/superuser",
    response=UserSummary,
    errors=(404,),
    auth=True,
    description=SENSITIVE + NOT_YOURS + " The user's sessions end.",
)
async def demote_user(request: web.Request) -> web.Response:
    """Take platform superuser away from a user."""
    actor = await actor_of(request)
    return json_response(await admin.set_superuser(actor, user_id_of(request), False))


@router.post(
    "/users/{user_id}/mfa/reset",
    response=UserSummary,
    errors=(404, 409),
    auth=True,
    description=SENSITIVE + NOT_YOURS + " Drops the secret and the recovery codes.",
)
async def reset_user_mfa(request: web.Request) -> web.Response:
    """Turn off two-factor authentication for a user who lost their device."""
    actor = await actor_of(request)
    return json_response(await admin.reset_mfa(actor, user_id_of(request)))


@router.delete(
    "/users/{user_id}/identities/{provider}",
    response=UserSummary,
    errors=(404, 409),
    auth=True,
    description=(
        SENSITIVE
        + NOT_YOURS
        + " `provider` is discord or steam. Refused (409 last_login_method) when it is the"
        " user's only way to log in. Sessions started through it end."
    ),
)
async def unlink_user_identity(request: web.Request) -> web.Response:
    """Disconnect a wrongly linked Discord or Steam account from a user."""
    actor = await actor_of(request)
    user_id, provider = user_id_of(request), provider_of(request)
    return json_response(await admin.unlink_identity(actor, user_id, provider))


@router.get(
    "/admin/hubs",
    query=PageQuery,
    response=Page[HubState],
    errors=(422,),
    auth=True,
    description=SUPERUSERS,
)
async def list_all_hubs(request: web.Request) -> web.Response:
    """Every hub with its state: active or not, public, guild, members, plugins."""
    actor = await actor_of(request)
    return json_response(await admin.list_hubs(actor, parse_query(request, PageQuery)))
