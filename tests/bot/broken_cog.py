"""A plugin that fails to load, for the test that the others load anyway."""

from discord.ext import commands


async def setup(bot: commands.Bot) -> None:
    raise RuntimeError("this plugin is broken on purpose")
