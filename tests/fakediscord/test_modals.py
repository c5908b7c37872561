"""Modal submits and select picks carry what Discord sends, and discord.py parses them."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from discord import app_commands, ui
from discord.ext import commands

from . import FakeDiscord, ScenarioError
from .fixtures import running_bot
from .responses import ResponseChecker

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.backend_independent]


def _options(*names: str) -> list[tuple[str, str]]:
    return [(name, name.lower()) for name in names]


class DeliveryModal(ui.Modal, title="Delivery report"):
    truck: ui.Label[Any] = ui.Label(
        text="Truck", component=ui.TextInput(min_length=2, max_length=20, custom_id="truck")
    )
    cargo: ui.Label[Any] = ui.Label(
        text="Cargo",
        component=ui.Select(
            custom_id="cargo",
            max_values=2,
            options=[discord.SelectOption(label=n, value=v) for n, v in _options("Steel", "Wood")],
        ),
    )
    route: ui.Label[Any] = ui.Label(
        text="Route",
        component=ui.RadioGroup(
            custom_id="route",
            options=[
                discord.RadioGroupOption(label=n, value=v) for n, v in _options("Short", "Long")
            ],
        ),
    )
    extras: ui.Label[Any] = ui.Label(
        text="Extras",
        component=ui.CheckboxGroup(
            custom_id="extras",
            required=False,
            max_values=2,
            options=[
                discord.CheckboxGroupOption(label=n, value=v)
                for n, v in _options("Fridge", "Escort", "Night")
            ],
        ),
    )
    damaged: ui.Label[Any] = ui.Label(text="Damaged", component=ui.Checkbox(custom_id="damaged"))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.truck.component, ui.TextInput)
        assert isinstance(self.cargo.component, ui.Select)
        assert isinstance(self.route.component, ui.RadioGroup)
        assert isinstance(self.extras.component, ui.CheckboxGroup)
        assert isinstance(self.damaged.component, ui.Checkbox)
        seen(interaction).update(
            truck=self.truck.component.value,
            cargo=self.cargo.component.values,
            route=self.route.component.value,
            extras=self.extras.component.values,
            damaged=self.damaged.component.value,
        )
        await interaction.response.send_message("report filed", ephemeral=True)


class ProofModal(ui.Modal, title="Proof of delivery"):
    proof: ui.Label[Any] = ui.Label(
        text="Proof", component=ui.FileUpload(custom_id="proof", max_values=2)
    )
    driver: ui.Label[Any] = ui.Label(
        text="Co-driver", component=ui.UserSelect(custom_id="driver", required=True)
    )
    depot: ui.Label[Any] = ui.Label(
        text="Depot",
        component=ui.ChannelSelect(
            custom_id="depot", required=True, channel_types=[discord.ChannelType.text]
        ),
    )
    team: ui.Label[Any] = ui.Label(
        text="Team", component=ui.RoleSelect(custom_id="team", required=False)
    )
    speed: ui.Label[Any] = ui.Label(
        text="Speed",
        component=ui.RadioGroup(
            custom_id="speed",
            required=False,
            options=[
                discord.RadioGroupOption(label=n, value=v) for n, v in _options("Slow", "Fast")
            ],
        ),
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.proof.component, ui.FileUpload)
        assert isinstance(self.driver.component, ui.UserSelect)
        assert isinstance(self.depot.component, ui.ChannelSelect)
        assert isinstance(self.team.component, ui.RoleSelect)
        assert isinstance(self.speed.component, ui.RadioGroup)
        seen(interaction).update(
            files=[(a.filename, a.size, a.content_type) for a in self.proof.component.values],
            driver=self.driver.component.values,
            depot=self.depot.component.values,
            team=self.team.component.values,
            speed=self.speed.component.value,
        )
        await interaction.response.send_message("proof received", ephemeral=True)


class PickView(ui.View):
    """Selects in a message: user/role/channel picks arrive with `resolved`."""

    @ui.select(cls=ui.UserSelect, custom_id="pick-driver", max_values=2)
    async def driver(self, interaction: discord.Interaction, select: ui.UserSelect[Any]) -> None:
        seen(interaction)["picked"] = select.values
        await interaction.response.send_message("picked", ephemeral=True)

    @ui.select(cls=ui.RoleSelect, custom_id="pick-role")
    async def role(self, interaction: discord.Interaction, select: ui.RoleSelect[Any]) -> None:
        seen(interaction)["picked"] = select.values
        await interaction.response.send_message("picked", ephemeral=True)

    @ui.select(cls=ui.ChannelSelect, custom_id="pick-channel")
    async def channel(
        self, interaction: discord.Interaction, select: ui.ChannelSelect[Any]
    ) -> None:
        seen(interaction)["picked"] = select.values
        await interaction.response.send_message("picked", ephemeral=True)

    @ui.select(custom_id="pick-size", options=[discord.SelectOption(label="Big", value="big")])
    async def size(self, interaction: discord.Interaction, select: ui.Select[Any]) -> None:
        seen(interaction)["picked"] = select.values
        await interaction.response.send_message("picked", ephemeral=True)


@app_commands.command(name="deliver", description="Report a delivery")
async def deliver(interaction: discord.Interaction) -> None:
    await interaction.response.send_modal(DeliveryModal())


@app_commands.command(name="proof", description="Upload a proof")
async def proof(interaction: discord.Interaction) -> None:
    await interaction.response.send_modal(ProofModal())


@app_commands.command(name="pick", description="Pick things")
async def pick(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("pick one", view=PickView())


class ModalBot(commands.Bot):
    def __init__(self) -> None:
        intents = discord.Intents.default()
        intents.members = True
        super().__init__(command_prefix="!", intents=intents, guild_ready_timeout=0.2)
        self.seen: dict[str, Any] = {}

    async def setup_hook(self) -> None:
        for command in (deliver, proof, pick):
            self.tree.add_command(command)
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No pause between logins in tests."""


