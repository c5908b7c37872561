"""/notifications: your latest unread notifications, and where they reach you.

The card is personal (ephemeral) and works anywhere: in a server and in DMs, and also for
someone banned from a hub (who reads the notice saying so). Its button and select are
persistent components whose state is the clicker, so they work after a restart too.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T  # noqa: N812 - the gettext-style marker
from discord.ext import commands

from bot.answer import answer, update
from bot.components import PersistentButton, PersistentSelect, custom_id
from bot.context import Context, load_context
from bot.i18n import locale_of, number, t
from bot.plugin import PluginCog
from models.actor import Actor
from models.i18n import N_
from models.notifications import center
from models.notifications.center import NotificationQuery, NotificationView, Preferences

log = logging.getLogger(__name__)

KEY = "notifications"
SHOWN = 10  # unread notifications on the card; the website lists them all
DESCRIPTION_LIMIT = 4096  # Discord's limit on an embed's description
OPTIONS_LIMIT = 25  # Discord's limit on a select's options
LABEL_LIMIT = 100  # Discord's limit on an option's label
COLOR = 0x5865F2


# The card


def _line(note: NotificationView) -> str:
    when = discord.utils.format_dt(note.created_at, "R")
    return f"**{note.title}** · {when}\n{note.body}".strip()


def _fit(lines: list[str]) -> str:
    """As many whole notifications as the description holds (the rest stay on the site)."""
    text = ""
    for line in lines:
        longer = f"{text}\n\n{line}" if text else line
        if len(longer) > DESCRIPTION_LIMIT - 2:
            return f"{text}\n…" if text else line[: DESCRIPTION_LIMIT - 1] + "…"
        text = longer
    return text


def card_embed(
    interaction: discord.Interaction, notes: list[NotificationView], unread: int
) -> discord.Embed:
    embed = discord.Embed(title=t(interaction, N_("Your notifications")), color=COLOR)
    if not notes:
        embed.description = t(interaction, N_("You have no unread notifications."))
        return embed
    embed.description = _fit([_line(note) for note in notes])
    embed.set_footer(
        text=t(
            interaction,
            N_("Latest {shown} of {count} unread"),
            shown=number(interaction, len(notes)),
            count=number(interaction, unread),
        )
    )
    return embed


def controls(interaction: discord.Interaction, prefs: Preferences, unread: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ReadAll(t(interaction, N_("Mark all read")), disabled=not unread))
    on = prefs.direct_messages
    label = N_("Turn direct messages off") if on else N_("Turn direct messages on")
    view.add_item(DmSwitch(turn_on=not on, label=t(interaction, label)))
    view.add_item(DmKinds(_options(prefs), t(interaction, _placeholder(on)), disabled=not on))
    return view


def _placeholder(dms_on: bool) -> str:
    if dms_on:
        return N_("Kinds of notifications you get as direct messages")
    return N_("Direct messages are off")


def _choosable(prefs: Preferences) -> list[center.KindPreference]:
    """The kinds a reader can choose for DMs (security notices are not theirs to mute)."""
    return [kind for kind in prefs.kinds if kind.mutable][:OPTIONS_LIMIT]


def _options(prefs: Preferences) -> list[discord.SelectOption]:
    return [
        discord.SelectOption(
            label=(kind.label or kind.kind)[:LABEL_LIMIT],
            value=kind.kind,
            default=kind.channels.discord,
        )
        for kind in _choosable(prefs)
    ]


async def card(
    interaction: discord.Interaction, actor: Actor
) -> tuple[discord.Embed, discord.ui.View]:
    """The reader's unread notifications and their DM choices, in their language."""
    locale = locale_of(interaction)
    query = NotificationQuery(unread=True, limit=SHOWN)
    page = await center.list_notifications(actor, query, locale)
    unread = await center.unread_count(actor)
    prefs = await center.preferences(actor, locale)
    return card_embed(interaction, page.items, unread), controls(interaction, prefs, unread)


