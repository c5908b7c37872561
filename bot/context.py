"""What every interaction needs before a command runs: the hub, the user and the actor."""

from __future__ import annotations

from dataclasses import dataclass

import discord

from models import hubs, members, users
from models.actor import Actor, discord_actor
from models.hubs import Hub


@dataclass(frozen=True, slots=True)
class Context:
    actor: Actor
    hub: Hub | None


async def load_context(interaction: discord.Interaction) -> Context:
    """Record the invoking user (and their Discord roles in this hub) and build the actor.

    Run on every interaction, so the database mirrors the roles Discord just told us about:
    the API then decides permissions without asking Discord.
    """
    if "context" in interaction.extras:
        return interaction.extras["context"]
    if interaction.type is discord.InteractionType.autocomplete:
        return await _read_only_context(interaction)
    author = interaction.user
    avatar = author.display_avatar.url if author.avatar else ""
    guild = interaction.guild
    hub = None
    if guild is not None and isinstance(author, discord.Member):
        roles = [role.id for role in author.roles if not role.is_default()]
        is_admin = author.guild_permissions.administrator
        known = await members.unchanged_presence(
            guild.id,
            author.id,
            username=author.name,
            avatar=avatar,
            guild_name=guild.name,
            owner_discord_id=guild.owner_id,
            role_ids=roles,
            is_admin=is_admin,
        )
        if known is not None:  # the common case: one query, nothing to write
            user, hub = known.user, known.hub
        else:
            user = await users.user_for_discord(author.id, author.name, avatar)
            hub = await hubs.ensure_hub_for_guild(
                guild.id, guild.name, guild.owner_id, str(interaction.guild_locale or "")
            )
            await members.sync_discord_state(hub.id, user, roles, is_admin=is_admin)
    else:
        user = await users.user_for_discord(author.id, author.name, avatar)
    interaction.extras["user_locale"] = user.locale
    # A deactivated account keeps no platform power, in Discord either.
    context = Context(discord_actor(user.id, author.id, user.is_superuser and user.is_active), hub)
    interaction.extras["context"] = context
    return context


async def _read_only_context(interaction: discord.Interaction) -> Context:
    """The context of an autocomplete, which fires on every keystroke: reads only, no writes.

    A user or hub not stored yet is simply absent; the command itself records them.
    """
    author = interaction.user
    user = await users.User.get_or_none(discord_id=author.id)
    if user is not None:
        interaction.extras["user_locale"] = user.locale
    hub = None
    if interaction.guild_id is not None:
        hub = await hubs.Hub.get_or_none(guild_id=interaction.guild_id, active=True)
    superuser = user is not None and user.is_superuser and user.is_active
    context = Context(discord_actor(user.id if user else None, author.id, superuser), hub)
    interaction.extras["context"] = context
    return context
