"""Two-factor authentication: TOTP codes and single-use recovery codes."""

from __future__ import annotations

import hmac
import re
import secrets
import time
from dataclasses import dataclass

import pyotp
from pydantic import BaseModel, ConfigDict, Field
from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import auth, encryption
from models.actor import Actor, require_recent_login
from models.auth import TokenPair, hash_secret, now
from models.errors import Conflict, Forbidden, Unauthorized
from models.i18n import N_
from models.users import User, forget_profile

ISSUER = "Drivers Hub"
STEP = 30  # seconds per TOTP code
VALID_WINDOW = 1  # accept the previous and the next code too (clock drift)
RECOVERY_CODES = 10
MAX_LOGIN_FAILURES = 5
TOTP_CODE = re.compile(r"\d{6}")


class RecoveryCode(Model):
    """One single-use recovery code, stored hashed."""

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("drivershub.User", related_name="recovery_codes")
    code_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "recovery_codes"


# Inputs


class CodeInput(BaseModel):
    """A code from the authenticator app, or a recovery code."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=6, max_length=32)


class MfaLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mfa_ticket: str = Field(min_length=8, max_length=200)
    code: str = Field(min_length=6, max_length=32)


@dataclass(frozen=True)
class MfaSetup:
    secret: str
    otpauth_uri: str


def wrong_code() -> Unauthorized:
    return Unauthorized(N_("That code is not valid."), code="invalid_mfa_code")


# Checking codes


def _totp(stored: str) -> pyotp.TOTP:
    # A secret still in the clear was stored by an older version and is sealed at the next
    # start (`seal_totp_secrets`); until then it must keep working.
    return pyotp.TOTP(encryption.unseal(stored) if encryption.is_sealed(stored) else stored)


async def accept_totp(user: User, code: str) -> bool:
    """Whether `code` is valid now and unused; accepting it burns its time step for good."""
    if user.mfa_secret is None or not TOTP_CODE.fullmatch(code):
        return False
    totp = _totp(user.mfa_secret)
    current = int(time.time()) // STEP
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if step > user.mfa_last_step and hmac.compare_digest(totp.generate_otp(step), code):
            # Conditional update: a code replayed (even concurrently) finds the step taken.
            won = await User.filter(id=user.id, mfa_last_step__lt=step).update(mfa_last_step=step)
            if won:
                user.mfa_last_step = step
            return bool(won)
    return False


def _normalize_recovery(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


async def accept_recovery_code(user: User, code: str) -> bool:
    """Whether `code` is one of the user's unused recovery codes; it is then used up."""
    code_hash = hash_secret(_normalize_recovery(code))
    used = await RecoveryCode.filter(user_id=user.id, code_hash=code_hash, used_at__isnull=True)
    return bool(used) and bool(
        await RecoveryCode.filter(id=used[0].id, used_at__isnull=True).update(used_at=now())
    )


async def accept_second_factor(user: User, code: str, *, recovery: bool = True) -> bool:
    """A TOTP code, or (when `recovery`) a recovery code."""
    if not user.mfa_enabled:
        return False
    if TOTP_CODE.fullmatch(code.strip()):
        return await accept_totp(user, code.strip())
    return recovery and await accept_recovery_code(user, code)


async def ensure_recent(actor: Actor, code: str | None) -> None:
    """A sensitive action: the actor logged in recently, or a valid code comes with it."""
    if code is not None and actor.session_id is not None:
        user = await User.get(id=actor.user_id)
        if not await accept_second_factor(user, code, recovery=False):
            raise wrong_code()
        # The code is as good as a fresh login: the next sensitive action needs none.
        await auth.mark_reauthenticated(actor.session_id)
        return
    require_recent_login(actor)


# Setting up and turning off


def _new_recovery_codes() -> list[str]:
    # 12 base32 characters (60 bits): guessing is hopeless within the attempt limits.
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"  # 32 letters, no look-alikes (l, o, 0, 1)
    codes = ["".join(secrets.choice(alphabet) for _ in range(12)) for _ in range(RECOVERY_CODES)]
    return [f"{c[:6]}-{c[6:]}" for c in codes]


async def _replace_recovery_codes(user_id: int) -> list[str]:
    codes = _new_recovery_codes()
    await RecoveryCode.filter(user_id=user_id).delete()
    await RecoveryCode.bulk_create(
        [
            RecoveryCode(user_id=user_id, code_hash=hash_secret(_normalize_recovery(c)))
            for c in codes
        ]
    )
    return codes


