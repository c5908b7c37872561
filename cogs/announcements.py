"""Announcements in Discord (rules in `models.announcements`).

- `/announce type: [visibility:] [pinned:] [ping:]` opens a form for the title and the body
  (markdown) and publishes it: members are told, and the hub's channels for announcements get
  the post (through hub posts). The type list offers the types the caller may publish.
- `/announcements` shows the latest announcements the caller may read.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T  # noqa: N812 - the gettext-style marker
from discord.ext import commands
from pydantic import BaseModel, ConfigDict, Field

from bot.answer import answer, open_modal
from bot.context import load_context
from bot.errors import safe_autocomplete
from bot.i18n import t
from bot.modals import FormField, FormModal
from bot.plugin import PluginCog
from models.errors import Invalid
from models.i18n import N_, Lazy
from models.validation import field_error

KEY = "announcements"
CHOICES = 25
LISTED = 10
BODY_IN_FORM = 4000  # a Discord text input holds 4,000 characters


def _ops() -> Any:
    from models.announcements import ops

    return ops


class AnnounceForm(BaseModel):
    """The /announce form's raw answers (the domain's AnnouncementInput validates them)."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=BODY_IN_FORM)


FIELDS = [
    FormField("title", N_("Title"), "short", max_length=200),
    FormField("body", N_("Text (markdown)"), "paragraph", max_length=BODY_IN_FORM),
]


async def _ping_role_id(hub: Any, role: discord.Role | None) -> int | None:
    """The hub role linked to the Discord role chosen to ping (a 422-like refusal if none)."""
    if role is None:
        return None
    from models.members.tables import Role

    linked = await Role.get_or_none(hub_id=hub.id, discord_role_id=role.id)
    if linked is None:
        message = N_("Link this Discord role to a hub role first, then ping it.")
        raise field_error(("ping_role_id",), Lazy(message))  # type: ignore[arg-type]
    return int(linked.id)


class AnnouncementCog(PluginCog):
    """/announce and /announcements: top-level commands, not a group."""

    __cog_is_app_commands_group__ = False  # discord.py: its commands stay top-level
    plugin = KEY

    @app_commands.command(name=_T("announce"), description=_T("Publish an announcement"))
    @app_commands.guild_only()
    @app_commands.describe(
        type=_T("What kind of announcement: pick one from the list"),
        visibility=_T("Who may read it (default: everyone)"),
        pinned=_T("Show it first in the list"),
        ping=_T("A role to mention in the Discord post"),
    )
    @app_commands.rename(
        type=_T("type"), visibility=_T("visibility"), pinned=_T("pinned"), ping=_T("ping")
    )
    @app_commands.choices(
        visibility=[
            app_commands.Choice(name=_T("everyone"), value="public"),
            app_commands.Choice(name=_T("members only"), value="members"),
        ]
    )
    async def announce(
        self,
        interaction: discord.Interaction,
        type: str,
        visibility: str = "public",
        pinned: bool = False,
        ping: discord.Role | None = None,
    ) -> None:
        hub = await self.hub(interaction)
        from models.announcements.schemas import AnnouncementInput
        from models.validation import validate

        ping_role_id = await _ping_role_id(hub, ping)
        actor = (await load_context(interaction)).actor
        await _ops().publishable_type(actor, hub, type.strip())  # refused before the form

        async def submitted(interaction: discord.Interaction, form: AnnounceForm) -> None:
            actor = (await load_context(interaction)).actor
            raw = {"type": type.strip(), "title": form.title, "body": form.body}
            raw |= {"visibility": visibility, "pinned": pinned, "ping_role_id": ping_role_id}
            try:
                published = await _ops().publish(actor, hub, validate(AnnouncementInput, raw))
            except Invalid as exc:
                if not exc.params.get("errors"):
                    raise
                raise modal.labelled(interaction, exc) from None
            done = t(interaction, N_("Published: {title}."), title=published.title)
            await answer(interaction, done)

        modal = FormModal(
            interaction,
            title=N_("Publish an announcement"),
            fields=FIELDS,
            schema=AnnounceForm,
            on_valid=submitted,
        )
        await open_modal(interaction, modal)

    @announce.autocomplete("type")
    @safe_autocomplete
    async def type_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        context = await load_context(interaction)
        if context.hub is None:
            return []
        types = await _ops().list_types(context.actor, context.hub)
        needle = current.strip().casefold()
        return [
            app_commands.Choice(name=row.name[:100], value=row.key)
            for row in types
            if row.may_publish and (needle in row.name.casefold() or needle in row.key)
        ][:CHOICES]

    @app_commands.command(name=_T("announcements"), description=_T("Show the latest announcements"))
    @app_commands.guild_only()
    async def latest(self, interaction: discord.Interaction) -> None:
        hub = await self.hub(interaction)
        from models.announcements.schemas import AnnouncementQuery

        actor = (await load_context(interaction)).actor
        page = await _ops().list_announcements(actor, hub, AnnouncementQuery(limit=LISTED))
        embed = discord.Embed(title=t(interaction, N_("Announcements")))
        if not page.items:
            embed.description = t(interaction, N_("Nothing announced yet."))
        for item in page.items:
            when = discord.utils.format_dt(item.publish_at, "R")
            pin = "📌 " if item.pinned else ""
            text = item.body if len(item.body) <= 300 else item.body[:299] + "…"
            embed.add_field(
                name=f"{pin}{item.type_name}: {item.title}"[:256],
                value=f"{when}\n{text}"[:1024],
                inline=False,
            )
        await answer(interaction, embed=embed)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(AnnouncementCog(bot))
