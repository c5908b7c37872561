"""Staff command groups: hidden from drivers by Discord, and still checked by the hub.

Discord's permission bits are not our hub roles. A staff group is shown (through
`default_member_permissions`) to members holding one Discord permission that matches the
group's job, e.g. Manage Events for the event staff; a server admin can show or hide each
command for other roles and members in Server Settings › Integrations. That only decides
visibility: every operation still checks the hub permission itself, so a member who sees
a staff command without the hub role is refused politely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import discord
from discord import app_commands

from models.i18n import N_

T = TypeVar("T")

# The Discord permissions staff groups map to, with the names Discord's client shows.
DISCORD_PERMISSIONS: dict[str, str] = {
    "administrator": N_("Administrator"),
    "manage_guild": N_("Manage Server"),
    "manage_roles": N_("Manage Roles"),
    "manage_events": N_("Manage Events"),
    "manage_messages": N_("Manage Messages"),
    "kick_members": N_("Kick Members"),
    "ban_members": N_("Ban Members"),
    "moderate_members": N_("Timeout Members"),
    "view_audit_log": N_("View Audit Log"),
}


def staff(permission: str) -> Callable[[T], T]:
    """Make a cog's top-level group a staff one, visible with `permission` in Discord.

    `permission` is discord.py's name of the Discord permission, e.g. "manage_guild" for
    Manage Server, "manage_events" for Manage Events. Discord reads it on top-level
    commands and groups only (PluginCog refuses it on a subcommand).
    """
    if permission not in DISCORD_PERMISSIONS:
        raise ValueError(f"map staff groups to one of {sorted(DISCORD_PERMISSIONS)}")
    visible = app_commands.default_permissions(**{permission: True})
    guild_only = app_commands.guild_only()

    def decorate(target: T) -> T:
        return guild_only(visible(target))  # type: ignore[arg-type, return-value]

    return decorate


def discord_permission_of(command: app_commands.Command | app_commands.Group) -> int | None:
    """The Discord permission bits a command needs to be visible (its root's setting)."""
    root = command.root_parent or command
    permissions = root.default_permissions
    return None if permissions is None else permissions.value


def can_see(command: app_commands.Command | app_commands.Group, member: discord.Member) -> bool:
    """Whether Discord shows `command` to `member` by default (admins and owners see all)."""
    bits = discord_permission_of(command)
    if bits is None or member.guild.owner_id == member.id:
        return True
    held = member.guild_permissions
    return held.administrator or (bits != 0 and (held.value & bits) == bits)
