"""Acting as Discord users: slash commands, autocomplete, buttons, selects and modals."""

# The scenario API takes `timeout=` on purpose: it is the deadline of the assertion.
# ruff: noqa: ASYNC109

from __future__ import annotations

import logging
import mimetypes
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .options import (
    ATTACHMENT_SIZE_LIMIT,
    SELECTS,
    ModalFiller,
    ScenarioError,
    encode_options,
    nest,
    resolve_command,
    select_values,
)
from .state import (
    ADMINISTRATOR,
    DEFAULT_EVERYONE_PERMISSIONS,
    LOADING,
    Channel,
    Guild,
    Member,
    Message,
    User,
)

if TYPE_CHECKING:
    from .emulator import FakeDiscord

log = logging.getLogger(__name__)

APPLICATION_COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
# Which callback types Discord accepts for each interaction type.
ALLOWED_RESPONSES = {
    APPLICATION_COMMAND: frozenset({4, 5, 9}),
    COMPONENT: frozenset({4, 5, 6, 7, 9}),
    AUTOCOMPLETE: frozenset({8}),
    MODAL_SUBMIT: frozenset({4, 5, 6, 7}),
}
DEFAULT_TIMEOUT = 5.0

__all__ = ["ALLOWED_RESPONSES", "Interaction", "InteractionDriver", "ScenarioError"]


