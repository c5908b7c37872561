"""The Discord bot: loads one cog per plugin and keeps hubs in step with guilds."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.answer import expire_unclaimed, stop_watching, watch_deadline
from bot.context import load_context
from bot.errors import handle_error
from bot.i18n import CatalogTranslator
from core.config import Settings
from models import hubs, kv, members, plugins, users
from models.members import bans, lifecycle, roles

log = logging.getLogger(__name__)


class HubTree(app_commands.CommandTree):
    """Runs the shared context loader before every command and the one error policy after.

    discord.py leaves the interaction unanswered when `interaction_check` returns False or
    raises anything but an AppCommandError, so every failure here is answered first.
    """

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        command = interaction.command
        public = command is not None and command.extras.get("public", False)
        watch_deadline(interaction, ephemeral=not public)  # loading the context counts too
        plugins.entry_memo_for_task()  # the cog's and the operation's gates ask once
        try:
            await load_context(interaction)
        except Exception as exc:  # answered by the one error policy, never left hanging
            await handle_error(interaction, exc)
            stop_watching(interaction)
            return False
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        await handle_error(interaction, error)
        stop_watching(interaction)  # after the reply: a deferral under way is kept


# The platform's own commands; every package's cog comes from the registry.
PLATFORM_COGS = ("cogs.hub", "cogs.account", "cogs.help")


def cog_modules() -> list[str]:
    """The platform's cogs, then one per registered package that has one."""
    return [*PLATFORM_COGS, *plugins.cogs()]


class DriversHubBot(commands.AutoShardedBot):
    def __init__(self, settings: Settings, **options: Any) -> None:
        intents = discord.Intents.default()
        intents.members = settings.discord.members_intent
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents,
            tree_cls=HubTree,
            shard_count=settings.discord.shard_count,
            shard_ids=settings.discord.shard_ids,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.settings = settings
        self.failed_cogs: dict[str, str] = {}

    async def setup_hook(self) -> None:
        await self.tree.set_translator(CatalogTranslator())
        await self.load_cogs()
        if self.settings.discord.sync_commands:
            await self.sync_commands()

    async def load_cogs(self) -> None:
        """Load every cog; one that fails is logged and skipped, the others still load."""
        for name in cog_modules():
            try:
                await self.load_extension(name)
            except Exception as exc:  # a broken plugin must not take the bot down
                self.failed_cogs[name] = repr(exc)
                log.exception("cog %s failed to load and is skipped", name)

    async def command_payload(self) -> list[dict[str, Any]]:
        """The translated global command payload exactly as a sync would send it."""
        translator = self.tree.translator
        commands_ = self.tree.get_commands()
        if translator is None:
            return [command.to_dict(self.tree) for command in commands_]
        return [
            await command.get_translated_payload(self.tree, translator) for command in commands_
        ]

    async def sync_commands(self) -> bool:
        """Sync global commands only when their payload changed; return whether it synced."""
        payload = await self.command_payload()
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        key = f"commands-hash:{self.application_id}"
        if await kv.get_value(key) == digest:
            log.info("application commands unchanged; not syncing")
            return False
        await self.tree.sync()
        await kv.set_value(key, digest)
        log.info("synced %d application commands", len(payload))
        return True

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        expire_unclaimed(interaction)

    async def on_app_command_completion(
        self, interaction: discord.Interaction, command: app_commands.Command[Any, ..., Any]
    ) -> None:
        stop_watching(interaction)

    # Guild lifecycle: a guild is a hub.

    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self._ensure_hub(guild)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        hub = await self._ensure_hub(guild)
        log.info("joined guild %s: hub %s", guild.id, hub.slug)

    async def on_guild_update(self, before: discord.Guild, after: discord.Guild) -> None:
        if (before.name, before.owner_id) != (after.name, after.owner_id):
            await self._ensure_hub(after)

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        await hubs.deactivate_guild(guild.id)
        log.info("left guild %s: its hub is now inactive", guild.id)

    async def on_ready(self) -> None:
        # Guilds that removed the bot while it was offline: deactivate their hubs.
        present = {guild.id for guild in self.guilds}
        stale = await hubs.reconcile_guilds(present, self._serves)
        log.info("ready in %d guilds (%d hubs deactivated)", len(present), stale)

    def _serves(self, guild_id: int) -> bool:
        count = self.shard_count or 1
        return self.shard_ids is None or (guild_id >> 22) % count in self.shard_ids

    async def _ensure_hub(self, guild: discord.Guild) -> hubs.Hub:
        return await hubs.ensure_hub_for_guild(
            guild.id, guild.name, guild.owner_id, str(guild.preferred_locale)
        )

    # Members: keep their Discord roles in the database for permission decisions.

    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if after.bot or (before.roles == after.roles and _admin(before) == _admin(after)):
            return
        stored = await self._sync_member(after)
        added = {r.id for r in after.roles} - {r.id for r in before.roles}
        removed = {r.id for r in before.roles} - {r.id for r in after.roles}
        if added or removed:
            # Linked Discord roles given or taken by hand follow the hub's chosen direction.
            await roles.reconcile_discord_roles(stored.hub, stored, added, removed)

    async def on_member_ban(
        self, guild: discord.Guild, user: discord.User | discord.Member
    ) -> None:
        hub = await hubs.Hub.get_or_none(guild_id=guild.id)
        if hub is None or user.bot:
            return
        reason = None
        with contextlib.suppress(discord.HTTPException):  # needs Ban Members; optional
            reason = (await guild.fetch_ban(user)).reason
        await bans.discord_banned(hub, user.id, reason)

    async def on_member_unban(self, guild: discord.Guild, user: discord.User) -> None:
        hub = await hubs.Hub.get_or_none(guild_id=guild.id)
        if hub is not None:
            await bans.discord_unbanned(hub, user.id)

    async def on_member_join(self, member: discord.Member) -> None:
        if not member.bot:
            await self._sync_member(member)

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        hub = await hubs.Hub.get_or_none(guild_id=payload.guild_id)
        if hub is None:
            return
        member = await members.mark_left(hub.id, payload.user.id)
        if member is not None:
            await lifecycle.left_server(hub, member)

    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        if before.permissions.administrator != after.permissions.administrator:
            for member in after.members:
                await self._sync_member(member)

    async def on_guild_role_delete(self, role: discord.Role) -> None:
        hub = await hubs.Hub.get_or_none(guild_id=role.guild.id)
        if hub is not None:
            await members.forget_discord_role(hub.id, role.id)

    async def _sync_member(self, member: discord.Member) -> members.Member:
        hub = await self._ensure_hub(member.guild)
        user = await users.user_for_discord(member.id, member.name)
        role_ids = [role.id for role in member.roles if not role.is_default()]
        stored = await members.sync_discord_state(hub.id, user, role_ids, is_admin=_admin(member))
        stored.hub, stored.user = hub, user
        return stored

    def gateway_state(self) -> dict[str, Any]:
        """The gateway's state for /ready (no Discord call)."""
        shards = {
            str(shard_id): {"connected": not shard.is_closed(), "latency_ms": _ms(shard.latency)}
            for shard_id, shard in self.shards.items()
        }
        state = "ready" if self.is_ready() else "connecting"
        if self.is_closed():
            state = "closed"
        return {"state": state, "guilds": len(self.guilds), "shards": shards}


def _admin(member: discord.Member) -> bool:
    return member.guild_permissions.administrator


def _ms(latency: float) -> float | None:
    return None if latency != latency or latency == float("inf") else round(latency * 1000, 1)
