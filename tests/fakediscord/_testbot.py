"""A small discord.py bot that exercises what the emulator must support."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

log = logging.getLogger(__name__)

TIMEZONES = ["Europe/Berlin", "Europe/London", "America/Chicago", "Asia/Tokyo"]


class AcceptButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"offer:(?P<id>[0-9]+):accept"
):
    """A persistent button: the record id lives in the custom_id, so it survives restarts."""

    def __init__(self, record_id: int) -> None:
        button: discord.ui.Button[Any] = discord.ui.Button(
            label="Accept", style=discord.ButtonStyle.success, custom_id=f"offer:{record_id}:accept"
        )
        super().__init__(button)
        self.record_id = record_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> AcceptButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"offer {self.record_id} accepted by {interaction.user.name}"
        )


class ApplyModal(discord.ui.Modal, title="Apply to the VTC"):
    truck: discord.ui.TextInput[Any] = discord.ui.TextInput(label="Favourite truck", max_length=40)
    about: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="About you", style=discord.TextStyle.paragraph, required=False
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks, {self.truck.value} fan", ephemeral=True)


hub = app_commands.Group(name="hub", description="Drivers Hub commands")


@hub.command(name="info", description="Show the hub")
async def hub_info(interaction: discord.Interaction) -> None:
    guild_name = interaction.guild.name if interaction.guild else "DM"
    embed = discord.Embed(
        title=f"Hub of {guild_name}", description=f"locale {interaction.locale.value}"
    )
    await interaction.response.send_message(embed=embed)


@hub.command(name="secret", description="Something only you see")
async def hub_secret(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("for your eyes only", ephemeral=True)


@hub.command(name="apply", description="Apply to join")
async def hub_apply(interaction: discord.Interaction) -> None:
    await interaction.response.send_modal(ApplyModal())


@hub.command(name="offer", description="Post a job offer")
@app_commands.describe(record="Offer id")
async def hub_offer(interaction: discord.Interaction, record: int) -> None:
    view = discord.ui.View(timeout=None)
    view.add_item(AcceptButton(record))
    await interaction.response.send_message(f"Job offer {record}", view=view)


@hub.command(name="settings", description="Set your timezone")
@app_commands.describe(timezone="Your timezone")
async def hub_settings(interaction: discord.Interaction, timezone: str) -> None:
    await interaction.response.send_message(f"timezone set to {timezone}", ephemeral=True)


@hub_settings.autocomplete("timezone")
async def timezone_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    return [
        app_commands.Choice(name=zone, value=zone)
        for zone in TIMEZONES
        if current.lower() in zone.lower()
    ]


@hub.command(name="welcome", description="DM yourself a welcome")
async def hub_welcome(interaction: discord.Interaction) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        await interaction.user.send("Welcome to the hub!")
    except discord.Forbidden as exc:
        await interaction.followup.send(f"cannot DM you ({exc.code})", ephemeral=True)
        return
    await interaction.followup.send("sent you a DM", ephemeral=True)


@app_commands.command(name="promote", description="Give a member a role")
@app_commands.describe(member="Who", role="Which role")
@app_commands.default_permissions(manage_roles=True)
async def promote(
    interaction: discord.Interaction, member: discord.Member, role: discord.Role
) -> None:
    await member.add_roles(role)
    await interaction.response.send_message(f"{member.name} is now {role.name}")


@app_commands.command(name="ping", description="Ping with a count")
@app_commands.describe(count="How many")
async def ping(interaction: discord.Interaction, count: app_commands.Range[int, 1, 5] = 1) -> None:
    await interaction.response.send_message("pong " * count)


class HubBot(commands.Bot):
    """The test bot; `sync` controls whether setup_hook registers the commands."""

    def __init__(self, *, sync: bool = True, **options: Any) -> None:
        intents = discord.Intents.default()
        intents.members = True
        # A short guild_ready_timeout: the emulator sends every GUILD_CREATE right after READY.
        options.setdefault("guild_ready_timeout", 0.2)
        super().__init__(command_prefix="!", intents=intents, **options)
        self.sync_commands = sync
        self.joined: list[int] = []

    async def setup_hook(self) -> None:
        self.add_dynamic_items(AcceptButton)
        self.tree.add_command(hub)
        self.tree.add_command(ping)
        self.tree.add_command(promote)
        if self.sync_commands:
            await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Skip discord.py's 5 s pause between IDENTIFYs; the emulator has no identify limit."""

    async def on_member_join(self, member: discord.Member) -> None:
        self.joined.append(member.id)


class ShardedHubBot(commands.AutoShardedBot):
    async def setup_hook(self) -> None:
        self.tree.add_command(hub)
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No pause between shard logins in tests."""
