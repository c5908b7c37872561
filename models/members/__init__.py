"""The members package (core, always on): who belongs to a hub, their roles, bans and history.

- `tables`: the rows (Member, Role, MemberRole, MembershipChange, StaffNote, Ban).
- `presence`: what the bot records from Discord (visitors, Discord roles, last seen).
- `lifecycle`: accept, dismiss, resign, join dates, history, staff notes.
- `bans`: bans by identity and the check every hub operation makes.

Only the tables and presence are imported here: the registry (models.plugins) imports this
package's settings, and lifecycle and bans import the registry.
"""

from models.members.presence import (
    LAST_SEEN_EVERY,
    ensure_member,
    forget_discord_role,
    mark_left,
    sync_discord_state,
    unchanged_presence,
)
from models.members.tables import (
    FORMER,
    Ban,
    Member,
    MemberRole,
    MembershipChange,
    MemberState,
    Role,
    StaffNote,
)

__all__ = [
    "FORMER",
    "LAST_SEEN_EVERY",
    "Ban",
    "Member",
    "MemberRole",
    "MemberState",
    "MembershipChange",
    "Role",
    "StaffNote",
    "ensure_member",
    "forget_discord_role",
    "mark_left",
    "sync_discord_state",
    "unchanged_presence",
]