def seen(interaction: discord.Interaction) -> dict[str, Any]:
    client = interaction.client
    assert isinstance(client, ModalBot)
    return client.seen


async def test_label_components_arrive_parsed(fake_discord: FakeDiscord) -> None:
    alice = fake_discord.user("alice")
    guild = fake_discord.guild("Test VTC")
    guild.add_member(alice)
    async with running_bot(ModalBot(), fake_discord) as bot:
        form = await alice.run("deliver", guild=guild)
        done = await alice.submit_modal(
            form, truck="Scania R", cargo=["steel", "Wood"], route="Long", extras=["fridge"],
            damaged=True,
        )  # fmt: skip
        assert done.content == "report filed"
        assert bot.seen == {
            "truck": "Scania R",
            "cargo": ["steel", "wood"],  # by value or by label
            "route": "long",
            "extras": ["fridge"],
            "damaged": True,
        }
        with pytest.raises(ScenarioError, match="already submitted"):
            await alice.submit_modal(form, truck="DAF", cargo="wood", route="short")
        # Optional and defaulted fields may be left alone.
        form = await alice.run("deliver", guild=guild)
        await alice.submit_modal(form, truck="DAF", cargo="wood", route="short")
        assert bot.seen["extras"] == []
        assert bot.seen["damaged"] is False
    submitted = fake_discord.interactions.by_id
    last = max(submitted.values(), key=lambda interaction: interaction.id)
    label = last.data["components"][2]
    assert label["type"] == 18
    route = {"type": 21, "id": label["id"] + 1, "custom_id": "route", "value": "short"}
    assert label["component"] == route


async def test_user_channel_role_selects_and_files_are_resolved(fake_discord: FakeDiscord) -> None:
    alice, bob = fake_discord.user("alice"), fake_discord.user("bob")
    guild = fake_discord.guild("Test VTC", channels=("general", "depot"))
    guild.add_member(alice)
    guild.add_member(bob, nick="Bobby")
    team = guild.create_role("Night shift")
    depot = guild.channel("depot")
    async with running_bot(ModalBot(), fake_discord) as bot:
        form = await alice.run("proof", guild=guild)
        await alice.submit_modal(
            form,
            proof=[("report.txt", b"delivered 20 t"), ("photo.png", b"\x89PNG")],
            co_driver=bob,
            depot=depot,
        )
        assert bot.seen["files"] == [
            ("report.txt", 14, "text/plain"),
            ("photo.png", 4, "image/png"),
        ]
        (driver,) = bot.seen["driver"]
        assert isinstance(driver, discord.Member)
        assert (driver.id, driver.nick) == (bob.id, "Bobby")
        assert [channel.id for channel in bot.seen["depot"]] == [depot.id]
        assert bot.seen["team"] == []
        assert bot.seen["speed"] is None  # optional radio group left empty

        form = await alice.run("proof", guild=guild)
        await alice.submit_modal(
            form, proof=("a.txt", b"x"), driver=bob, depot=depot, team=team, speed="fast"
        )
        assert [role.name for role in bot.seen["team"]] == ["Night shift"]
        assert bot.seen["speed"] == "fast"
    # The resolved users, members, roles and attachments are shaped as Discord's spec says.
    checker = ResponseChecker(fake_discord.spec)
    sent = [frame for s in fake_discord.gateway.sessions.values() for frame in s.sent]
    submits = [f["d"] for f in sent if f["t"] == "INTERACTION_CREATE" and f["d"]["type"] == 5]
    assert [set(submit["data"]["resolved"]) for submit in submits] == [
        {"attachments", "users", "members", "channels"},
        {"attachments", "users", "members", "channels", "roles"},
    ]
    problems = [v for d in submits for v in checker.check_dispatch("INTERACTION_CREATE", d)]
    assert problems == []


