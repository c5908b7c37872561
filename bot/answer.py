"""Answering interactions: exactly once, within Discord's 3 seconds, from any handler.

Discord drops an interaction that gets no answer within 3 seconds, and refuses a second
initial answer. Handlers therefore answer through `answer()`/`update()`, never through
`interaction.response` directly: these take the interaction's lock, so a deferral made by
the deadline watchdog and the handler's own answer never race, and they turn into
follow-ups (or an edit of the original) once a deferral went out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import discord

from bot.i18n import t
from models.i18n import N_

log = logging.getLogger(__name__)

# Seconds after which an interaction still unanswered is deferred ("thinking…"), leaving a
# margin for the deferral's own round trip within Discord's 3 seconds.
DEFER_AFTER = 2.0
_LOCK = "answer_lock"
_WATCHDOG = "answer_watchdog"
_THINKING = "answer_thinking"  # the visibility of a "thinking…" deferral, while it shows
# Seconds after which a click or modal submit no handler claimed is answered "expired": a
# handler that needs longer has deferred by then (DEFER_AFTER).
UNCLAIMED_AFTER = 2.5
EXPIRED = N_("This button or form has expired. Run the command again.")
# Strong references: the loop keeps only weak ones to tasks.
_watchdogs: set[asyncio.Task[None]] = set()


def _lock(interaction: discord.Interaction) -> asyncio.Lock:
    lock = interaction.extras.get(_LOCK)
    if lock is None:
        lock = interaction.extras[_LOCK] = asyncio.Lock()
    return lock


def _given(**kwargs: Any) -> dict[str, Any]:
    # discord.py's follow-up API uses MISSING, not None, for "not given".
    return {key: value for key, value in kwargs.items() if value is not None}


async def answer(
    interaction: discord.Interaction,
    content: str | None = None,
    *,
    ephemeral: bool = True,
    embed: discord.Embed | None = None,
    embeds: list[discord.Embed] | None = None,
    view: discord.ui.View | discord.ui.LayoutView | None = None,
) -> None:
    """Reply: the first answer, or a follow-up once the interaction was answered or deferred.

    After a "thinking…" deferral Discord shows the first follow-up in its place, with the
    deferral's visibility. When that differs from `ephemeral` (an error after a public
    deferral, a public card after a private one), the placeholder is deleted and the answer
    sent as a new message, so nothing private is shown to the channel.
    """
    options = _given(content=content, embed=embed, embeds=embeds, view=view)
    async with _lock(interaction):
        if not interaction.response.is_done():
            await interaction.response.send_message(ephemeral=ephemeral, **options)
            return
        placeholder = interaction.extras.pop(_THINKING, None)
        if placeholder is not None and placeholder != ephemeral:
            await interaction.delete_original_response()  # the answer becomes its own message
        await interaction.followup.send(ephemeral=ephemeral, **options)


async def update(
    interaction: discord.Interaction,
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | discord.ui.LayoutView | None = None,
) -> None:
    """Edit the message a component sits on (after a deferral too)."""
    if interaction.type is not discord.InteractionType.component:
        raise TypeError("update() edits a component's message: use answer() here")
    if _THINKING in interaction.extras:
        raise TypeError(
            "this click was deferred with a 'thinking' reply, so update() cannot reach the "
            "message: give the component ephemeral_deferral = False"
        )
    options = _given(content=content, embed=embed, view=view)
    async with _lock(interaction):
        if interaction.response.is_done():
            await interaction.edit_original_response(**options)
        else:
            await interaction.response.edit_message(**options)


async def open_modal(interaction: discord.Interaction, modal: discord.ui.Modal) -> None:
    """Show a modal; it must be the first answer, so it cannot follow a deferral (components
    that open one set `watch_deadline = False`)."""
    async with _lock(interaction):
        await interaction.response.send_modal(modal)


async def defer(interaction: discord.Interaction, *, ephemeral: bool = True) -> None:
    """Acknowledge now and answer later (through `answer`), unless already answered."""
    async with _lock(interaction):
        if interaction.response.is_done():
            return
        if interaction.type is discord.InteractionType.component and not ephemeral:
            await interaction.response.defer()  # the answer will edit the message
        else:
            interaction.extras[_THINKING] = ephemeral
            await interaction.response.defer(ephemeral=ephemeral, thinking=True)


def watch_deadline(
    interaction: discord.Interaction, *, ephemeral: bool = True, after: float = DEFER_AFTER
) -> None:
    """Defer the interaction if its handler has not answered `after` seconds after Discord
    created it (time spent before this call, e.g. loading the context, counts)."""
    if interaction.type is discord.InteractionType.autocomplete or _WATCHDOG in interaction.extras:
        return
    elapsed = (discord.utils.utcnow() - interaction.created_at).total_seconds()
    delay = min(after, max(0.0, after - elapsed))

    async def watch() -> None:
        await asyncio.sleep(delay)
        try:
            # Shielded: once under way, a deferral must finish, or discord.py would not
            # know Discord had it and the next answer would be refused.
            await asyncio.shield(defer(interaction, ephemeral=ephemeral))
        except Exception:  # a failed deferral must not become an unretrieved task error
            log.warning("could not defer slow interaction %s", interaction.id, exc_info=True)

    task = asyncio.create_task(watch(), name=f"answer-deadline-{interaction.id}")
    interaction.extras[_WATCHDOG] = task
    _watchdogs.add(task)
    task.add_done_callback(_watchdogs.discard)


def stop_watching(interaction: discord.Interaction) -> None:
    """The handler finished (and answered): no deferral is needed any more."""
    task = interaction.extras.pop(_WATCHDOG, None)
    if task is not None:
        task.cancel()


def expire_unclaimed(interaction: discord.Interaction) -> None:
    """Answer a click or modal submit that nothing handles (a modal opened before a restart,
    a button of a plugin since removed), instead of leaving Discord's "interaction failed"."""
    if interaction.type not in (
        discord.InteractionType.component,
        discord.InteractionType.modal_submit,
    ):
        return

    async def expire() -> None:
        await asyncio.sleep(UNCLAIMED_AFTER)
        async with _lock(interaction):
            if interaction.response.is_done():
                return
            try:
                await interaction.response.send_message(t(interaction, EXPIRED), ephemeral=True)
            except Exception:  # never an unretrieved task error
                log.warning("could not answer unclaimed interaction %s", interaction.id)

    task = asyncio.create_task(expire(), name=f"answer-unclaimed-{interaction.id}")
    _watchdogs.add(task)
    task.add_done_callback(_watchdogs.discard)


@contextlib.asynccontextmanager
async def deadline(
    interaction: discord.Interaction, *, ephemeral: bool = True
) -> AsyncIterator[None]:
    """Watch the 3-second deadline while the block runs."""
    watch_deadline(interaction, ephemeral=ephemeral)
    try:
        yield
    finally:
        stop_watching(interaction)