async def _show_again(interaction: discord.Interaction, actor: Actor) -> None:
    embed, view = await card(interaction, actor)
    await update(interaction, embed=embed, view=view)


# Its components: about the clicker's own notifications, so no hub decides over them


class Personal:
    """A component of one's own card: usable in DMs, and in a hub one is banned from."""

    dm_allowed = True
    ephemeral_deferral = False  # they update the card they sit on

    async def admit(self, interaction: discord.Interaction) -> Context:
        return await load_context(interaction)


class ReadAll(Personal, PersistentButton, template=r"dh:notifications:read_all"):
    def __init__(self, label: str = "", *, disabled: bool = False) -> None:
        super().__init__(self.button(custom_id(KEY, "read_all"), label, disabled=disabled))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ReadAll:
        return cls()

    async def clicked(self, interaction: discord.Interaction, context: Context) -> None:
        await center.mark_all_read(context.actor)
        await _show_again(interaction, context.actor)


class DmSwitch(Personal, PersistentButton, template=r"dh:notifications:dms:(?P<on>[01])"):
    """Direct messages on or off as a whole (Discord's refusal turns them off by itself)."""

    def __init__(self, *, turn_on: bool, label: str = "") -> None:
        style = discord.ButtonStyle.success if turn_on else discord.ButtonStyle.secondary
        button = self.button(custom_id(KEY, "dms", int(turn_on)), label, style=style)
        super().__init__(button)
        self.turn_on = turn_on

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> DmSwitch:
        return cls(turn_on=match["on"] == "1")

    async def clicked(self, interaction: discord.Interaction, context: Context) -> None:
        change = center.PreferenceChange(
            kind=center.EVERY_KIND, channel="discord", enabled=self.turn_on
        )
        data = center.PreferencesInput(changes=[change])
        await center.set_preferences(context.actor, data, locale_of(interaction))
        await _show_again(interaction, context.actor)


class DmKinds(Personal, PersistentSelect, template=r"dh:notifications:dm_kinds"):
    """Which kinds reach the reader as direct messages; the others stay in-app."""

    def __init__(
        self,
        options: list[discord.SelectOption] | None = None,
        placeholder: str = "",
        *,
        disabled: bool = False,
    ) -> None:
        options = options or [discord.SelectOption(label="-", value="-")]
        select = discord.ui.Select(
            custom_id=custom_id(KEY, "dm_kinds"),
            options=options,
            placeholder=placeholder[:150] or None,
            min_values=0,
            max_values=len(options),
            disabled=disabled,
        )
        super().__init__(select)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> DmKinds:
        return cls()

    async def clicked(self, interaction: discord.Interaction, context: Context) -> None:
        locale = locale_of(interaction)
        chosen = set(self.values)
        prefs = await center.preferences(context.actor, locale)
        # Only what differs is stored: a kind left as it is keeps following its default.
        changes = [
            center.PreferenceChange(kind=kind.kind, channel="discord", enabled=kind.kind in chosen)
            for kind in _choosable(prefs)
            if kind.channels.discord != (kind.kind in chosen)
        ]
        if changes:
            data = center.PreferencesInput(changes=changes)
            await center.set_preferences(context.actor, data, locale)
        await _show_again(interaction, context.actor)


class NotificationsCog(PluginCog):
    __cog_is_app_commands_group__ = False  # discord.py: its commands stay top-level
    plugin = KEY
    dynamic_items = (ReadAll, DmSwitch, DmKinds)

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        # One's own notifications: no hub's switch or ban stands in the way (the tree has
        # loaded the context already).
        return True

    @app_commands.command(
        name=_T("notifications"),
        description=_T("Your latest notifications, and where they reach you"),
    )
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    @app_commands.allowed_installs(guilds=True, users=False)
    async def notifications(self, interaction: discord.Interaction) -> None:
        context = await load_context(interaction)
        embed, view = await card(interaction, context.actor)
        await answer(interaction, embed=embed, view=view)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(NotificationsCog(bot))