async def begin_setup(actor: Actor, issuer: str = ISSUER) -> MfaSetup:
    """A new secret for the authenticator app; MFA stays off until a code confirms it."""
    require_recent_login(actor)
    user = await User.get(id=actor.user_id)
    if user.mfa_enabled:
        raise Conflict(N_("Two-factor authentication is already on."), code="mfa_already_enabled")
    secret = pyotp.random_base32()
    user.mfa_secret = encryption.seal(secret)  # a database dump must not yield the codes
    user.mfa_last_step = 0
    await user.save(update_fields=["mfa_secret", "mfa_last_step", "updated_at"])
    name = user.email or user.username
    uri = pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=issuer)
    return MfaSetup(secret, uri)


async def confirm_setup(user_id: int, code: str) -> list[str]:
    """Turn MFA on with a first valid code; return the recovery codes (shown only now)."""
    user = await User.get(id=user_id)
    if user.mfa_enabled or user.mfa_secret is None:
        raise Conflict(
            N_("Start setting up two-factor authentication first."), code="mfa_not_pending"
        )
    if not await accept_totp(user, code):
        raise wrong_code()
    async with in_transaction():
        await User.filter(id=user_id).update(mfa_enabled=True)
        codes = await _replace_recovery_codes(user_id)
        await _tell(user_id, enabled=True)
    await forget_profile(user_id)
    return codes


async def disable(actor: Actor, code: str) -> None:
    """Turn MFA off; needs a code (or a recovery code), which also proves it is the owner."""
    user = await User.get(id=actor.user_id)
    if not user.mfa_enabled:
        raise Conflict(N_("Two-factor authentication is not on."), code="mfa_not_enabled")
    if actor.session_id is None:  # only a person in a website session, never an app token
        raise Forbidden()
    if not await accept_second_factor(user, code):
        raise wrong_code()
    async with in_transaction():
        await turn_off(user.id)
    await forget_profile(user.id)


async def turn_off(user_id: int) -> None:
    """Forget the secret and the recovery codes (in the caller's transaction); the user is
    told, whether they turned it off or a superuser reset it for them."""
    await User.filter(id=user_id).update(mfa_enabled=False, mfa_secret=None, mfa_last_step=0)
    await RecoveryCode.filter(user_id=user_id).delete()
    await _tell(user_id, enabled=False)


async def _tell(user_id: int, *, enabled: bool) -> None:
    """The security notice "Two-factor authentication was {state}" (it cannot be muted)."""
    from models.notifications.center import notify

    # {"t": ...}: translated for the reader when shown.
    state = {"t": N_("turned on") if enabled else N_("turned off")}
    await notify([user_id], "account.mfa_changed", {"state": state})


async def regenerate_recovery_codes(user_id: int, code: str) -> list[str]:
    """New recovery codes for a code from the app; the old ones stop working."""
    user = await User.get(id=user_id)
    if not await accept_second_factor(user, code, recovery=False):
        raise wrong_code()
    async with in_transaction():
        return await _replace_recovery_codes(user_id)


async def seal_totp_secrets() -> int:
    """Seal secrets stored in the clear, or under an older key; return how many changed.

    Run after migrating (not as a migration: migrations are frozen history and cannot hold
    the keys). Idempotent and safe beside running processes: a row changes only if it still
    holds the value read, and the older keys go on unsealing what they sealed.
    """
    rows = await User.filter(mfa_secret__isnull=False).values_list("id", "mfa_secret")
    changed = 0
    for user_id, stored in rows:
        if encryption.sealer().is_current(stored):
            continue
        plain = encryption.unseal(stored) if encryption.is_sealed(stored) else stored
        resealed = encryption.seal(plain)
        changed += await User.filter(id=user_id, mfa_secret=stored).update(mfa_secret=resealed)
    return changed


# Completing a login that needs a code


async def verify_login(data: MfaLogin) -> TokenPair:
    """Exchange the ticket from `complete_login` and a code for tokens.

    Each attempt takes the ticket (consumes it) first, so concurrent guesses are refused
    rather than counted late; a wrong code gives it back with one failure more, until
    MAX_LOGIN_FAILURES, when the login must start over.
    """
    ticket = await auth.consume_ticket(data.mfa_ticket, auth.MFA_TICKET)
    user = await User.get(id=ticket.user_id)
    if not await accept_second_factor(user, data.code):
        failures = int(ticket.data.get("failures", 0)) + 1
        if failures >= MAX_LOGIN_FAILURES:
            raise Unauthorized(
                N_("Too many wrong codes. Please log in again."), code="mfa_attempts_exceeded"
            )
        await auth.Ticket.filter(id=ticket.id).update(
            used_at=None, data={**ticket.data, "failures": failures}
        )
        raise wrong_code()
    login = ticket.data
    return await auth.start_session(
        user, login["method"], user_agent=login.get("user_agent", ""), ip=login.get("ip", "")
    )
