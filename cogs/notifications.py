"""/notifications: the notifications package in Discord."""

from __future__ import annotations

from discord.ext import commands

from bot.plugin import PluginCog


class NotificationsCog(PluginCog):
    __cog_is_app_commands_group__ = False  # discord.py: its commands stay top-level
    plugin = "notifications"


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(NotificationsCog(bot))
