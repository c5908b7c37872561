"""Request validation: Discord's rules run first and every refusal names the offending field."""

from __future__ import annotations

import asyncio
import datetime
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio

from . import FakeDiscord, ScenarioError
from . import emulator as emulator_module
from ._testbot import HubBot
from .fixtures import running_bot
from .rules import (
    IS_COMPONENTS_V2,
    check_callback,
    check_commands,
    check_message,
    check_modal,
    command_length,
)
from .scenario import Interaction, _check_visible
from .spec import OpenAPISpec, Violation

pytestmark = [pytest.mark.backend_independent]
session_loop = pytest.mark.asyncio(loop_scope="session")  # the emulator fixture's loop
CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"
MESSAGES = "/channels/{channel_id}/messages"
OK = (200, 204)  # a callback without ?with_response answers 204
V2 = IS_COMPONENTS_V2


def paths(violations: list[Violation]) -> list[str]:
    return [violation.path for violation in violations]


def button(label: str = "Go", custom_id: str | None = "go", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"type": 2, "style": 1, "label": label, **extra}
    if custom_id is not None:
        data["custom_id"] = custom_id
    return data


def row(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(components)}


def select(**extra: Any) -> dict[str, Any]:
    options = [{"label": f"Option {i}", "value": f"v{i}"} for i in range(3)]
    return {"type": 3, "custom_id": "pick", "options": options, **extra}


def text_display(content: str = "Hello") -> dict[str, Any]:
    return {"type": 10, "content": content}


def text_input(**extra: Any) -> dict[str, Any]:
    return {"type": 4, "custom_id": "truck", "style": 1, **extra}


def modal(*components: dict[str, Any], **extra: Any) -> dict[str, Any]:
    top = list(components) or [{"type": 18, "label": "Truck", "component": text_input()}]
    return {"custom_id": "form", "title": "Your truck", "components": top, **extra}


def command(**extra: Any) -> dict[str, Any]:
    return {"name": "hub", "description": "The hub", "type": 1, **extra}


# -- order and paths ----------------------------------------------------------------------------


def test_callback_message_rules_report_under_data() -> None:
    body = {"type": 4, "data": {"embeds": [{"title": "t" * 257}]}}
    assert [str(v) for v in check_callback(body)] == ["$.data.embeds[0].title: longer than 256"]


def test_rules_leave_wrong_types_to_the_schema() -> None:
    assert check_message({"embeds": [{"title": 5}], "components": "x", "flags": "y"}) == []
    assert check_message([1, 2]) == []
    # Components that are not objects do not count, so only their number is reported.
    assert paths(check_modal({"components": [5], "title": 7})) == ["$.data.components"]
    assert check_commands([5, {"name": "hub", "description": "d", "options": "x"}]) == []


# -- legacy components --------------------------------------------------------------------------


def test_at_most_five_action_rows() -> None:
    rows = [row(button(custom_id=f"b{i}")) for i in range(6)]
    assert paths(check_message({"components": rows})) == ["$.components[5]"]
    assert check_message({"components": rows[:5]}) == []


def test_at_most_five_buttons_per_row() -> None:
    buttons = [button(custom_id=f"b{i}") for i in range(6)]
    violations = check_message({"components": [row(*buttons)]})
    assert [str(v) for v in violations] == [
        "$.components[0].components[5]: 6 buttons in a row, at most 5"
    ]


def test_a_select_takes_a_whole_row() -> None:
    violations = check_message({"components": [row(button(), select())]})
    assert paths(violations) == ["$.components[0].components[1]"]
    assert check_message({"components": [row(select()), row(button())]}) == []


def test_custom_ids_are_unique_and_at_most_100_characters() -> None:
    twice = [row(button(custom_id="same"), button(custom_id="same"))]
    (violation,) = check_message({"components": twice})
    assert violation.path == "$.components[0].components[1].custom_id"
    assert "$.components[0].components[0]" in violation.message
    long_id = [row(button(custom_id="x" * 101))]
    assert paths(check_message({"components": long_id})) == [
        "$.components[0].components[0].custom_id"
    ]


