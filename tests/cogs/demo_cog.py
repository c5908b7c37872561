"""A test-only package using the whole interaction foundation (registered by its tests)."""

from __future__ import annotations

import asyncio
import sys
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands
from pydantic import BaseModel, ConfigDict, Field

from bot.answer import answer, open_modal, update
from bot.components import PersistentButton, PersistentSelect, custom_id
from bot.context import Context
from bot.modals import Choice, FormField, FormModal
from bot.plugin import PluginCog
from bot.staff import staff
from models.errors import Invalid
from models.i18n import N_
from models.permissions import Permission

KEY = "demo"
# Kept outside this module: discord.py loads an extension as a fresh module object.
SUBMISSIONS: list[BaseModel] = sys.modules[__name__.rsplit(".", 1)[0]].__dict__.setdefault(
    "demo_submissions", []
)


class DemoForm(BaseModel):
    """The schema both the API and the modal would validate with."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=20)
    distance: int = Field(ge=1, le=5000)
    game: Literal["ets2", "ats"]
    cargo: list[Literal["wood", "steel", "food"]] = Field(min_length=1)
    safe: bool = False


FORM = (
    FormField("name", "Name", max_length=40),
    FormField("distance", "Distance (km)", placeholder="1200"),
    FormField(
        "game",
        "Game",
        "radio",
        choices=(
            Choice("ets2", "Euro Truck Simulator 2"),
            Choice("ats", "American Truck Simulator"),
        ),
    ),
    FormField(
        "cargo",
        "Cargo",
        "checkboxes",
        choices=(Choice("wood", "Wood"), Choice("steel", "Steel"), Choice("food", "Food")),
    ),
    FormField("safe", "I drive safely", "checkbox", required=False),
)


class Bump(PersistentButton, template=r"dh:demo:bump:(?P<count>[0-9]+)"):
    """A counter on a public message; staff with manage_hub may bump it, also after restarts."""

    plugin = KEY
    permission = Permission.MANAGE_HUB
    ephemeral_deferral = False

    def __init__(self, count: int) -> None:
        super().__init__(self.button(custom_id(KEY, "bump", count), f"Bump ({count})"))
        self.count = count

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item, match
    ) -> Bump:
        return cls(cls.match_int(match, "count"))

    async def clicked(self, interaction: discord.Interaction, context: Context) -> None:
        await update(interaction, content=f"Bumped to {self.count + 1}", view=board(self.count + 1))


class Colour(PersistentSelect, template=r"dh:demo:colour"):
    """A select anyone in the hub may use."""

    plugin = KEY

    def __init__(self) -> None:
        options = [discord.SelectOption(label=name, value=name) for name in ("red", "blue")]
        super().__init__(discord.ui.Select(custom_id=custom_id(KEY, "colour"), options=options))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item, match
    ) -> Colour:
        return cls()

    async def clicked(self, interaction: discord.Interaction, context: Context) -> None:
        await answer(interaction, f"Picked {self.values[0]}")


def board(count: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(Bump(count))
    view.add_item(Colour())
    return view


@app_commands.guild_only()
class DemoCog(PluginCog, group_name="demo", group_description="Try the foundation"):
    plugin = KEY
    dynamic_items = (Bump, Colour)

    @app_commands.command(name="form", description="Fill in a form")
    async def form(self, interaction: discord.Interaction) -> None:
        await self.hub(interaction)

        async def saved(interaction: discord.Interaction, form: DemoForm) -> None:
            SUBMISSIONS.append(form)
            await answer(interaction, f"Saved {form.name}: {form.distance} km")

        modal = FormModal(
            interaction, title="Your job", fields=FORM, schema=DemoForm, on_valid=saved
        )
        await open_modal(interaction, modal)

    @app_commands.command(name="board", description="Post a counter", extras={"public": True})
    async def board(self, interaction: discord.Interaction) -> None:
        await self.hub(interaction)
        await answer(interaction, "Count: 0", view=board(0), ephemeral=False)

    @app_commands.command(name="slow", description="Take longer than Discord waits")
    async def slow(self, interaction: discord.Interaction) -> None:
        await self.hub(interaction)
        await asyncio.sleep(2.4)
        await answer(interaction, "Done at last")

    @app_commands.command(
        name="announce", description="Slowly fail in public", extras={"public": True}
    )
    async def announce(self, interaction: discord.Interaction) -> None:
        await self.hub(interaction)
        await asyncio.sleep(2.3)  # the deadline defers publicly ("thinking…" for everyone)
        raise Invalid(N_("The request is not valid."))


@staff("manage_events")
class DemoStaffCog(PluginCog, group_name="demo-admin", group_description="Run the demo"):
    plugin = KEY

    @app_commands.command(
        name="reset", description="Reset the demo", extras={"permission": Permission.MANAGE_HUB}
    )
    async def reset(self, interaction: discord.Interaction) -> None:
        await self.hub(interaction)
        await answer(interaction, N_("Settings saved."))


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(DemoCog(bot))
    await bot.add_cog(DemoStaffCog(bot))
