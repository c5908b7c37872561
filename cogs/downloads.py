"""Downloads in Discord (rules in `models.downloads`).

`/downloads` shows the items the caller may download, each with a button: a personal link
that works for a few minutes (the item's real address is never shown). Staff add and
upload items on the website or through the API.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T  # noqa: N812 - the gettext-style marker
from discord.ext import commands

from bot.answer import answer
from bot.context import load_context
from bot.i18n import t
from bot.plugin import PluginCog
from models.i18n import N_

KEY = "downloads"
# One embed field and one link button each (Discord lays out 5 buttons a row, 25 at most).
LISTED = 10
LABEL = 80  # a button's label holds 80 characters


def _ops() -> Any:
    from models.downloads import ops

    return ops


def _size(size: int | None) -> str:
    if not size:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return ""


class DownloadsCog(PluginCog):
    """/downloads: a top-level command, not a group."""

    __cog_is_app_commands_group__ = False  # discord.py: its commands stay top-level
    plugin = KEY

    @app_commands.command(name=_T("downloads"), description=_T("Download the hub's files"))
    @app_commands.guild_only()
    async def downloads(self, interaction: discord.Interaction) -> None:
        hub = await self.hub(interaction)
        from models.downloads.schemas import DownloadQuery

        actor = (await load_context(interaction)).actor
        page = await _ops().list_downloads(actor, hub, DownloadQuery(limit=LISTED))
        items = [item for item in page.items if item.kind != "empty"]
        embed = discord.Embed(title=t(interaction, N_("Downloads")))
        if not items:
            embed.description = t(interaction, N_("Nothing to download yet."))
            await answer(interaction, embed=embed)
            return
        settings = self.bot.settings  # type: ignore[attr-defined]
        links = await _ops().create_links(
            actor,
            hub,
            [item.id for item in items],
            ttl=settings.downloads.link_ttl,
            base_url=settings.web.public_url,
        )
        minutes = max(1, settings.downloads.link_ttl // 60)
        notes = [t(interaction, N_("Your links work for {minutes} minutes."), minutes=minutes)]
        if page.next_cursor:
            notes.append(t(interaction, N_("More on the website.")))
        embed.description = " ".join(notes)
        view = discord.ui.View(timeout=None)
        for item, link in zip(items, links, strict=True):
            pin = "📌 " if item.pinned else ""
            size = _size(item.file_size)
            detail = (
                item.description if len(item.description) <= 300 else item.description[:299] + "…"
            )
            embed.add_field(
                name=f"{pin}{item.title}"[:256],
                value=(f"{size}\n{detail}" if size else detail or "\u200b")[:1024],
                inline=False,
            )
            view.add_item(discord.ui.Button(label=item.title[:LABEL], url=link.url))
        await answer(interaction, embed=embed, view=view)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(DownloadsCog(bot))
