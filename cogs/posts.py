"""/posts: hub posts in Discord (staff).

Every rule lives in `models.posts`; this module turns options into calls and results into
replies. `/posts set` opens a form holding the template (content, embed title, description
and footer), filled with the channel's current template or the trigger's default.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T  # noqa: N812 - the gettext-style marker
from discord.ext import commands

from bot.answer import answer, open_modal
from bot.context import load_context
from bot.discord_actions import post_embed
from bot.errors import safe_autocomplete
from bot.i18n import locale_of, t
from bot.modals import FormField, FormModal
from bot.plugin import PluginCog
from bot.staff import staff
from models.errors import NotFound
from models.hubs import Hub
from models.i18n import N_
from models.posts import PostDestination, ops, templates
from models.posts.schemas import PreviewInput, Rendered, TemplateForm
from models.validation import parse_id

log = logging.getLogger(__name__)

CHOICES = 25  # Discord's most autocomplete choices
MODAL_TEXT = 4000  # Discord's longest modal input
AUDIENCES = {"public": N_("Public"), "members": N_("Members only")}
AUDIENCE_CHOICES = [
    app_commands.Choice(name=_T(label), value=key) for key, label in AUDIENCES.items()
]
DESTINATION_OPTION = _T("The destination: pick one from the list")


def template_form(content: str, embed: dict) -> tuple[FormField, ...]:
    """The template's texts as modal inputs, filled with what they hold now."""

    def default(text: str, limit: int) -> str | None:
        return text[:limit] or None

    return (
        FormField(
            "content",
            N_("Message"),
            "paragraph",
            required=False,
            max_length=templates.CONTENT,
            default=default(content, templates.CONTENT),
            placeholder=N_("Text with {variables}, e.g. Welcome {mention}!"),
        ),
        FormField(
            "title",
            N_("Embed title"),
            required=False,
            max_length=templates.TITLE,
            default=default(embed.get("title", ""), templates.TITLE),
        ),
        FormField(
            "description",
            N_("Embed description"),
            "paragraph",
            required=False,
            max_length=MODAL_TEXT,
            default=default(embed.get("description", ""), MODAL_TEXT),
        ),
        FormField(
            "footer",
            N_("Embed footer"),
            required=False,
            max_length=templates.FOOTER,
            default=default(embed.get("footer", ""), templates.FOOTER),
        ),
    )


def where(interaction: discord.Interaction, row: PostDestination) -> str:
    if row.channel_id is not None:
        return f"<#{row.channel_id}>"
    return t(interaction, N_("webhook {id}"), id=row.webhook_id)


def trigger_label(interaction: discord.Interaction, key: str) -> str:
    trigger = templates.trigger_of(key)
    return t(interaction, trigger.label) if trigger is not None else key


def destination_line(interaction: discord.Interaction, row: PostDestination) -> str:
    """`#1 · #general · Public`, then what is wrong with it, if anything."""
    parts = [f"`#{row.id}`", where(interaction, row), t(interaction, AUDIENCES[row.audience])]
    if not row.enabled:
        parts.append(t(interaction, N_("off")))
    line = " · ".join(parts)
    if row.last_error:
        broken = t(interaction, N_("broken: {error}"), error=row.last_error[:200])
        line += f"\n  ⚠️ {broken}"
    return line


def list_embed(interaction: discord.Interaction, rows: list[PostDestination]) -> discord.Embed:
    embed = discord.Embed(title=t(interaction, N_("Hub posts")))
    if not rows:
        embed.description = t(interaction, N_("Nothing is posted yet. Use /posts set."))
        return embed
    by_trigger: dict[str, list[str]] = {}
    for row in rows:
        by_trigger.setdefault(row.trigger, []).append(destination_line(interaction, row))
    for key, lines in list(by_trigger.items())[:25]:
        embed.add_field(
            name=trigger_label(interaction, key)[:256], value="\n".join(lines)[:1024], inline=False
        )
    return embed


def preview_embed(rendered: Rendered) -> discord.Embed | None:
    return post_embed(rendered.embed.model_dump(exclude_defaults=True)) if rendered.embed else None


