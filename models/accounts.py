"""E-mail + password accounts: register, verify, log in, reset and change the password, change
the e-mail address, re-authenticate, edit the profile, delete (with a grace period) and restore.

E-mails are outbox rows written in the transaction of the change that causes them, rendered in
the recipient's language at send time from a template in `EMAILS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Self
from urllib.parse import urlencode

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import auth, mfa, ratelimit
from models.auth import Claims, LoginResult, Ticket, hash_secret, now
from models.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from models.hubs import check_timezone
from models.i18n import LANGUAGES, N_
from models.outbox import OutboxKind, enqueue
from models.pagination import Page, PageQuery
from models.passwords import MAX_LENGTH, MIN_LENGTH, hash_password, needs_rehash, verify_password
from models.permissions import Actor
from models.users import Profile, User, forget_profile, profile_of

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 - a ticket purpose, not a secret
CHANGE_EMAIL = "change_email"
# The website's page that opens each kind of link (see README: "Accounts").
LINK_PAGES = {
    VERIFY_EMAIL: "verify-email",
    RESET_PASSWORD: "reset-password",
    CHANGE_EMAIL: "confirm-email",
}
EMAIL_PATTERN = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class EmailTemplate:
    subject: str
    body: str


# Every e-mail the platform sends; params: username, link, minutes.
EMAILS: dict[str, EmailTemplate] = {
    "verify_email": EmailTemplate(
        N_("Confirm your e-mail address"),
        N_(
            "Hello {username},\n\nplease confirm your e-mail address for Drivers Hub by "
            "opening this link within {minutes} minutes:\n{link}\n\n"
            "If you did not create an account, ignore this e-mail."
        ),
    ),
    "account_exists": EmailTemplate(
        N_("Your Drivers Hub account"),
        N_(
            "Hello {username},\n\nsomeone tried to use this e-mail address for a new "
            "Drivers Hub account, but it already belongs to yours. If that was you, log in "
            "or reset your password here:\n{link}\n\nOtherwise you can ignore this e-mail."
        ),
    ),
    "reset_password": EmailTemplate(
        N_("Reset your password"),
        N_(
            "Hello {username},\n\nto choose a new password, open this link. It works once, "
            "within {minutes} minutes:\n{link}\n\n"
            "If you did not ask for this, ignore this e-mail; your password stays the same."
        ),
    ),
    "change_email": EmailTemplate(
        N_("Confirm your new e-mail address"),
        N_(
            "Hello {username},\n\nto use this address for your Drivers Hub account, open "
            "this link within {minutes} minutes:\n{link}\n\n"
            "If you did not ask for this, ignore this e-mail."
        ),
    ),
}


@dataclass(frozen=True)
class AccountPolicy:
    """Process settings the account rules need, passed in by the adapter."""

    link_base: str  # the website that opens links from e-mails and posts the token to the API
    email_link_ttl: int = 86400
    password_reset_ttl: int = 3600
    deletion_grace_days: int = 14

    def link(self, page: str, token: str | None = None) -> str:
        query = f"?{urlencode({'token': token})}" if token else ""
        return f"{self.link_base.rstrip('/')}/{page}{query}"


# Inputs


def normalize_email(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 254 or not EMAIL_PATTERN.fullmatch(value):
        raise ValueError("not a valid e-mail address")
    return value


Email = Annotated[str, Field(max_length=320), AfterValidator(normalize_email)]
Password = Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]
# What a login form sends is not checked against the rules: a wrong one is just wrong.
AnyPassword = Annotated[str, Field(min_length=1, max_length=MAX_LENGTH)]
Code = Annotated[str, Field(min_length=6, max_length=32)]
CaptchaToken = Annotated[str | None, Field(default=None, max_length=8192)]
Username = Annotated[str, Field(min_length=2, max_length=64, pattern=r"\S")]


def check_password(password: str, *identities: str | None) -> None:
    """A password may not be the account's e-mail address or username."""
    lowered = password.strip().lower()
    if any(i and lowered == i.strip().lower() for i in identities):
        raise ValueError("the password must differ from your e-mail address and username")


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    username: Username
    password: Password
    captcha_token: CaptchaToken = None

    @model_validator(mode="after")
    def _password_differs(self) -> Self:
        check_password(self.password, self.email, self.username)
        return self


class PasswordLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    password: AnyPassword
    captcha_token: CaptchaToken = None


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    captcha_token: CaptchaToken = None


class TokenInput(BaseModel):
    """A token from a link in an e-mail."""

    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=8, max_length=200)


class ResetConfirm(TokenInput):
    password: Password


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: AnyPassword | None = Field(
        default=None, description="Required when the account has a password."
    )
    new_password: Password
    code: Code | None = Field(default=None, description="An MFA code instead of a recent login.")


class EmailChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    code: Code | None = Field(default=None, description="An MFA code instead of a recent login.")


class Reauthentication(BaseModel):
    """Your password, or a code from the authenticator app when MFA is on."""

    model_config = ConfigDict(extra="forbid")
    password: AnyPassword | None = None
    code: Code | None = None

    @model_validator(mode="after")
    def _one_given(self) -> Self:
        if self.password is None and self.code is None:
            raise ValueError("send your password or a code")
        return self


class SensitiveConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Code | None = Field(default=None, description="An MFA code instead of a recent login.")


def _language(value: str | None) -> str | None:
    if value is not None and value not in LANGUAGES:
        raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
    return value


class PrivacyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    show_connections: bool | None = Field(default=None, description="Others see linked accounts.")
    show_activity: bool | None = Field(default=None, description="Others see your jobs and stats.")
    show_online: bool | None = Field(default=None, description="Others see when you are online.")


class ProfileUpdate(BaseModel):
    """Fields to change; leave out what stays. `locale` and `timezone` may be null (unset)."""

    model_config = ConfigDict(extra="forbid")
    username: Username | None = None
    first_name: str | None = Field(default=None, max_length=64)
    last_name: str | None = Field(default=None, max_length=64)
    locale: Annotated[str | None, AfterValidator(_language)] = None
    timezone: Annotated[str | None, Field(max_length=64)] = None
    privacy: PrivacyUpdate | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        for name in ("username", "first_name", "last_name", "privacy"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if self.timezone is not None:
            check_timezone(self.timezone)
        return self


# Errors that must read the same for every cause


def invalid_credentials() -> Unauthorized:
    return Unauthorized(N_("The e-mail address or password is wrong."), code="invalid_credentials")


def invalid_ticket() -> Unauthorized:
    return Unauthorized(N_("This link is invalid or has expired."), code="invalid_ticket")


# E-mails with a link


async def _mail(user: User, template: str, link: str, *, address: str, minutes: int = 0) -> None:
    params = {"username": user.username, "link": link, "minutes": minutes}
    await enqueue(OutboxKind.EMAIL, template, params=params, user_id=user.id, address=address)


async def _mail_ticket(
    user: User, purpose: str, ttl: int, policy: AccountPolicy, *, address: str
) -> None:
    """Issue a ticket and queue the e-mail (template named like the purpose) carrying its link.

    Call inside the transaction of the change, so the ticket and its e-mail exist together.
    """
    token = await auth.issue_ticket(user.id, purpose, ttl, {"email": address})
    link = policy.link(LINK_PAGES[purpose], token)
    await _mail(user, purpose, link, address=address, minutes=ttl // 60)


async def _usable_ticket(token: str, purpose: str) -> Ticket:
    """Look at a ticket without using it (to check input first); refused like `consume_ticket`."""
    ticket = await Ticket.get_or_none(
        token_hash=hash_secret(token), purpose=purpose, used_at__isnull=True, expires_at__gt=now()
    )
    if ticket is None:
        raise invalid_ticket()
    return ticket


# Registration and e-mail verification


async def register(data: Registration, policy: AccountPolicy) -> None:
    """Create an unverified account and send the verification link.

    An address that already has an account gets a notice instead, and the caller sees the
    same answer either way (and the same hashing time), so nobody learns who is registered.
    """
    password_hash = await hash_password(data.password)
    existing = await User.get_or_none(email=data.email)
    if existing is not None:
        await _mail(existing, "account_exists", policy.link("login"), address=data.email)
        return
    try:
        async with in_transaction():
            user = await User.create(
                username=data.username, email=data.email, password_hash=password_hash
            )
            await _mail_ticket(
                user, VERIFY_EMAIL, policy.email_link_ttl, policy, address=data.email
            )
    except IntegrityError:
        return  # a concurrent registration of the same address won and sent its own link


async def verify_email(token: str) -> None:
    ticket = await auth.consume_ticket(token, VERIFY_EMAIL)
    # The link is for the address it was sent to; a later change makes it worthless.
    updated = await User.filter(id=ticket.user_id, email=ticket.data.get("email")).update(
        is_verified=True
    )
    if not updated:
        raise invalid_ticket()
    await forget_profile(ticket.user_id)


# Logging in


async def login_with_password(
    data: PasswordLogin, *, user_agent: str = "", ip: str = ""
) -> LoginResult:
    """Check the password (unknown address and wrong password fail alike) and log in."""
    email = data.email.strip().lower()
    await ratelimit.check_account(email)  # unknown addresses are throttled alike
    user = await User.get_or_none(email=email)
    stored = user.password_hash if user is not None else None
    if not await verify_password(stored, data.password) or user is None or stored is None:
        await ratelimit.record_failure(email)
        raise invalid_credentials()
    if not user.is_verified:
        raise Forbidden(
            N_("Confirm your e-mail address first: open the link we sent you."),
            code="email_not_verified",
        )
    await _upgrade_hash(user, stored, data.password)
    return await auth.complete_login(user, "password", user_agent=user_agent, ip=ip)


async def _upgrade_hash(user: User, stored: str, password: str) -> None:
    """Re-hash with the current parameters; only if nobody changed the password meanwhile."""
    if needs_rehash(stored):
        new_hash = await hash_password(password)
        await User.filter(id=user.id, password_hash=stored).update(password_hash=new_hash)


async def reauthenticate(claims: Claims, data: Reauthentication) -> None:
    """Mark the current session as recently authenticated (for sensitive actions).

    With MFA on, a code from the app is needed; otherwise the password. Accounts with
    neither log in again instead.
    """
    if claims.session_id is None:
        raise Forbidden(N_("Log in again to confirm it is you."), code="reauthentication_required")
    user = await User.get(id=claims.user_id)
    if user.mfa_enabled:
        ok = data.code is not None and await mfa.accept_second_factor(
            user, data.code, recovery=False
        )
    elif user.password_hash is not None:
        ok = data.password is not None and await verify_password(user.password_hash, data.password)
    else:
        raise Forbidden(N_("Log in again to confirm it is you."), code="reauthentication_required")
    if not ok:
        raise Forbidden(N_("That password or code is not correct."), code="reauthentication_failed")
    await auth.mark_reauthenticated(claims.session_id)


# Passwords


async def request_password_reset(data: ResetRequest, policy: AccountPolicy) -> None:
    """Send a reset link if the address has an account; the caller answers the same anyway."""
    user = await User.get_or_none(email=data.email.strip().lower(), is_active=True)
    if user is None or user.email is None:
        return
    async with in_transaction():
        await _mail_ticket(
            user, RESET_PASSWORD, policy.password_reset_ttl, policy, address=user.email
        )


async def confirm_password_reset(data: ResetConfirm) -> None:
    """Set a new password with a reset link; every session ends."""
    ticket = await _usable_ticket(data.token, RESET_PASSWORD)
    user = await User.get(id=ticket.user_id)
    _check_new_password(data.password, user)  # before the link is used up
    new_hash = await hash_password(data.password)
    await auth.consume_ticket(data.token, RESET_PASSWORD)
    async with in_transaction():
        # Opening the link proved the mailbox: the address counts as verified.
        await User.filter(id=user.id).update(
            password_hash=new_hash, is_verified=user.is_verified or user.email is not None
        )
        await Ticket.filter(user_id=user.id, purpose=RESET_PASSWORD, used_at__isnull=True).update(
            used_at=now()
        )
    await auth.revoke_all_sessions(user.id)
    await forget_profile(user.id)


def _check_new_password(password: str, user: User) -> None:
    try:
        check_password(password, user.email, user.username)
    except ValueError as exc:
        raise Invalid(
            N_("Choose a password that differs from your e-mail address and username."),
            code="weak_password",
        ) from exc


async def change_password(claims: Claims, data: PasswordChange) -> None:
    """Change (or first set) the password; the other sessions end."""
    user = await _session_user(claims)
    if user.password_hash is not None:
        current = data.current_password or ""
        if not await verify_password(user.password_hash, current):
            raise Forbidden(N_("Your current password is not correct."), code="wrong_password")
    # The current password is a fresh proof, unless a second factor guards the account.
    if user.password_hash is None or user.mfa_enabled:
        await mfa.ensure_recent(claims, data.code)
    _check_new_password(data.new_password, user)
    await User.filter(id=user.id).update(password_hash=await hash_password(data.new_password))
    await auth.revoke_all_sessions(user.id, keep=claims.session_id)


async def _session_user(claims: Claims) -> User:
    """The user behind a login session (application tokens cannot change the account)."""
    if claims.session_id is None:
        raise Forbidden(
            N_("Application tokens cannot change the account."), code="session_required"
        )
    return await User.get(id=claims.user_id)


# E-mail address


async def request_email_change(claims: Claims, data: EmailChange, policy: AccountPolicy) -> None:
    """Send a confirmation link to the new address; it applies when the link is opened."""
    user = await _session_user(claims)
    await mfa.ensure_recent(claims, data.code)
    owner = await User.get_or_none(email=data.email)
    if owner is not None:
        if owner.id != user.id:  # tell the owner, not the asker, that the address is taken
            await _mail(owner, "account_exists", policy.link("login"), address=data.email)
        return
    async with in_transaction():
        await _mail_ticket(user, CHANGE_EMAIL, policy.email_link_ttl, policy, address=data.email)


async def confirm_email_change(token: str) -> None:
    ticket = await auth.consume_ticket(token, CHANGE_EMAIL)
    try:
        await User.filter(id=ticket.user_id).update(email=ticket.data["email"], is_verified=True)
    except IntegrityError:
        raise Conflict(N_("That e-mail address is already in use."), code="email_taken") from None
    await forget_profile(ticket.user_id)


# Profile


async def update_profile(user_id: int, data: ProfileUpdate) -> Profile:
    user = await User.get(id=user_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"privacy"})
    if data.privacy is not None:
        changes["privacy"] = {**user.privacy, **data.privacy.model_dump(exclude_none=True)}
    if changes:
        user.update_from_dict(changes)
        await user.save(update_fields=[*changes, "updated_at"])
        await forget_profile(user_id)
    return profile_of(user)


# Deleting the account


async def request_deletion(claims: Claims, code: str | None, policy: AccountPolicy) -> datetime:
    """Schedule the account's erasure; every login ends. Return when it will be erased."""
    user = await _session_user(claims)
    await mfa.ensure_recent(claims, code)
    requested = user.deletion_requested_at or now()
    await User.filter(id=user.id).update(deletion_requested_at=requested)
    for token in await auth.list_app_tokens(user.id):
        await auth.revoke_app_token(user.id, token.id)
    await auth.revoke_all_sessions(user.id)
    await forget_profile(user.id)
    return requested + timedelta(days=policy.deletion_grace_days)


async def restore_account(user_id: int, policy: AccountPolicy) -> Profile:
    """Cancel a deletion within the grace period."""
    user = await User.get(id=user_id)
    if user.deletion_requested_at is None:
        raise Conflict(N_("Your account is not scheduled for deletion."), code="not_deleting")
    if now() >= user.deletion_requested_at + timedelta(days=policy.deletion_grace_days):
        raise Conflict(N_("It is too late to restore this account."), code="deletion_final")
    user.deletion_requested_at = None
    await user.save(update_fields=["deletion_requested_at", "updated_at"])
    await forget_profile(user_id)
    return profile_of(user)


async def purge_deleted_accounts(grace_days: int) -> int:
    """Erase the personal data of accounts whose grace period is over; return how many.

    The row stays (anonymous and disabled) so hub history such as jobs keeps its driver.
    """
    due = await User.filter(deletion_requested_at__lte=now() - timedelta(days=grace_days))
    for user in due:
        await _erase(user)
    return len(due)


async def _erase(user: User) -> None:
    async with in_transaction():
        await User.filter(id=user.id).update(
            username="Deleted user",
            email=None,
            first_name="",
            last_name="",
            password_hash=None,
            discord_id=None,
            steam_id=None,
            truckersmp_id=None,
            avatar="",
            locale=None,
            timezone=None,
            privacy={},
            mfa_secret=None,
            mfa_enabled=False,
            is_active=False,
            is_verified=False,
            deletion_requested_at=None,
        )
        for model in (auth.Session, auth.AppToken, auth.Ticket, mfa.RecoveryCode):
            await model.filter(user_id=user.id).delete()
    await forget_profile(user.id)


# The platform's view (superusers)


class UserSummary(BaseModel):
    id: int
    username: str
    email: str | None
    discord_id: str | None
    is_active: bool
    is_verified: bool
    is_superuser: bool
    mfa_enabled: bool
    created_at: datetime
    deletion_requested_at: datetime | None


async def _require_superuser(actor: Actor) -> None:
    # Checked against the database: a revoked superuser's token may still say otherwise.
    if not actor.is_superuser or not await User.exists(id=actor.user_id, is_superuser=True):
        raise Forbidden()


async def list_users(actor: Actor, query: PageQuery) -> Page[UserSummary]:
    await _require_superuser(actor)
    users = await User.all().order_by("id").offset(query.offset).limit(query.per_page)
    items = [
        UserSummary(
            **{name: getattr(u, name) for name in UserSummary.model_fields if name != "discord_id"},
            discord_id=str(u.discord_id) if u.discord_id else None,
        )
        for u in users
    ]
    return Page(
        items=items, page=query.page, per_page=query.per_page, total=await User.all().count()
    )


async def user_profile(actor: Actor, user_id: int) -> Profile:
    await _require_superuser(actor)
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise NotFound(N_("That user does not exist."), code="user_not_found")
    return profile_of(user)
