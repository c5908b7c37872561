"""E-mail + password accounts: register, verify, log in, reset and change the password, change
the e-mail address, re-authenticate, edit the profile, delete (with a grace period) and restore.

E-mails are outbox rows written in the transaction of the change that causes them, rendered in
the recipient's language at send time from a template in `EMAILS`.
"""

from models.accounts.credentials import (
    change_password,
    confirm_email_change,
    confirm_password_reset,
    login_with_password,
    reauthenticate,
    register,
    request_email_change,
    request_password_reset,
    verify_email,
)
from models.accounts.emails import EMAILS, AccountPolicy, EmailTemplate
from models.accounts.inputs import (
    EmailChange,
    PasswordChange,
    PasswordLogin,
    PrivacyUpdate,
    ProfileUpdate,
    Reauthentication,
    Registration,
    ResetConfirm,
    ResetRequest,
    SensitiveConfirm,
    TokenInput,
)
from models.accounts.profile import (
    UserQuery,
    UserSummary,
    erase_account,
    list_users,
    purge_deleted_accounts,
    request_deletion,
    restore_account,
    update_profile,
    user_profile,
    user_summary,
)

__all__ = [
    "EMAILS",
    "AccountPolicy",
    "EmailChange",
    "EmailTemplate",
    "PasswordChange",
    "PasswordLogin",
    "PrivacyUpdate",
    "ProfileUpdate",
    "Reauthentication",
    "Registration",
    "ResetConfirm",
    "ResetRequest",
    "SensitiveConfirm",
    "TokenInput",
    "UserQuery",
    "UserSummary",
    "change_password",
    "confirm_email_change",
    "confirm_password_reset",
    "erase_account",
    "list_users",
    "login_with_password",
    "purge_deleted_accounts",
    "reauthenticate",
    "register",
    "request_deletion",
    "request_email_change",
    "request_password_reset",
    "restore_account",
    "update_profile",
    "user_profile",
    "user_summary",
    "verify_email",
]