async def test_modal_input_is_validated_like_the_discord_client(
    fake_discord: FakeDiscord,
) -> None:
    alice = fake_discord.user("alice")
    guild = fake_discord.guild("Test VTC")
    guild.add_member(alice)
    valid = {"truck": "DAF", "cargo": "wood", "route": "short"}
    wrong: list[tuple[dict[str, Any], str]] = [
        ({"route": "sideways"}, "not an option of 'Route'"),
        ({"route": None}, "'Route' is required"),
        ({"cargo": "fuel"}, "not an option of 'Cargo'"),
        ({"cargo": ["steel", "wood", "steel"]}, "takes 1-2 values"),
        ({"truck": "X"}, "must be 2-20 characters"),
        ({"truck": ""}, "'Truck' is required"),
        ({"extras": ["fridge", "escort", "night"]}, "takes 1-2 values"),
        ({"damaged": "yes"}, "takes True or False"),
        ({"colour": "red"}, "no fields"),
    ]
    async with running_bot(ModalBot(), fake_discord):
        form = await alice.run("deliver", guild=guild)
        for change, message in wrong:
            with pytest.raises(ScenarioError, match=message):
                await alice.submit_modal(form, {**valid, **change})
        with pytest.raises(ScenarioError, match="'Route' is required"):
            await alice.submit_modal(form, truck="DAF", cargo="wood")

        proof_form = await alice.run("proof", guild=guild)
        general = guild.default_channel
        with pytest.raises(ScenarioError, match="'Proof' takes 1-2 values"):
            await alice.submit_modal(proof_form, driver=alice, depot=general)
        with pytest.raises(ScenarioError, match="takes \\(filename, bytes\\)"):
            await alice.submit_modal(proof_form, proof="a.txt", driver=alice, depot=general)
        with pytest.raises(ScenarioError, match="cannot pick"):
            await alice.submit_modal(proof_form, proof=("a", b""), driver=general, depot=general)


async def test_selects_in_messages_send_resolved_entities(fake_discord: FakeDiscord) -> None:
    alice, bob = fake_discord.user("alice"), fake_discord.user("bob")
    guild = fake_discord.guild("Test VTC")
    guild.add_member(alice)
    guild.add_member(bob)
    role = guild.create_role("Dispatcher")
    async with running_bot(ModalBot(), fake_discord) as bot:
        menu = await alice.run("pick", guild=guild)
        await alice.click(menu, "pick-driver", values=[bob, alice])
        assert {member.id for member in bot.seen["picked"]} == {bob.id, alice.id}
        assert all(isinstance(member, discord.Member) for member in bot.seen["picked"])
        await alice.click(menu, "pick-role", values=[role])
        assert [picked.name for picked in bot.seen["picked"]] == ["Dispatcher"]
        await alice.click(menu, "pick-channel", values=[guild.default_channel])
        assert [picked.id for picked in bot.seen["picked"]] == [guild.default_channel.id]
        await alice.click(menu, "pick-size", values=["Big"])
        assert bot.seen["picked"] == ["big"]
        with pytest.raises(ScenarioError, match="not an option"):
            await alice.click(menu, "pick-size", values=["huge"])
        with pytest.raises(ScenarioError, match="cannot pick"):
            await alice.click(menu, "pick-role", values=[bob])