def test_link_buttons_need_a_url_and_no_custom_id() -> None:
    link = {"type": 2, "style": 5, "label": "Docs", "custom_id": "docs"}
    assert sorted(paths(check_message({"components": [row(link)]}))) == [
        "$.components[0].components[0].custom_id",
        "$.components[0].components[0].url",
    ]
    good = {"type": 2, "style": 5, "label": "Docs", "url": "https://example.com"}
    assert check_message({"components": [row(good)]}) == []


def test_other_buttons_need_a_custom_id_and_no_url() -> None:
    bad = button(custom_id=None, url="https://example.com")
    assert sorted(paths(check_message({"components": [row(bad)]}))) == [
        "$.components[0].components[0].custom_id",
        "$.components[0].components[0].url",
    ]


def test_button_label_at_most_80_characters() -> None:
    violations = check_message({"components": [row(button(label="l" * 81))]})
    assert paths(violations) == ["$.components[0].components[0].label"]
    assert check_message({"components": [row(button(label="l" * 80))]}) == []


def option(label: str = "l", value: str = "v", **extra: Any) -> dict[str, Any]:
    return {"label": label, "value": value, **extra}


TOO_MANY_OPTIONS = [option(f"o{i}", f"v{i}") for i in range(26)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"options": []}, "options"),
        ({"options": TOO_MANY_OPTIONS}, "options"),
        ({"options": [option(label="l" * 101)]}, "options[0].label"),
        ({"options": [option(value="v" * 101)]}, "options[0].value"),
        ({"options": [option(description="d" * 101)]}, "options[0].description"),
        ({"options": [option("a"), option("b")]}, "options[1].value"),
        ({"placeholder": "p" * 151}, "placeholder"),
        ({"min_values": 26, "max_values": 3}, "min_values"),
        ({"max_values": 26}, "max_values"),
        ({"max_values": 4}, "max_values"),
        ({"min_values": 3, "max_values": 2}, "min_values"),
    ],
)
def test_string_select_limits(change: dict[str, Any], field: str) -> None:
    violations = check_message({"components": [row(select(**change))]})
    assert f"$.components[0].components[0].{field}" in paths(violations)


def test_a_good_string_select_passes() -> None:
    assert check_message({"components": [row(select(min_values=0, max_values=3))]}) == []


def test_top_level_v2_components_need_the_flag() -> None:
    violations = check_message({"components": [text_display()]})
    assert paths(violations) == ["$.components[0].type"]
    assert "IS_COMPONENTS_V2" in violations[0].message


# -- Components V2 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [("content", "hi"), ("embeds", [{"title": "t"}]), ("sticker_ids", [1]), ("poll", {"q": 1})],
)
def test_v2_messages_have_no_content_embeds_stickers_or_poll(key: str, value: Any) -> None:
    body = {"flags": V2, "components": [text_display()], key: value}
    assert paths(check_message(body)) == [f"$.{key}"]


def _nested(count: int) -> list[dict[str, Any]]:
    """`count` components: a container holding a section (text + accessory) and texts."""
    section = {"type": 9, "components": [text_display()], "accessory": button()}
    inner = [section, *(text_display() for _ in range(count - 4))]
    return [{"type": 17, "components": inner}]  # container + section + text + button = 4


def test_v2_counts_nested_components_up_to_40() -> None:
    assert check_message({"flags": V2, "components": _nested(40)}) == []
    (violation,) = check_message({"flags": V2, "components": _nested(41)})
    assert violation.path == "$.components"
    assert "41 components" in violation.message


def test_v2_text_displays_total_at_most_4000_characters() -> None:
    texts = [text_display("x" * 2000), text_display("y" * 2000)]
    assert check_message({"flags": V2, "components": texts}) == []
    container = {"type": 17, "components": [text_display("z")]}
    (violation,) = check_message({"flags": V2, "components": [*texts, container]})
    assert violation.path == "$.components"
    assert "4001" in violation.message


def test_v2_rows_and_buttons_follow_the_same_rules() -> None:
    container = {"type": 17, "components": [row(button(label="l" * 81))]}
    assert paths(check_message({"flags": V2, "components": [container]})) == [
        "$.components[0].components[0].components[0].label"
    ]


# -- modals -------------------------------------------------------------------------------------


def labelled(label: str = "L", **text_input_changes: Any) -> dict[str, Any]:
    return {"type": 18, "label": label, "component": text_input(**text_input_changes)}


