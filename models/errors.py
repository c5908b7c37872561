"""Domain errors, defined once; `web/` maps them to problem+json, `bot/` to ephemeral replies."""

from __future__ import annotations

from typing import Any, ClassVar

from models.i18n import N_


class DomainError(Exception):
    """A rule refused an operation; `message` is a translatable text with `{placeholders}`."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "invalid"
    default_message: ClassVar[str] = N_("The request is not valid.")

    def __init__(self, message: str | None = None, *, code: str | None = None, **params: Any):
        self.message = message or self.default_message
        self.params = params
        if code is not None:
            self.code = code  # type: ignore[misc]  # a more specific stable code
        super().__init__(self.message.format(**params) if params else self.message)


class BadRequest(DomainError):
    """The input cannot even be read (malformed JSON, a wrong content type)."""

    status = 400
    code = "bad_request"
    default_message = N_("The request is not valid.")


class Invalid(DomainError):
    status = 422
    code = "invalid"
    default_message = N_("The request is not valid.")


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    default_message = N_("You need to log in first.")


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    default_message = N_("You are not allowed to do that.")


class ReauthenticationRequired(Forbidden):
    """A sensitive action in a session whose last login (or MFA code) is too old."""

    code = "reauthentication_required"
    default_message = N_("Please confirm it is you: log in again or enter a code from your app.")


class InsufficientScope(Forbidden):
    """An application token without the scope the operation needs (read or write)."""

    code = "insufficient_scope"
    default_message = N_("This token may not do that: it lacks the {scope} scope.")


class SessionRequired(Forbidden):
    """The account itself (logins, sessions, tokens, MFA) is managed by its person only."""

    code = "session_required"
    default_message = N_("An application token cannot do this: log in on the website.")


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = N_("That does not exist.")


class PluginDisabled(NotFound):
    """The hub turned the plugin off: its routes and commands act as if it did not exist."""

    code = "plugin_disabled"
    default_message = N_("The {plugin_label} plugin is turned off in this hub.")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_message = N_("That conflicts with the current state.")


class Gone(DomainError):
    """It existed, and is no longer usable (an expired link)."""

    status = 410
    code = "gone"
    default_message = N_("That is no longer available.")


class TooLarge(DomainError):
    """A body (an uploaded file) over the configured size."""

    status = 413
    code = "too_large"
    default_message = N_("That is larger than the limit of {limit} bytes.")


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    default_message = N_("Too many requests. Try again in {seconds} seconds.")


class Unavailable(DomainError):
    """A dependency (the cache, a login provider) cannot be reached right now."""

    status = 503
    code = "unavailable"
    default_message = N_("The service is temporarily unavailable. Try again shortly.")
