"""/hub: what a hub is and how staff configure it."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T  # noqa: N812 - the gettext-style marker
from discord.ext import commands

from bot.answer import answer
from bot.context import load_context
from bot.errors import safe_autocomplete
from bot.i18n import number, t
from bot.plugin import PluginCog
from bot.staff import staff
from models import hubs
from models import plugins as registry
from models.hubs import HubUpdate, HubView
from models.i18n import LANGUAGES, N_
from models.permissions import Permission
from models.validation import validate

log = logging.getLogger(__name__)

UNIT_NAMES = {"km": N_("Kilometres"), "mi": N_("Miles")}
LANGUAGE_CHOICES = [app_commands.Choice(name=name, value=code) for code, name in LANGUAGES.items()]
UNIT_CHOICES = [app_commands.Choice(name=_T(name), value=code) for code, name in UNIT_NAMES.items()]


def hub_embed(interaction: discord.Interaction, view: HubView) -> discord.Embed:
    """The hub's public card, in the reader's language."""
    embed = discord.Embed(title=view.name[:256], color=view.accent_color)
    if view.description:
        embed.description = view.description[:4096]
    plugins = ", ".join(plugin_label(interaction, key) for key in view.plugins)
    embed.add_field(name=t(interaction, N_("Members")), value=number(interaction, view.members))
    embed.add_field(name=t(interaction, N_("Language")), value=LANGUAGES[view.language])
    embed.add_field(
        name=t(interaction, N_("Distance unit")),
        value=t(interaction, UNIT_NAMES[view.distance_unit]),
    )
    embed.add_field(name=t(interaction, N_("Time zone")), value=view.timezone)
    embed.add_field(
        name=t(interaction, N_("Plugins")),
        value=(plugins or t(interaction, N_("None")))[:1024],
        inline=False,
    )
    embed.set_footer(text=t(interaction, N_("Hub: {slug}"), slug=view.slug))
    return embed


def plugin_label(interaction: discord.Interaction, key: str) -> str:
    package = registry.get(key)
    return t(interaction, package.label) if package is not None else key


@app_commands.guild_only()  # a hub is a server's; Discord hides /hub in DMs
class HubCog(PluginCog, group_name=_T("hub"), group_description=_T("Your trucking company's hub")):
    """What every driver sees."""

    plugin = None

    @app_commands.command(
        name=_T("info"), description=_T("Show this server's hub"), extras={"public": True}
    )
    async def info(self, interaction: discord.Interaction) -> None:
        hub = await self.hub(interaction)
        view = await hubs.cached_hub_info(hub)
        await answer(interaction, embed=hub_embed(interaction, view), ephemeral=False)


@staff("manage_guild")
class HubStaffCog(
    PluginCog,
    group_name=_T("hub-admin"),
    group_description=_T("Manage your trucking company's hub"),
):
    """Staff only: Discord shows it to members with Manage Server; the hub checks its role."""

    plugin = None

    @app_commands.command(
        name=_T("settings"),
        description=_T("Show or change the hub's settings"),
        extras={"permission": Permission.MANAGE_HUB},
    )
    @app_commands.describe(
        language=_T("Language of the hub's messages"),
        distance_unit=_T("Unit for distances"),
        timezone=_T("Time zone, e.g. Europe/Berlin"),
        enable=_T("Turn a plugin on"),
        disable=_T("Turn a plugin off"),
    )
    @app_commands.rename(
        language=_T("language"),
        distance_unit=_T("distance_unit"),
        timezone=_T("timezone"),
        enable=_T("enable"),
        disable=_T("disable"),
    )
    @app_commands.choices(language=LANGUAGE_CHOICES, distance_unit=UNIT_CHOICES)
    async def settings(
        self,
        interaction: discord.Interaction,
        language: str | None = None,
        distance_unit: str | None = None,
        timezone: str | None = None,
        enable: str | None = None,
        disable: str | None = None,
    ) -> None:
        hub = await self.hub(interaction)
        context = await load_context(interaction)
        toggles = {key: on for key, on in ((enable, True), (disable, False)) if key}
        raw = {"language": language, "distance_unit": distance_unit, "timezone": timezone}
        # Who may not change settings learns nothing from a validation error.
        await registry.enter(context.actor, hub, None, Permission.MANAGE_HUB, write=True)
        change = validate(
            HubUpdate,
            {k: v for k, v in raw.items() if v is not None}
            | ({"plugins": toggles} if toggles else {}),
        )
        hub = await hubs.update_hub(context.actor, hub, change)
        view = await hubs.hub_info(hub)
        changed = bool(change.model_dump(exclude_unset=True))
        text = (
            t(interaction, N_("Settings saved."))
            if changed
            else t(interaction, N_("Current settings:"))
        )
        await answer(interaction, text, embed=hub_embed(interaction, view))

    @settings.autocomplete("enable")
    @settings.autocomplete("disable")
    @safe_autocomplete
    async def plugin_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        # Installed plugins come from the registry (external ones too), so no fixed choices.
        needle = current.lower()
        choices = [
            app_commands.Choice(name=plugin_label(interaction, key)[:100], value=key)
            for key in registry.plugin_keys()
        ]
        return [c for c in choices if needle in c.name.lower() or needle in c.value][:25]

    @settings.autocomplete("timezone")
    @safe_autocomplete
    async def timezone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=tz, value=tz) for tz in hubs.matching_timezones(current)]


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(HubCog(bot))
    await bot.add_cog(HubStaffCog(bot))