SIX_ROWS = [row(text_input(label="T", custom_id=f"t{i}")) for i in range(6)]
TWO_INPUTS_IN_A_ROW = row(text_input(label="A", custom_id="a"), text_input(label="B"))
INPUT = "components[0].component"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"components": []}, "components"),
        ({"components": SIX_ROWS}, "components"),
        ({"title": "t" * 46}, "title"),
        ({"title": ""}, "title"),
        ({"custom_id": "c" * 101}, "custom_id"),
        ({"components": [labelled("l" * 46)]}, "components[0].label"),
        ({"components": [{**labelled(), "description": "d" * 101}]}, "components[0].description"),
        ({"components": [labelled(min_length=4001)]}, f"{INPUT}.min_length"),
        ({"components": [labelled(max_length=4001)]}, f"{INPUT}.max_length"),
        ({"components": [labelled(min_length=9, max_length=5)]}, f"{INPUT}.min_length"),
        ({"components": [labelled(value="v" * 4001)]}, f"{INPUT}.value"),
        ({"components": [labelled(placeholder="p" * 101)]}, f"{INPUT}.placeholder"),
        ({"components": [TWO_INPUTS_IN_A_ROW]}, "components[0].components"),
        ({"components": [row(text_input())]}, "components[0].components[0].label"),
    ],
)
def test_modal_limits(data: dict[str, Any], field: str) -> None:
    assert f"$.data.{field}" in paths(check_modal(modal(**data)))


def test_good_modals_pass_including_legacy_rows_of_text_inputs() -> None:
    assert check_modal(modal()) == []
    legacy = [row(text_input(label=f"Field {i}", custom_id=f"f{i}")) for i in range(5)]
    assert check_modal(modal(*legacy)) == []
    assert check_callback({"type": 9, "data": modal(*legacy)}) == []


# -- the schema: formats and unions by type -----------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> OpenAPISpec:
    return OpenAPISpec.load()


@pytest.mark.parametrize(
    ("embed", "field"),
    [
        ({"url": "not a uri"}, "url"),
        ({"url": "/relative/path"}, "url"),
        ({"url": "https://"}, "url"),
        ({"image": {"url": "example.com/a.png"}}, "image.url"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": "2024-01-01T00:00:00"}, "timestamp"),  # RFC 3339 needs an offset
        ({"timestamp": "2024-02-30T00:00:00Z"}, "timestamp"),
    ],
)
def test_uri_and_date_time_formats_are_enforced(
    spec: OpenAPISpec, embed: dict[str, Any], field: str
) -> None:
    violation = spec.validate("post", MESSAGES, {"embeds": [embed]})
    assert violation is not None
    assert violation.path == f"$.embeds[0].{field}"


def test_formats_discord_py_sends_pass(spec: OpenAPISpec) -> None:
    now = datetime.datetime.now(datetime.UTC)
    embed = discord.Embed(title="t", url="https://example.com/ä?x=1", timestamp=now)
    embed.set_image(url="attachment://map.png")
    assert spec.validate("post", MESSAGES, {"embeds": [embed.to_dict()]}) is None
    stamp = {"timestamp": "2024-06-30T23:59:60.5+02:00"}  # a leap second, an offset
    assert spec.validate("post", MESSAGES, {"embeds": [stamp]}) is None


ROW_0 = "$.data.components[0].components"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": 9, "data": {"custom_id": "m", "title": 5, "components": []}}, "$.data.title"),
        ({"type": 4, "data": {"embeds": [{"title": 5}]}}, "$.data.embeds[0].title"),
        ({"type": 7, "data": {"components": [row(button(label=5))]}}, f"{ROW_0}[0].label"),
        ({"type": 99}, "$.type"),
    ],
)
def test_callback_schema_errors_come_from_the_branch_of_its_type(
    spec: OpenAPISpec, body: dict[str, Any], field: str
) -> None:
    violation = spec.validate("post", CALLBACK, body)
    assert violation is not None
    assert violation.path == field
    assert "any of the given schemas" not in violation.message


