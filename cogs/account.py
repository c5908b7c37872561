"""/login: a one-time link in a DM that logs the user into the website without a password."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T  # noqa: N812 - the gettext-style marker
from discord.ext import commands

from bot.i18n import locale_of, t
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
    @app_commands.checks.cooldown(3, 300, key=lambda i: i.user.id)  # no DM flood
    async def login(self, interaction: discord.Interaction) -> None:
        # The link goes by DM (through the outbox), never into a channel others can read.
        await identities.send_login_link(
            interaction.user.id,
            base_url=self.website(),
            ttl=self.bot.settings.auth.login_link_ttl,  # type: ignore[attr-defined]
            locale=locale_of(interaction),
        )
        await interaction.response.send_message(
            t(interaction, N_("Check your DMs: I sent you a login link.")), ephemeral=True
        )


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(AccountCog(bot))
