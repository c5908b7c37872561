"""/posts: hub posts in Discord (staff)."""

from __future__ import annotations

from discord.ext import commands

from bot.plugin import PluginCog


class PostsCog(PluginCog):
    __cog_is_app_commands_group__ = False  # discord.py: its commands stay top-level
    plugin = "posts"


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(PostsCog(bot))
