"""The base of every package's cog: its commands refuse politely while the hub has it off.

Discord has no per-server command registration we could use to hide a disabled plugin's
commands, so each one answers a localized, ephemeral refusal instead (through the one error
policy in bot/errors.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.context import load_context
from models import plugins
from models.errors import DomainError
from models.hubs import Hub
from models.members.bans import refuse_banned_actor


class Refused(app_commands.CheckFailure):
    """A domain rule refused the interaction before the command ran (the plugin is off)."""

    def __init__(self, error: DomainError) -> None:
        self.error = error
        super().__init__(str(error))


class PluginCog(commands.GroupCog):
    """Subclass with `plugin = "<registry key>"` and the usual `group_name=` arguments.

    `plugin = None` is a platform group (always on). A package with staff commands adds a
    second cog for its staff group, decorated with `bot.staff.staff("manage_events")`.
    `dynamic_items` lists the package's persistent components (bot.components.HubItem
    subclasses); they are registered while the cog is loaded.
    """

    plugin: ClassVar[str | None]
    dynamic_items: ClassVar[tuple[type[discord.ui.DynamicItem[Any]], ...]] = ()

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        for command in self.walk_app_commands():
            if command.parent is not None and command.default_permissions is not None:
                # Discord ignores it there: the command would be visible to everyone.
                raise TypeError(
                    f"{command.qualified_name}: Discord permissions only apply to a "
                    "top-level group; decorate the cog with bot.staff.staff() instead"
                )
        self.bot.add_dynamic_items(*self.dynamic_items)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*self.dynamic_items)

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """The plugin is on, and the caller holds the command's `extras["permission"]`.

        The permission declared on the command is the one /help shows it for; the
        operation checks it again itself.
        """
        hub = await self.hub(interaction)
        command = interaction.command
        permission = command.extras.get("permission") if command is not None else None
        if permission is not None:
            context = await load_context(interaction)
            try:
                await plugins.enter(context.actor, hub, None, permission, write=True)
            except DomainError as exc:
                raise Refused(exc) from None
        return True

    async def hub(self, interaction: discord.Interaction) -> Hub:
        """The interaction's hub, with this plugin on and the caller not banned from it; a
        refusal otherwise."""
        context = await load_context(interaction)
        if context.hub is None:
            raise app_commands.NoPrivateMessage()
        try:
            if self.plugin is not None:
                plugins.require_enabled(context.hub, self.plugin)
            await refuse_banned_actor(context.actor, context.hub)
        except DomainError as exc:
            raise Refused(exc) from None
        return context.hub
