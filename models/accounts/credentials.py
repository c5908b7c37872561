"""Registration, e-mail verification, password login and re-authentication, password
resets and changes, and changing the e-mail address."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import auth, mfa, ratelimit
from models.accounts.emails import (
    CHANGE_EMAIL,
    RESET_PASSWORD,
    VERIFY_EMAIL,
    AccountPolicy,
    invalid_credentials,
    invalid_ticket,
    mail_nothing,
    mail_ticket,
    send_mail,
    usable_ticket,
)
from models.accounts.inputs import (
    EmailChange,
    PasswordChange,
    PasswordLogin,
    Reauthentication,
    Registration,
    ResetConfirm,
    ResetRequest,
    canonical_email,
    check_password,
)
from models.actor import Actor
from models.auth import LoginResult, Ticket, now
from models.errors import Conflict, Forbidden, Invalid, ReauthenticationRequired
from models.i18n import N_
from models.passwords import hash_password, needs_rehash, verify_password
from models.users import User, forget_profile

# Registration and e-mail verification


async def register(data: Registration, policy: AccountPolicy) -> None:
    """Create an unverified account and send the verification link.

    An address that already has an account gets a notice instead, and the caller sees the
    same answer either way (and the same work, so the same time), so nobody learns who is
    registered.
    """
    password_hash = await hash_password(data.password)
    existing = await User.get_or_none(email=data.email)
    if existing is not None:
        await _notify_owner(existing, policy, address=data.email)
        return
    try:
        async with in_transaction():
            user = await User.create(
                username=data.username, email=data.email, password_hash=password_hash
            )
            await mail_ticket(user, VERIFY_EMAIL, policy.email_link_ttl, policy, address=data.email)
    except IntegrityError:
        return  # a concurrent registration of the same address won and sent its own link


async def _notify_owner(owner: User, policy: AccountPolicy, *, address: str) -> None:
    """Tell the owner that someone tried to register their address, with the writes of a
    registration in one commit: the notice stands in for the new user row, `mail_nothing` for
    the verification e-mail."""
    async with in_transaction():
        await send_mail(owner, "account_exists", policy.link("login"), address=address)
        await mail_nothing(VERIFY_EMAIL, policy.email_link_ttl, policy)


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

# Login and reset forms take any text as the address; a longer one than the column holds is
# nobody's, and the ORM refuses to even look it up (an error, not an unknown account).
_EMAIL_COLUMN = User._meta.fields_map["email"].max_length


async def _user_with_email(email: str, *only: str, **filters: bool) -> User | None:
    """The account using `email`, with just the `only` fields if given (the address is unique)."""
    if len(email) > _EMAIL_COLUMN:
        return None  # skipping the read tells nothing: no account can have this address
    query = User.filter(email=email, **filters)
    return await (query.only(*only) if only else query).first()


async def login_with_password(
    data: PasswordLogin, *, user_agent: str = "", ip: str = ""
) -> LoginResult:
    """Check the password (unknown address and wrong password fail alike) and log in."""
    email = canonical_email(data.email)
    await ratelimit.check_account(email)  # unknown addresses are throttled alike
    user = await _user_with_email(email)
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


async def reauthenticate(actor: Actor, data: Reauthentication) -> None:
    """Mark the current session as recently authenticated (for sensitive actions).

    With MFA on, a code from the app is needed; otherwise the password. Accounts with
    neither log in again instead.
    """
    if actor.session_id is None:  # only a website session can be re-authenticated
        raise ReauthenticationRequired(N_("Log in again to confirm it is you."))
    user = await User.get(id=actor.user_id)
    if user.mfa_enabled:
        ok = data.code is not None and await mfa.accept_second_factor(
            user, data.code, recovery=False
        )
    elif user.password_hash is not None:
        ok = data.password is not None and await verify_password(user.password_hash, data.password)
    else:
        raise ReauthenticationRequired(N_("Log in again to confirm it is you."))
    if not ok:
        raise Forbidden(N_("That password or code is not correct."), code="reauthentication_failed")
    await auth.mark_reauthenticated(actor.session_id)


# Passwords


async def request_password_reset(data: ResetRequest, policy: AccountPolicy) -> None:
    """Send a reset link if the address has an account; the caller answers the same anyway.

    The time of the answer must not tell either, so an unknown (or deactivated) address does
    the same work: the same read, then the same write and commit (`mail_nothing`, a row no
    worker delivers). It sends nothing: mailing "no account here" to any address anyone types
    in would make us a spam relay, and the timing needs no e-mail.
    """
    # Only what the e-mail needs: making a whole row into a User (dates, JSON) is work an
    # unknown address does not do, and it would show in the time of this short request.
    email = canonical_email(data.email)
    user = await _user_with_email(email, "id", "username", "email", is_active=True)
    ttl = policy.password_reset_ttl
    async with in_transaction():
        if user is None or user.email is None:
            await mail_nothing(RESET_PASSWORD, ttl, policy)
        else:
            await mail_ticket(user, RESET_PASSWORD, ttl, policy, address=user.email)


async def confirm_password_reset(data: ResetConfirm) -> None:
    """Set a new password with a reset link; every session ends."""
    ticket = await usable_ticket(data.token, RESET_PASSWORD)
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
        await _tell_password_changed(user.id)
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


async def change_password(actor: Actor, data: PasswordChange) -> None:
    """Change (or first set) the password; the other sessions end."""
    user = await session_user(actor)
    if user.password_hash is not None:
        current = data.current_password or ""
        if not await verify_password(user.password_hash, current):
            raise Forbidden(N_("Your current password is not correct."), code="wrong_password")
    # The current password is a fresh proof, unless a second factor guards the account.
    if user.password_hash is None or user.mfa_enabled:
        await mfa.ensure_recent(actor, data.code)
    _check_new_password(data.new_password, user)
    new_hash = await hash_password(data.new_password)
    async with in_transaction():
        await User.filter(id=user.id).update(password_hash=new_hash)
        await _tell_password_changed(user.id)
    await auth.revoke_all_sessions(user.id, keep=actor.session_id)


async def _tell_password_changed(user_id: int) -> None:
    """The security notice for a changed, first set or reset password (never muted)."""
    from models.notifications.center import notify

    await notify([user_id], "account.password_changed")


async def session_user(actor: Actor) -> User:
    """The user behind a login session (application tokens cannot change the account)."""
    if actor.session_id is None:
        raise Forbidden(
            N_("Application tokens cannot change the account."), code="session_required"
        )
    return await User.get(id=actor.user_id)


# E-mail address


async def request_email_change(actor: Actor, data: EmailChange, policy: AccountPolicy) -> None:
    """Send a confirmation link to the new address; it applies when the link is opened."""
    user = await session_user(actor)
    await mfa.ensure_recent(actor, data.code)
    owner = await User.get_or_none(email=data.email)
    if owner is not None:
        if owner.id != user.id:  # tell the owner, not the asker, that the address is taken
            await send_mail(owner, "account_exists", policy.link("login"), address=data.email)
        return
    async with in_transaction():
        await mail_ticket(user, CHANGE_EMAIL, policy.email_link_ttl, policy, address=data.email)


async def confirm_email_change(token: str) -> None:
    ticket = await auth.consume_ticket(token, CHANGE_EMAIL)
    try:
        await User.filter(id=ticket.user_id).update(email=ticket.data["email"], is_verified=True)
    except IntegrityError:
        raise Conflict(N_("That e-mail address is already in use."), code="email_taken") from None
    await forget_profile(ticket.user_id)
