"""E-mails the account rules send, and the links in them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from models.auth import Ticket, hash_secret, now
from models.errors import Unauthorized
from models.i18n import N_
from models.outbox import OutboxItem, OutboxKind, OutboxStatus, enqueue, one_time_link
from models.users import User

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 - a ticket purpose, not a secret
CHANGE_EMAIL = "change_email"
# The website's page that opens each kind of link (see README: "Accounts").
LINK_PAGES = {
    VERIFY_EMAIL: "verify-email",
    RESET_PASSWORD: "reset-password",
    CHANGE_EMAIL: "confirm-email",
}
# Why a no-op row of `mail_nothing` was never delivered.
NO_ACCOUNT = "no-op: no account uses the address, nothing to send"
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


# Errors that must read the same for every cause


def invalid_credentials() -> Unauthorized:
    return Unauthorized(N_("The e-mail address or password is wrong."), code="invalid_credentials")


def invalid_ticket() -> Unauthorized:
    return Unauthorized(N_("This link is invalid or has expired."), code="invalid_ticket")


# E-mails with a link


async def send_mail(
    user: User, template: str, link: str, *, address: str, minutes: int = 0
) -> None:
    params = {"username": user.username, "link": link, "minutes": minutes}
    await enqueue(OutboxKind.EMAIL, template, params=params, user_id=user.id, address=address)


async def mail_ticket(
    user: User, purpose: str, ttl: int, policy: AccountPolicy, *, address: str
) -> None:
    """Queue the e-mail (template named like the purpose) with a link carrying a ticket.

    The ticket is minted when the e-mail is sent (models.outbox.render_params), so the row
    holds no usable token; the link counts its `ttl` from now. Call inside the transaction
    of the change, so the change and its e-mail exist together.
    """
    page = policy.link(LINK_PAGES[purpose])
    link = one_time_link("link", page, purpose, ttl, query="token", data={"email": address})
    params = {"username": user.username, **link}
    await enqueue(OutboxKind.EMAIL, purpose, params=params, user_id=user.id, address=address)


async def mail_nothing(purpose: str, ttl: int, policy: AccountPolicy) -> None:
    """Queue what `mail_ticket` queues, for an address without an account, as a no-op.

    Where the answer must not tell whether an account exists, its time must not either: this
    is the same write (an e-mail row of the same template with a link of the same shape), so
    the commit around it costs what a real one does. The row is born finished, so no worker
    ever takes it and nothing is sent; it keeps neither a user nor the address typed in.
    Call it where `mail_ticket` would be called, inside the same kind of transaction.
    """
    link = one_time_link("link", policy.link(LINK_PAGES[purpose]), purpose, ttl, query="token")
    await OutboxItem.create(
        kind=OutboxKind.EMAIL,
        template=purpose,
        params={"username": "", **link},
        status=OutboxStatus.FAILED,  # "never deliver"; claim_due only takes pending rows
        last_error=NO_ACCOUNT,
        due_at=now(),
    )


async def usable_ticket(token: str, purpose: str) -> Ticket:
    """Look at a ticket without using it (to check input first); refused like `consume_ticket`."""
    ticket = await Ticket.get_or_none(
        token_hash=hash_secret(token), purpose=purpose, used_at__isnull=True, expires_at__gt=now()
    )
    if ticket is None:
        raise invalid_ticket()
    return ticket