@staff("manage_guild")
class PostsCog(
    PluginCog, group_name=_T("posts"), group_description=_T("Post hub events in channels")
):
    """Staff only: Discord shows it to members with Manage Server; the hub checks the role."""

    plugin = ops.KEY

    async def _destination(
        self, interaction: discord.Interaction, value: str
    ) -> tuple[Hub, PostDestination]:
        hub = await self.hub(interaction)
        actor = (await load_context(interaction)).actor
        destination_id = parse_id(value.strip().lstrip("#"))
        if destination_id is None:
            raise NotFound(
                N_("That post destination does not exist."), code="destination_not_found"
            )
        return hub, await ops.destination(actor, hub, destination_id)

    @app_commands.command(
        name=_T("list"),
        description=_T("Show what is posted where"),
        extras={"permission": ops.MANAGE},
    )
    async def list(self, interaction: discord.Interaction) -> None:
        hub = await self.hub(interaction)
        actor = (await load_context(interaction)).actor
        rows = await ops.destinations(actor, hub)
        await answer(interaction, embed=list_embed(interaction, rows))

    @app_commands.command(
        name=_T("set"),
        description=_T("Post a trigger in a channel, with a template"),
        extras={"permission": ops.MANAGE},
    )
    @app_commands.describe(
        trigger=_T("What to post"),
        channel=_T("Where to post it"),
        audience=_T("Public, or also members-only items"),
        crosspost=_T("In an announcement channel: publish each post to following servers"),
    )
    @app_commands.rename(
        trigger=_T("trigger"),
        channel=_T("channel"),
        audience=_T("audience"),
        crosspost=_T("crosspost"),
    )
    @app_commands.choices(audience=AUDIENCE_CHOICES)
    async def set(
        self,
        interaction: discord.Interaction,
        trigger: str,
        channel: discord.TextChannel,
        audience: str | None = None,
        crosspost: bool | None = None,
    ) -> None:
        hub = await self.hub(interaction)
        actor = (await load_context(interaction)).actor
        found = await ops.channel_destination(actor, hub, trigger, channel.id)
        content, embed = (
            (found.content, found.embed)
            if found is not None
            else ops.default_template(trigger, hub.language)
        )

        async def submitted(interaction: discord.Interaction, form: TemplateForm) -> None:
            actor = (await load_context(interaction)).actor  # the submitter, as of the submit
            row, created = await ops.set_channel(
                actor, hub, trigger, channel.id, form, audience, crosspost=crosspost
            )
            text = (
                N_("From now on, {trigger} is posted in {channel}.")
                if created
                else N_("Template saved: {trigger} in {channel}.")
            )
            shown = t(
                interaction,
                text,
                trigger=trigger_label(interaction, trigger),
                channel=where(interaction, row),
            )
            await answer(interaction, shown)

        title = t(
            interaction, N_("Template: {trigger}"), trigger=trigger_label(interaction, trigger)
        )
        modal = FormModal(
            interaction,
            title=title,
            fields=template_form(content, embed),
            schema=TemplateForm,
            on_valid=submitted,
        )
        await open_modal(interaction, modal)

    @app_commands.command(
        name=_T("test"),
        description=_T("Send a sample post to a destination now"),
        extras={"permission": ops.MANAGE},
    )
    @app_commands.describe(destination=DESTINATION_OPTION)
    @app_commands.rename(destination=_T("destination"))
    async def test(self, interaction: discord.Interaction, destination: str) -> None:
        hub, row = await self._destination(interaction, destination)
        actor = (await load_context(interaction)).actor
        await ops.test(actor, hub, row.id)
        text = N_("A sample post is on its way to {where}.")
        await answer(interaction, t(interaction, text, where=where(interaction, row)))

    @app_commands.command(
        name=_T("disable"),
        description=_T("Stop posting to a destination"),
        extras={"permission": ops.MANAGE},
    )
    @app_commands.describe(destination=DESTINATION_OPTION)
    @app_commands.rename(destination=_T("destination"))
    async def disable(self, interaction: discord.Interaction, destination: str) -> None:
        await self._switch(interaction, destination, enabled=False)

    @app_commands.command(
        name=_T("enable"),
        description=_T("Post to a destination again"),
        extras={"permission": ops.MANAGE},
    )
    @app_commands.describe(destination=DESTINATION_OPTION)
    @app_commands.rename(destination=_T("destination"))
    async def enable(self, interaction: discord.Interaction, destination: str) -> None:
        await self._switch(interaction, destination, enabled=True)

    async def _switch(self, interaction: discord.Interaction, value: str, *, enabled: bool) -> None:
        hub, row = await self._destination(interaction, value)
        actor = (await load_context(interaction)).actor
        row = await ops.set_enabled(actor, hub, row.id, enabled)
        text = N_("Posting to {where} is on.") if enabled else N_("Posting to {where} is off.")
        await answer(interaction, t(interaction, text, where=where(interaction, row)))

    @app_commands.command(
        name=_T("preview"),
        description=_T("Show a post with sample values"),
        extras={"permission": ops.MANAGE},
    )
    @app_commands.describe(
        destination=_T("A destination's template"), trigger=_T("A trigger's default template")
    )
    @app_commands.rename(destination=_T("destination"), trigger=_T("trigger"))
    async def preview(
        self,
        interaction: discord.Interaction,
        destination: str | None = None,
        trigger: str | None = None,
    ) -> None:
        hub = await self.hub(interaction)
        actor = (await load_context(interaction)).actor
        chosen = None
        if destination is not None:
            chosen = (await self._destination(interaction, destination))[1].id
        data = PreviewInput(destination=chosen, trigger=trigger)
        rendered = await ops.preview(actor, hub, data)
        await answer(interaction, rendered.content, embed=preview_embed(rendered))

    @set.autocomplete("trigger")
    @preview.autocomplete("trigger")
    @safe_autocomplete
    async def trigger_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        needle = current.lower()
        choices = [
            app_commands.Choice(name=f"{view.label} ({view.key})"[:100], value=view.key)
            for view in ops.trigger_views(locale_of(interaction))
        ]
        return [c for c in choices if needle in c.name.lower()][:CHOICES]

    @test.autocomplete("destination")
    @disable.autocomplete("destination")
    @enable.autocomplete("destination")
    @preview.autocomplete("destination")
    @safe_autocomplete
    async def destination_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        context = await load_context(interaction)
        if context.hub is None:
            return []
        rows = await ops.destinations(context.actor, context.hub)
        needle = current.lower().lstrip("#")
        choices = []
        for row in rows:
            channel = (
                interaction.guild.get_channel(row.channel_id or 0) if interaction.guild else None
            )
            place = f"#{channel.name}" if channel else where(interaction, row)
            name = f"#{row.id} · {trigger_label(interaction, row.trigger)} · {place}"
            choices.append(app_commands.Choice(name=name[:100], value=str(row.id)))
        return [c for c in choices if needle in c.name.lower()][:CHOICES]


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(PostsCog(bot))
