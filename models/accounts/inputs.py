"""What account forms send, validated once here for the API and any other adapter."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from models.accounts.emails import EMAIL_PATTERN
from models.hubs import check_timezone
from models.i18n import LANGUAGES, N_
from models.passwords import MAX_LENGTH, MIN_LENGTH
from models.text import Name
from models.validation import Patch, Problem

# Inputs


def canonical_email(value: str) -> str:
    """The one spelling of an address: stored, looked up and compared (NFC, lowercase)."""
    return unicodedata.normalize("NFC", value.strip().lower())


def normalize_email(value: str) -> str:
    value = canonical_email(value)
    if len(value) > 254 or not EMAIL_PATTERN.fullmatch(value) or _has_controls(value):
        raise Problem(N_("not a valid e-mail address"))
    return value


def _has_controls(value: str) -> bool:
    # Control and format characters (zero-width ones included) are invisible in a mail client.
    return any(unicodedata.category(char) in ("Cc", "Cf") for char in value)


Email = Annotated[str, Field(max_length=320), AfterValidator(normalize_email)]
Password = Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]
# What a login form sends is not checked against the rules: a wrong one is just wrong.
AnyPassword = Annotated[str, Field(min_length=1, max_length=MAX_LENGTH)]
Code = Annotated[str, Field(min_length=6, max_length=32)]
CaptchaToken = Annotated[str | None, Field(default=None, max_length=8192)]
Username = Name(64, min_length=2)
PersonalName = Name(64, min_length=0)  # "" clears it


def check_password(password: str, *identities: str | None) -> None:
    """A password may not be the account's e-mail address or username."""
    lowered = password.strip().lower()
    if any(i and lowered == i.strip().lower() for i in identities):
        raise Problem(N_("the password must differ from your e-mail address and username"))


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
            raise Problem(N_("send your password or a code"))
        return self


class SensitiveConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Code | None = Field(default=None, description="An MFA code instead of a recent login.")


def _language(value: str | None) -> str | None:
    if value is not None and value not in LANGUAGES:
        raise Problem(N_("must be one of {choices}"), choices=", ".join(LANGUAGES))
    return value


class PrivacyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    show_connections: Patch[bool] = Field(default=None, description="Others see linked accounts.")
    show_activity: Patch[bool] = Field(default=None, description="Others see your jobs and stats.")
    show_online: Patch[bool] = Field(default=None, description="Others see when you are online.")


class ProfileUpdate(BaseModel):
    """Fields to change; leave out what stays. `locale` and `timezone` may be null (unset)."""

    model_config = ConfigDict(extra="forbid")
    username: Patch[Username] = None
    first_name: Patch[PersonalName] = None
    last_name: Patch[PersonalName] = None
    locale: Annotated[str | None, AfterValidator(_language)] = None
    timezone: Annotated[str | None, Field(max_length=64)] = None
    privacy: Patch[PrivacyUpdate] = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.timezone is not None:
            check_timezone(self.timezone)
        return self
