"""The one error policy for app commands and components: localized, ephemeral, never a trace."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from bot.answer import answer
from bot.context import load_context
from bot.i18n import locale_of, t
from bot.plugin import PluginCog, Refused
from models import plugins
from models.errors import DomainError
from models.i18n import N_, translate

log = logging.getLogger(__name__)


async def reply_ephemeral(interaction: discord.Interaction, text: str) -> None:
    """Answer privately, whether or not the interaction was already acknowledged."""
    try:
        if interaction.type is discord.InteractionType.autocomplete:
            # An autocomplete can only answer choices: offer none rather than fail.
            if not interaction.response.is_done():
                await interaction.response.autocomplete([])
            return
        await answer(interaction, text, ephemeral=True)
    except Exception:  # the reply to an error must not raise into discord.py's logger
        log.warning("could not deliver an error reply to interaction %s", interaction.id)


def describe(interaction: discord.Interaction, error: Exception) -> str | None:
    """The user-facing text for an expected error, or None for a bug."""
    if isinstance(error, Refused):
        error = error.error
    if isinstance(error, DomainError):
        return translate(error.message, locale_of(interaction), **error.params)
    if isinstance(error, app_commands.NoPrivateMessage):
        return t(interaction, N_("This command only works in a server."))
    if isinstance(error, app_commands.CommandOnCooldown):
        return t(
            interaction,
            N_("Too many requests. Try again in {seconds} seconds."),
            seconds=round(error.retry_after, 1),
        )
    if isinstance(error, app_commands.MissingPermissions | app_commands.CheckFailure):
        return t(interaction, N_("You are not allowed to do that."))
    if isinstance(error, app_commands.TransformerError):
        return t(interaction, N_("{value} is not a valid value here."), value=error.value)
    return None


async def handle_error(interaction: discord.Interaction, error: Exception) -> None:
    """Reply to a failed command or component with a localized, ephemeral message."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    text = describe(interaction, error)
    if text is None:
        reference = _reference()
        log.error(
            "unexpected error in interaction %s (reference %s)",
            interaction.id,
            reference,
            exc_info=error,
        )
        text = t(
            interaction,
            N_("Something went wrong on our side. Reference: {reference}"),
            reference=reference,
        )
    await reply_ephemeral(interaction, text)


Choices = list[app_commands.Choice[Any]]


def safe_autocomplete(
    func: Callable[..., Awaitable[Choices]],
) -> Callable[..., Awaitable[Choices]]:
    """Wrap an autocomplete callback: a failure offers no choices instead of no answer.

    discord.py only logs an autocomplete's exception and never answers it, so the user sees
    "Loading options failed". The bug is still logged, with a reference.
    """

    @functools.wraps(func)
    async def wrapper(*args: Any) -> Choices:
        try:
            if not await _may_autocomplete(args):
                return []
            return await func(*args)
        except Exception:
            log.exception("autocomplete %s failed (reference %s)", func.__qualname__, _reference())
            return []

    return wrapper


async def _may_autocomplete(args: tuple[Any, ...]) -> bool:
    """discord.py runs no checks for autocomplete: the plugin must be on and the caller hold
    the command's permission, or no choices (which may show private data) are offered."""
    interaction = next(a for a in args if isinstance(a, discord.Interaction))
    context = await load_context(interaction)  # read-only for autocomplete
    if context.hub is None:
        return True
    cog = args[0] if args and isinstance(args[0], PluginCog) else None
    command = interaction.command
    permission = command.extras.get("permission") if command is not None else None
    try:
        key = cog.plugin if cog is not None else None
        await plugins.enter(context.actor, context.hub, key, permission, write=False)
    except DomainError:
        return False
    return True


def _reference() -> str:
    return uuid.uuid4().hex[:8]