@dataclass(eq=False)
class Interaction:
    """One interaction a test user started, and everything the bot answered to it."""

    emulator: FakeDiscord = field(repr=False)
    id: int
    token: str = field(repr=False)
    type: int
    user: User
    guild: Guild | None = field(repr=False)
    channel: Channel = field(repr=False)
    data: dict[str, Any] = field(repr=False)
    message: Message | None = field(default=None, repr=False)  # the message a component was on
    created: float = field(default_factory=time.monotonic, repr=False)
    answered_at: float | None = field(default=None, repr=False)  # monotonic, callback arrived
    response_type: int | None = None
    original: Message | None = field(default=None, repr=False)  # the message the response shows
    followups: list[Message] = field(default_factory=list, repr=False)
    modal: dict[str, Any] | None = field(default=None, repr=False)
    choices: list[dict[str, Any]] | None = field(default=None, repr=False)
    submitted: Interaction | None = field(default=None, repr=False)  # the modal's last submit
    excused: bool = field(default=False, repr=False)  # unanswered on purpose (take_errors)

    # -- what a test reads ---------------------------------------------------------------------

    @property
    def age(self) -> float:
        return time.monotonic() - self.created

    @property
    def deferred(self) -> bool:
        return self.response_type in (5, 6)

    @property
    def ephemeral(self) -> bool:
        return bool(self.original and self.original.ephemeral)

    @property
    def content(self) -> str:
        return self.original.content if self.original else ""

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return self.original.embeds if self.original else []

    @property
    def components(self) -> list[dict[str, Any]]:
        return self.original.components if self.original else []

    @property
    def text(self) -> str:
        """Original response and follow-ups (content and embeds), for `in` assertions."""
        messages = [self.original, *self.followups] if self.original else self.followups
        return "\n".join(message.text for message in messages)

    # -- what the bot does (called by the routes) ----------------------------------------------

    def respond(
        self, kind: int, data: dict[str, Any], files: list[dict[str, Any]], at: float
    ) -> Message | None:
        # An update Discord refuses (apply_edit raises) leaves the interaction unanswered.
        if kind == 7 and self.message is not None:
            self.message.check_edit(data)
        self.answered_at = at  # when the callback reached the emulator
        self.response_type = kind
        if kind in (4, 5):
            flags = int(data.get("flags") or 0) | (LOADING if kind == 5 else 0)
            message_type = 20 if self.type == APPLICATION_COMMAND else 0
            self.original = self.emulator.create_message(
                self.channel, data, files, flags=flags, type=message_type, interaction=self
            )
        elif kind in (6, 7):
            self.original = self.message
            if kind == 7 and self.message is not None:
                self.edit(self.message, data)
        elif kind == 8:
            self.choices = data.get("choices") or []
        elif kind == 9:
            self.modal = data
        return self.original if kind in (4, 5, 7) else None

    def followup(self, body: dict[str, Any], files: list[dict[str, Any]]) -> Message:
        # Discord turns the first follow-up after a deferred reply into that reply.
        if (
            self.original is not None
            and self.original.flags & LOADING
            and not self.original.deleted
        ):
            self.edit(self.original, body)
            return self.original
        message = self.emulator.create_message(
            self.channel, body, files, flags=int(body.get("flags") or 0), interaction=self
        )
        self.followups.append(message)
        return message

    def edit(self, message: Message, body: dict[str, Any]) -> None:
        message.apply_edit(body)
        self.emulator.emit_message_update(message)

    # -- waiting -------------------------------------------------------------------------------

    def describe(self) -> str:
        names = {2: "command", 3: "component", 4: "autocomplete", 5: "modal submit"}
        what = _command_path(self.data) if "name" in self.data else self.data.get("custom_id")
        return f"{names[self.type]} {what!r} by {self.user.name}"

    async def wait_answered(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        await self.emulator.wait_for(
            lambda: self.response_type is not None,
            timeout,
            f"the bot did not answer the {self.describe()}",
        )

    async def wait_complete(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait for the answer; after a deferred reply, also for the message that replaces it."""
        await self.wait_answered(timeout)
        if self.response_type == 5:
            await self.emulator.wait_for(
                # the reply replaces "thinking…", or comes after it was deleted
                lambda: (
                    self.original is not None
                    and (
                        not self.original.flags & LOADING
                        or bool(self.original.deleted and self.followups)
                    )
                ),
                timeout,
                f"the bot deferred the {self.describe()} but never sent the reply",
            )

    async def wait_followups(
        self, count: int = 1, timeout: float = DEFAULT_TIMEOUT
    ) -> list[Message]:
        await self.emulator.wait_for(
            lambda: len(self.followups) >= count,
            timeout,
            f"expected {count} follow-ups to the {self.describe()}",
        )
        return self.followups

    # -- the gateway payload -------------------------------------------------------------------

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "application_id": str(self.emulator.application_id),
            "type": self.type,
            "data": self.data,
            "token": self.token,
            "version": 1,
            "locale": self.user.locale,
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "channel_id": str(self.channel.id),
        }
        data |= self._guild_part() if self.guild is not None else self._dm_part()
        if self.message is not None:
            data["message"] = self.message.payload()
        return data

    def _guild_part(self) -> dict[str, Any]:
        assert self.guild is not None
        member = self.guild.member(self.user)
        bot = self.guild.member(self.emulator.bot_user)
        assert member is not None
        assert bot is not None
        return {
            "guild_id": str(self.guild.id),
            "guild": {
                "id": str(self.guild.id),
                "locale": self.guild.preferred_locale,
                "features": self.guild.features,
            },
            "guild_locale": self.guild.preferred_locale,
            "member": {**member.payload(), "permissions": str(member.permissions)},
            "channel": {**self.channel.payload(), "permissions": str(member.permissions)},
            "app_permissions": str(bot.permissions),
            "authorizing_integration_owners": {"0": str(self.guild.id)},
            "context": 0,
        }

    def _dm_part(self) -> dict[str, Any]:
        return {
            "user": self.user.payload(),
            "channel": self.channel.payload(),
            "app_permissions": str(DEFAULT_EVERYONE_PERMISSIONS),
            "authorizing_integration_owners": {"0": "0"},
            "context": 1,
        }


class InteractionDriver:
    """Creates interactions the way the Discord client would, and keeps them for the routes."""

    def __init__(self, emulator: FakeDiscord) -> None:
        self.emulator = emulator
        self.by_id: dict[int, Interaction] = {}
        self.by_token: dict[str, Interaction] = {}

    def _place(
        self, user: User, guild: Guild | None, channel: Channel | None
    ) -> tuple[Guild | None, Channel]:
        if channel is not None:
            guild = channel.guild
        if guild is None:
            return None, channel or self.emulator.dm_channel(user)
        if guild.member(user) is None:
            raise ScenarioError(f"{user.name} is not a member of {guild.name}")
        if not guild.bot_present:
            raise ScenarioError(f"the bot is not in {guild.name}")
        return guild, channel or guild.default_channel

    def _create(
        self,
        kind: int,
        user: User,
        guild: Guild | None,
        channel: Channel,
        data: dict[str, Any],
        message: Message | None = None,
    ) -> Interaction:
        if not self.emulator.gateway.sessions:
            raise ScenarioError("the bot is not connected to the gateway")
        interaction = Interaction(
            self.emulator,
            self.emulator.snowflakes.next(),
            secrets.token_urlsafe(32),
            kind,
            user,
            guild,
            channel,
            data,
            message,
        )
        self.by_id[interaction.id] = interaction
        self.by_token[interaction.token] = interaction
        self.emulator.gateway.emit(
            "INTERACTION_CREATE", interaction.payload(), guild_id=guild.id if guild else None
        )
        return interaction

    def _command_data(
        self,
        user: User,
        command: str,
        guild: Guild | None,
        values: dict[str, Any],
        focused: str | None = None,
        check_visible: bool = True,
    ) -> dict[str, Any]:
        name, *words = command.lstrip("/").split()
        registered = self.emulator.commands.find(name, guild.id if guild else None)
        if registered is None:
            scope = (
                self.emulator.commands.names(guild.id if guild else None)
                + self.emulator.commands.names()
            )
            raise ScenarioError(
                f"/{name} is not registered (registered here: {sorted(set(scope))})"
            )
        if check_visible:
            _check_visible(registered, guild, guild.member(user) if guild else None)
        path, definitions = resolve_command(registered, words)
        typed = {k: v for k, v in values.items() if k != focused}
        encoded, resolved = encode_options(_optional(definitions), typed, guild)
        if focused is not None:
            encoded.append(_focused(definitions, focused, values[focused]))
        data = {"id": registered["id"], "name": name, "type": 1, "options": nest(path, encoded)}
        if resolved:
            data["resolved"] = resolved
        if "guild_id" in registered:
            data["guild_id"] = registered["guild_id"]
        return data

    async def run_command(
        self,
        user: User,
        command: str,
        *,
        guild: Guild | None = None,
        channel: Channel | None = None,
        options: dict[str, Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        stale_client: bool = False,
        **values: Any,
    ) -> Interaction:
        """Invoke a command; `stale_client` skips the visibility checks, as an outdated
        Discord client with a cached command list would."""
        guild, channel = self._place(user, guild, channel)
        data = self._command_data(
            user, command, guild, {**(options or {}), **values}, check_visible=not stale_client
        )
        _require_options(self.emulator, data, guild, command, {**(options or {}), **values})
        interaction = self._create(APPLICATION_COMMAND, user, guild, channel, data)
        await interaction.wait_complete(timeout)
        return interaction

    async def autocomplete(
        self,
        user: User,
        command: str,
        option: str,
        typed: str,
        *,
        guild: Guild | None = None,
        channel: Channel | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        **values: Any,
    ) -> list[dict[str, Any]]:
        guild, channel = self._place(user, guild, channel)
        data = self._command_data(user, command, guild, {**values, option: typed}, focused=option)
        interaction = self._create(AUTOCOMPLETE, user, guild, channel, data)
        await interaction.wait_answered(timeout)
        return interaction.choices or []

    async def click(
        self,
        user: User,
        target: Message | Interaction,
        component: str,
        *,
        values: list[Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Interaction:
        message = target.original if isinstance(target, Interaction) else target
        if message is None:
            raise ScenarioError("there is no message to click on")
        item = message.component(component)
        if item is None:
            found = [c.get("label") or c.get("custom_id") for c in message.buttons]
            raise ScenarioError(f"no component {component!r} on the message (buttons: {found})")
        guild, channel = self._place(user, message.channel.guild, message.channel)
        data = _component_data(item, values, guild)
        interaction = self._create(COMPONENT, user, guild, channel, data, message)
        await interaction.wait_complete(timeout)
        return interaction

    def _upload(self, filename: str, content: bytes) -> dict[str, Any]:
        """A file the user attached in a modal's file upload, as Discord resolves it."""
        attachment_id = self.emulator.snowflakes.next()
        url = f"{self.emulator.base_url}/attachments/{attachment_id}/{filename}"
        attachment = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(content),
            "url": url,
            "proxy_url": url,
            "ephemeral": True,
        }
        kind, _ = mimetypes.guess_type(filename)
        return {**attachment, "content_type": kind} if kind else attachment

    async def submit_modal(
        self,
        user: User,
        source: Interaction,
        values: dict[str, Any],
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Interaction:
        if source.modal is None:
            raise ScenarioError(
                f"the bot did not open a modal (callback type {source.response_type})"
            )
        if source.submitted is not None and source.submitted.response_type is not None:
            # Discord closes a modal once the bot answered its submit.
            raise ScenarioError("this modal was already submitted and closed; open it again")
        filler = ModalFiller(values, source.guild, self._upload)
        components = filler.fill(source.modal["components"])
        unknown = set(values) - filler.used
        if unknown:
            raise ScenarioError(f"the modal has no fields {sorted(unknown)}")
        data = {"custom_id": source.modal["custom_id"], "components": components}
        if filler.resolved:
            data["resolved"] = filler.resolved
        interaction = self._create(
            MODAL_SUBMIT, user, source.guild, source.channel, data, source.message
        )
        source.submitted = interaction
        await interaction.wait_complete(timeout)
        return interaction


def _check_visible(command: dict[str, Any], guild: Guild | None, member: Member | None) -> None:
    """The Discord client hides commands a user may not use; tests must not reach them either."""
    contexts = command.get("contexts")
    if guild is None and (
        command.get("dm_permission") is False or (contexts and 1 not in contexts)
    ):
        raise ScenarioError(f"/{command['name']} is not available in DMs")
    if guild is not None and contexts and 0 not in contexts:
        raise ScenarioError(f"/{command['name']} is not available in guilds")
    required = command.get("default_member_permissions")
    if member is None or required is None:
        return
    # The owner and administrators see every command; "0" hides it from everyone else.
    bits, granted = int(required), member.permissions
    if not granted & ADMINISTRATOR and (bits == 0 or granted & bits != bits):
        raise ScenarioError(f"{member.user.name} lacks the permissions to see /{command['name']}")


def _optional(definitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Required options are checked once, in _require_options, so autocomplete may omit them.
    return [{**definition, "required": False} for definition in definitions]


def _require_options(
    emulator: FakeDiscord,
    data: dict[str, Any],
    guild: Guild | None,
    command: str,
    values: dict[str, Any],
) -> None:
    registered = emulator.commands.find(data["name"], guild.id if guild else None)
    assert registered is not None
    _, definitions = resolve_command(registered, command.lstrip("/").split()[1:])
    missing = [d["name"] for d in definitions if d.get("required") and d["name"] not in values]
    if missing:
        raise ScenarioError(f"/{command} is missing required options {missing}")


def _focused(definitions: list[dict[str, Any]], name: str, typed: Any) -> dict[str, Any]:
    definition = next((d for d in definitions if d["name"] == name), None)
    if definition is None or not definition.get("autocomplete"):
        raise ScenarioError(f"option {name!r} does not exist or has no autocomplete")
    return {"type": definition["type"], "name": name, "value": str(typed), "focused": True}


def _component_data(
    item: dict[str, Any], values: list[Any] | None, guild: Guild | None
) -> dict[str, Any]:
    if item.get("disabled"):
        raise ScenarioError(f"component {item.get('label') or item.get('custom_id')!r} is disabled")
    if "custom_id" not in item:
        raise ScenarioError("link and premium buttons do not create interactions")
    data: dict[str, Any] = {"custom_id": item["custom_id"], "component_type": item["type"]}
    if item["type"] in SELECTS:
        resolved: dict[str, Any] = {}
        data["values"] = select_values(item, values or [], guild, resolved, in_modal=False)
        if resolved:
            data["resolved"] = resolved
    return data


def _command_path(data: dict[str, Any]) -> str:
    """The command name and its subcommand (group) names, e.g. `hub info`."""
    words, options = [data["name"]], data.get("options") or []
    while options and options[0].get("type") in (1, 2):
        words.append(options[0]["name"])
        options = options[0].get("options") or []
    return " ".join(words)
