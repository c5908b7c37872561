"""Persistent buttons and selects: they work after a restart and check the clicker every time.

A persistent component is a discord.py `DynamicItem`: its state lives in its custom id
(`dh:<plugin>:<action>:<id>`), so any process (a restarted one, another shard) can handle a
click on a message sent long ago. discord.py calls neither a view's `interaction_check` nor
its `on_error` for dynamic items and only logs their exceptions, leaving the click
unanswered; `HubItem.callback` therefore does all of it itself:

1. watch Discord's 3-second deadline (deferring when the work takes longer),
2. load the context and check the hub has the plugin on,
3. re-check the clicker's hub permission (a role may have been taken away since),
4. run `clicked`, and route any error through the one error policy (bot/errors.py).

Subclass with a `template` (a regex with named groups, e.g. `dh:events:rsvp:(?P<event>[0-9]+)`),
implement `from_custom_id` (parse only: it must not raise or do I/O) and `clicked`, and
register the class with `bot.add_dynamic_items` (PluginCog does it for `dynamic_items`).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, TypeVar

import discord

from bot.answer import deadline
from bot.context import Context, load_context
from bot.errors import handle_error
from models import plugins
from models.errors import DomainError
from models.i18n import N_

BaseT = TypeVar("BaseT", bound=discord.ui.Item[Any])
# Discord's custom ids are at most 100 characters.
CUSTOM_ID_LIMIT = 100
PREFIX = "dh"
_DM_REFUSAL = N_("This command only works in a server.")


def custom_id(plugin: str, action: str, *parts: object) -> str:
    """A persistent custom id: custom_id("events", "rsvp", 42) is "dh:events:rsvp:42"."""
    value = ":".join([PREFIX, plugin, action, *(str(part) for part in parts)])
    if len(value) > CUSTOM_ID_LIMIT:
        raise ValueError(f"custom id {value!r} is longer than {CUSTOM_ID_LIMIT} characters")
    return value


class HubItem(discord.ui.DynamicItem[BaseT], template=r"(?!)"):
    """The base of every persistent component; see the module docstring.

    Class attributes a subclass sets:
    - `plugin`: the registry key whose on/off switch gates the component (None: platform).
    - `permission`: the hub permission the clicker needs (None: anyone in the hub).
    - `ephemeral_deferral`: when the deadline forces a deferral, show an ephemeral
      "thinking…" (True, for handlers that `answer`) or defer an update of the message
      (False, for handlers that `update` it).
      A handler that `update`s must set False: after a "thinking…" deferral the
      message cannot be reached.
    - `watches_deadline`: False for a component that opens a modal, which must be the first
      answer (a forced deferral would rule it out); such a handler must be quick.
    - `dm_allowed`: the component may be clicked in a DM (no hub, so no plugin or
      permission to check: such a component declares neither).
    """

    plugin: ClassVar[str | None] = None
    permission: ClassVar[str | None] = None
    ephemeral_deferral: ClassVar[bool] = True
    watches_deadline: ClassVar[bool] = True
    dm_allowed: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.dm_allowed and (cls.plugin or cls.permission):
            raise TypeError(f"{cls.__name__}: a DM has no hub to check plugin or permission in")

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        # discord.py leaves the click unanswered when this is False: every check runs in
        # `callback` instead, where a refusal can be answered.
        return True

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        if not self.watches_deadline:
            await self._run(interaction)
            return
        async with deadline(interaction, ephemeral=self.ephemeral_deferral):
            await self._run(interaction)

    async def _run(self, interaction: discord.Interaction) -> None:
        try:
            context = await self.admit(interaction)
            await self.clicked(interaction, context)
        except Exception as exc:  # the one error policy answers every failure
            await handle_error(interaction, exc)

    async def admit(self, interaction: discord.Interaction) -> Context:
        """The clicker's context once the plugin and permission checks passed."""
        context = await load_context(interaction)
        if context.hub is None:
            if not self.dm_allowed:
                raise DomainError(_DM_REFUSAL, code="guild_only")
            return context
        await plugins.enter(context.actor, context.hub, self.plugin, self.permission, write=True)
        return context

    async def clicked(self, interaction: discord.Interaction, context: Context) -> None:
        raise NotImplementedError

    @classmethod
    def match_int(cls, match: re.Match[str], group: str) -> int:
        """A numeric group of the template (the template guarantees digits)."""
        return int(match[group])


class PersistentButton(HubItem[discord.ui.Button[Any]], template=r"(?!)"):
    """A persistent button: build it with `button(...)`, subclass with a template."""

    @staticmethod
    def button(
        custom_id: str,
        label: str,
        *,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        emoji: str | None = None,
        disabled: bool = False,
    ) -> discord.ui.Button[Any]:
        return discord.ui.Button(
            label=label[:80], custom_id=custom_id, style=style, emoji=emoji, disabled=disabled
        )


class PersistentSelect(HubItem[discord.ui.Select[Any]], template=r"(?!)"):
    """A persistent string select; `self.item.values` holds what the clicker chose."""

    @property
    def values(self) -> list[str]:
        return self.item.values