def test_component_union_errors_name_the_field(spec: OpenAPISpec) -> None:
    container = {"type": 17, "components": [{"type": 10, "content": 5}]}
    violation = spec.validate("post", MESSAGES, {"flags": V2, "components": [container]})
    assert violation is not None
    assert violation.path == "$.components[0].components[0].content"


# -- commands -----------------------------------------------------------------------------------


def test_localizations_use_discord_locales_only() -> None:
    choice = {"name": "Europe", "value": "eu", "name_localizations": {"german": "Europa"}}
    option = {
        "type": 3,
        "name": "region",
        "description": "Region",
        "description_localizations": {"de-DE": "Region"},
        "choices": [choice],
    }
    payload = [command(name_localizations={"de": "hub", "xx": "hub"}, options=[option])]
    assert sorted(paths(check_commands(payload))) == [
        "$[0].name_localizations.xx",
        "$[0].options[0].choices[0].name_localizations.german",
        "$[0].options[0].description_localizations.de-DE",
    ]


def _long_command(choice_name_de: str) -> dict[str, Any]:
    choices = [
        {"name": f"c{i}", "value": str(i), "name_localizations": {"de": choice_name_de}}
        for i in range(25)
    ]
    options = [
        {"type": 3, "name": f"o{n}", "description": "Pick", "choices": choices} for n in range(2)
    ]
    return command(options=options)


def test_command_total_length_counts_the_longest_locale() -> None:
    short, long = _long_command("kurz"), _long_command("l" * 100)
    assert command_length(short) < 4000 < command_length(long)
    assert check_commands([short]) == []
    (violation,) = check_commands([command(name="other"), long])
    assert violation.path == "$[1]"
    assert "/hub totals" in violation.message


@session_loop
async def test_default_member_permissions_zero_means_administrators_only(
    fake_discord: FakeDiscord,
) -> None:
    owner, alice, admin = (fake_discord.user(name) for name in ("owner", "alice", "admin"))
    guild = fake_discord.guild("Test VTC", owner=owner)
    staff = guild.create_role("Staff", permissions=1 << 3)
    members = {
        "owner": fake_discord.member(guild, owner),
        "alice": guild.add_member(alice),
        "admin": guild.add_member(admin, roles=[staff]),
    }
    for required in ("0", str(1 << 28)):  # nobody but admins; manage roles
        hidden = {"name": "secret", "default_member_permissions": required}
        with pytest.raises(ScenarioError, match="alice lacks"):
            _check_visible(hidden, guild, members["alice"])
        _check_visible(hidden, guild, members["owner"])
        _check_visible(hidden, guild, members["admin"])
    _check_visible({"name": "open", "default_member_permissions": None}, guild, members["alice"])


# -- through the HTTP server --------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def http(fake_discord: FakeDiscord) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bot {fake_discord.token}"}
    async with aiohttp.ClientSession(fake_discord.api_base + "/", headers=headers) as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, path: str, body: Any
) -> tuple[int, dict[str, Any]]:
    async with http.request(method, path.lstrip("/"), json=body) as response:
        payload = await response.json() if response.status != 204 else {}
        return response.status, payload


def _interaction(fake_discord: FakeDiscord) -> Interaction:
    """A pending command interaction, without a bot: the callback route only needs its token."""
    user, guild = fake_discord.user("alice"), fake_discord.guild("Test VTC")
    guild.add_member(user)
    interaction = Interaction(
        fake_discord,
        fake_discord.snowflakes.next(),
        secrets.token_urlsafe(16),
        2,
        user,
        guild,
        guild.default_channel,
        {"name": "hub"},
    )
    fake_discord.interactions.by_id[interaction.id] = interaction
    fake_discord.interactions.by_token[interaction.token] = interaction
    return interaction


