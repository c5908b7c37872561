"""/shout: the shoutbox in Discord; it answers a polite refusal while the hub has it off."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T  # noqa: N812 - the gettext-style marker
from discord.ext import commands

from bot.context import load_context
from bot.i18n import t
from bot.plugin import PluginCog
from drivershub_shoutbox import ops
from drivershub_shoutbox.tables import MAX_LENGTH
from models.i18n import N_


@app_commands.guild_only()  # a shoutbox is a hub's; Discord hides /shout in DMs
class ShoutboxCog(PluginCog, group_name=_T("shout"), group_description=_T("The hub's shoutbox")):
    plugin = "shoutbox"

    @app_commands.command(name=_T("post"), description=_T("Post a message to the shoutbox"))
    @app_commands.describe(text=_T("What to say"))
    @app_commands.rename(text=_T("text"))
    async def post(
        self, interaction: discord.Interaction, text: app_commands.Range[str, 1, MAX_LENGTH]
    ) -> None:
        hub = await self.hub(interaction)
        context = await load_context(interaction)
        await ops.post_shout(context.actor, hub, text)
        await interaction.response.send_message(
            t(interaction, N_("Your shout is posted.")), ephemeral=True
        )


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(ShoutboxCog(bot))
