"""/login: an ephemeral button with a one-time link that logs the user into the website."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T  # noqa: N812 - the gettext-style marker
from discord.ext import commands

from bot.answer import answer
from bot.i18n import t
from models import identities
from models.i18n import N_

log = logging.getLogger(__name__)


class AccountCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    def website(self) -> str:
        settings = self.bot.settings  # type: ignore[attr-defined]
        return (settings.auth.frontend_origins or [settings.web.public_url])[0]

    @app_commands.command(name=_T("login"), description=_T("Get a link that logs you in"))
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.checks.cooldown(3, 300, key=lambda i: i.user.id)  # no ticket flood
    async def login(self, interaction: discord.Interaction) -> None:
        # Minted now and shown only to the user (ephemeral): no DM, no outbox row holds it,
        # and it works for people whose DMs are closed.
        settings = self.bot.settings  # type: ignore[attr-defined]
        url, expires = await identities.login_link(
            interaction.user.id, base_url=self.website(), ttl=settings.auth.login_link_ttl
        )
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(label=t(interaction, N_("Open the website")), url=url))
        text = t(
            interaction,
            N_(
                "Your login link works once and expires {expires}. Never share it: whoever "
                "opens it is logged in as you."
            ),
            expires=discord.utils.format_dt(expires, "R"),
        )
        await answer(interaction, text, view=view)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(AccountCog(bot))