@session_loop
async def test_http_limits_are_checked_before_the_schema(
    fake_discord: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    interaction = _interaction(fake_discord)
    url = f"interactions/{interaction.id}/{interaction.token}/callback"
    body = {"type": 4, "data": {"embeds": [{"title": "t" * 257}]}}  # the schema says 256 too
    status, payload = await call(http, "POST", url, body)
    assert (status, payload["code"]) == (400, 50035)
    assert "data" in payload["errors"]
    assert (await call(http, "POST", url, {"type": 4, "data": {"content": "ok"}}))[0] in OK
    (error,) = fake_discord.take_errors()  # answered after all, so only the refusal
    assert "$.data.embeds[0].title: longer than 256" in error
    assert "Discord's limits" in error


@session_loop
async def test_http_modal_errors_name_the_field(
    fake_discord: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    interaction = _interaction(fake_discord)
    url = f"interactions/{interaction.id}/{interaction.token}/callback"
    status, _ = await call(http, "POST", url, {"type": 9, "data": modal(title="t" * 46)})
    assert status == 400
    assert interaction.response_type is None  # refused, not answered
    status, _ = await call(http, "POST", url, {"type": 9, "data": modal()})
    assert status in OK
    assert interaction.modal is not None
    (error,) = fake_discord.take_errors()
    assert "$.data.title" in error


@session_loop
async def test_http_buttons_and_v2_messages(
    fake_discord: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    channel = fake_discord.guild("Test VTC").default_channel
    url = f"channels/{channel.id}/messages"
    buttons = [button(custom_id=f"b{i}") for i in range(6)]
    status, _ = await call(http, "POST", url, {"components": [row(*buttons)]})
    assert status == 400
    body = {"flags": V2, "content": "hi", "components": [text_display()]}
    status, _ = await call(http, "POST", url, body)
    assert status == 400
    first, second = fake_discord.take_errors()
    assert "$.components[0].components[5]" in first
    assert "$.content" in second
    assert channel.visible_messages == []


@session_loop
async def test_http_v2_flag_cannot_be_removed_by_an_edit(
    fake_discord: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    channel = fake_discord.guild("Test VTC").default_channel
    body = {"flags": V2, "components": [text_display()]}
    status, sent = await call(http, "POST", f"channels/{channel.id}/messages", body)
    assert status == 200
    url = f"channels/{channel.id}/messages/{sent['id']}"
    assert (await call(http, "PATCH", url, {"flags": 0, "components": []}))[0] == 400
    assert (await call(http, "PATCH", url, {"content": "plain again"}))[0] == 400
    flags_error, content_error = fake_discord.take_errors()
    assert "$.flags" in flags_error
    assert "$.content" in content_error
    status, edited = await call(http, "PATCH", url, {"components": [text_display("Edited")]})
    assert status == 200
    assert edited["flags"] & V2
    assert edited["components"][0]["content"] == "Edited"


@session_loop
async def test_http_nonce_deduplication_window_and_deleted_original(
    fake_discord: FakeDiscord, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = fake_discord.guild("Test VTC").default_channel
    url = f"channels/{channel.id}/messages"
    body = {"content": "once", "nonce": "n-1", "enforce_nonce": True}
    _, first = await call(http, "POST", url, body)
    _, again = await call(http, "POST", url, body)
    assert again["id"] == first["id"]
    _, other = await call(http, "POST", url, {**body, "enforce_nonce": False})
    assert other["id"] != first["id"]  # without enforce_nonce Discord does not deduplicate

    monkeypatch.setattr(emulator_module, "NONCE_WINDOW", 0.05)
    await asyncio.sleep(0.1)
    _, later = await call(http, "POST", url, body)
    assert later["id"] != first["id"]  # the window has passed

    monkeypatch.setattr(emulator_module, "NONCE_WINDOW", 120.0)
    assert (await call(http, "DELETE", f"{url}/{later['id']}", None))[0] == 204
    status, payload = await call(http, "POST", url, body)
    assert (status, payload["code"]) == (404, 10008)
    assert fake_discord.take_errors() == []  # Discord's answer, not a bot bug


@session_loop
async def test_discord_py_embeds_pass_and_bad_urls_are_named(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.guild("Test VTC")
    async with running_bot(HubBot(), fake_discord) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        now = datetime.datetime.now()  # naive: discord.py adds the local offset
        await channel.send(embed=discord.Embed(title="Convoy", url="https://x.test", timestamp=now))
        with pytest.raises(discord.HTTPException, match="Invalid Form Body"):
            await channel.send(embed=discord.Embed(title="Convoy", url="x.test/convoy"))
    (error,) = fake_discord.take_errors()
    assert "$.embeds[0].url" in error
    assert "is not a 'uri'" in error
    assert len(guild.default_channel.visible_messages) == 1
