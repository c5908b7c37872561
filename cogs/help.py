"""/help: the commands the caller can use here, in their language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T  # noqa: N812 - the gettext-style marker
from discord.ext import commands

from bot.answer import answer
from bot.context import Context, load_context
from bot.i18n import t
from bot.layout import Card
from bot.plugin import PluginCog
from bot.staff import can_see
from models import plugins
from models.i18n import N_, translate
from models.permissions import Grant, grant_of

AnyCommand = app_commands.Command[Any, ..., Any]


@dataclass(frozen=True, slots=True)
class Usable:
    path: str  # "hub info"
    description: str


class HelpCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    @app_commands.command(name=_T("help"), description=_T("List the commands you can use here"))
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def help(self, interaction: discord.Interaction) -> None:
        context = await load_context(interaction)
        usable = await usable_commands(self.bot, interaction, context)
        card = Card()
        heading = t(interaction, N_("Commands you can use"))
        card.add_text(f"## {heading}")
        # One block per top-level command: a V2 message holds 40 components, fewer than the
        # commands a hub's staff can use.
        for group in _by_root(usable):
            card.add_text(
                "\n".join(
                    f"**/{typed_name(interaction, item.path)}**\n{t(interaction, item.description)}"
                    for item in group
                )
            )
        more = t(interaction, N_("…and {count} more."), count="{count}")  # Card fills it in
        await answer(interaction, view=card.view(more=more))


def typed_name(interaction: discord.Interaction, path: str) -> str:
    """The command as the user types it: Discord shows names in the client's language."""
    client = interaction.locale.value
    return " ".join(translate(part, client) for part in path.split())


async def usable_commands(
    bot: commands.Bot, interaction: discord.Interaction, context: Context
) -> list[Usable]:
    """Every command the caller may run where they are, sorted by name."""
    grant = await grant_of(context.actor, context.hub) if context.hub is not None else None
    found = []
    for command in _leaves(bot.tree.get_commands()):
        if await _usable(bot, command, interaction, context, grant):
            found.append(Usable(command.qualified_name, command.description))
    return sorted(found, key=lambda item: item.path)


def _by_root(usable: list[Usable]) -> list[list[Usable]]:
    """The sorted commands, grouped by their top-level name (`/event info`, `/event list`)."""
    groups: list[list[Usable]] = []
    for item in usable:
        root = item.path.split()[0]
        if groups and groups[-1][0].path.split()[0] == root:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def _leaves(items: list[Any]) -> list[AnyCommand]:
    leaves: list[AnyCommand] = []
    for item in items:
        if isinstance(item, app_commands.Group):
            leaves += _leaves(item.commands)
        elif isinstance(item, app_commands.Command):
            leaves.append(item)
    return leaves


async def _usable(
    bot: commands.Bot,
    command: AnyCommand,
    interaction: discord.Interaction,
    context: Context,
    grant: Grant | None,
) -> bool:
    root = command.root_parent or command
    if context.hub is None:  # a DM: only commands Discord offers there
        return not root.guild_only and _in_dms(root)
    member = interaction.user
    if isinstance(member, discord.Member) and not can_see(command, member):
        return False
    cog = command.binding
    if (
        isinstance(cog, PluginCog)
        and cog.plugin
        and not plugins.is_enabled(context.hub, cog.plugin)
    ):
        return False
    permission = command.extras.get("permission")
    return permission is None or (grant is not None and grant.has(permission))


def _in_dms(command: Any) -> bool:
    contexts = getattr(command, "allowed_contexts", None)
    return contexts is None or bool(contexts.dm_channel)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(HelpCog(bot))
