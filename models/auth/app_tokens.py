"""Application tokens: long-lived, named credentials for integrations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from tortoise import fields
from tortoise.models import Model

from models.auth.common import APP_TOKEN_PREFIX, hash_secret, new_secret, now
from models.auth.tokens import Claims
from models.errors import NotFound, Unauthorized
from models.i18n import N_
from models.pagination import Page, PageQuery, paginate
from models.users import User

T = TypeVar("T")


class AppToken(Model):
    """A long-lived token for an integration (a tracker, a bot, a script)."""

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("drivershub.User", related_name="app_tokens")
    name = fields.CharField(max_length=100)
    token_hash = fields.CharField(max_length=64, unique=True)
    scopes = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "app_tokens"


# Application tokens


async def create_app_token(
    user_id: int, name: str, scopes: list[str], expires_at: datetime | None
) -> tuple[AppToken, str]:
    secret = new_secret(APP_TOKEN_PREFIX)
    token = await AppToken.create(
        user_id=user_id,
        name=name,
        token_hash=hash_secret(secret),
        scopes=scopes,
        expires_at=expires_at,
    )
    return token, secret


async def app_token_page(user_id: int, query: PageQuery, view: Callable[[AppToken], T]) -> Page[T]:
    """The user's live application tokens, newest first, a page at a time."""
    live = AppToken.filter(user_id=user_id, revoked_at__isnull=True)
    return await paginate(live, query, ("-id",), view)


async def list_app_tokens(user_id: int) -> list[AppToken]:
    return await AppToken.filter(user_id=user_id, revoked_at__isnull=True).order_by("-id")


async def revoke_app_token(user_id: int, token_id: int) -> None:
    updated = await AppToken.filter(id=token_id, user_id=user_id, revoked_at__isnull=True).update(
        revoked_at=now()
    )
    if not updated:
        raise NotFound(N_("That token does not exist."), code="token_not_found")


async def authenticate_app_token(secret: str) -> Claims:
    """The claims of a valid application token (one indexed query; revocation is immediate)."""
    invalid = Unauthorized(N_("Your login is invalid or has expired."), code="invalid_token")
    token = await AppToken.get_or_none(token_hash=hash_secret(secret)).select_related("user")
    if token is None or token.revoked_at is not None or not token.user.is_active:
        raise invalid
    if token.expires_at is not None and token.expires_at <= now():
        raise invalid
    user: User = token.user
    return Claims(
        user_id=user.id,
        session_id=None,
        discord_id=user.discord_id,
        is_superuser=False,  # integrations never act with platform-wide power
        issued_at=int(token.created_at.timestamp()),
        scopes=tuple(token.scopes),
    )
