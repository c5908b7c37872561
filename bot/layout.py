"""Rich messages (Components V2) that always fit Discord's limits.

A V2 message holds at most 40 components (nested ones count) and 4,000 characters of text.
A board or a profile built from data (a leaderboard, a list of commands) can exceed that, so
`Card` counts as it goes: an item that would not fit is left out, and the card ends with a
line saying how many were left out, instead of Discord refusing the whole message.
"""

from __future__ import annotations

from typing import Any

import discord

MAX_COMPONENTS = 40
MAX_TEXT = 4000
# Kept free for the closing "n more" line.
_RESERVE_COMPONENTS = 1
_RESERVE_TEXT = 60
# A text is shortened to the room left only when at least this much of it still shows.
_MIN_PIECE = 200


class Card:
    """A container of text blocks, separators and button rows, built within the limits."""

    def __init__(self, *, accent: int | None = None) -> None:
        self.container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=accent)
        self.components = 1  # the container itself
        self.text = 0
        self.left_out = 0
        self._closed = False

    def _fits(self, components: int, text: int) -> bool:
        return (
            self.components + components <= MAX_COMPONENTS - _RESERVE_COMPONENTS
            and self.text + text <= MAX_TEXT - _RESERVE_TEXT
        )

    def add_text(self, text: str) -> bool:
        """Add a markdown text block, shortened to the room left; False (and counted as left
        out) when not even a short piece of it fits."""
        room = MAX_TEXT - _RESERVE_TEXT - self.text
        if len(text) > room >= _MIN_PIECE:
            text = text[: room - 1] + "…"
        if not text or not self._fits(1, len(text)):
            self.left_out += 1
            return False
        self.container.add_item(discord.ui.TextDisplay(text))
        self.components += 1
        self.text += len(text)
        return True

    def add_separator(self) -> bool:
        if not self._fits(1, 0):
            return False
        self.container.add_item(discord.ui.Separator())
        self.components += 1
        return True

    def add_buttons(self, *buttons: discord.ui.Item[Any]) -> bool:
        """A row of up to five buttons (their labels count as text)."""
        if len(buttons) > 5:  # Discord's row width; the rest does not show
            self.left_out += len(buttons) - 5
            buttons = buttons[:5]
        text = sum(len(_label(button) or "") for button in buttons)
        if not buttons or not self._fits(1 + len(buttons), text):
            self.left_out += len(buttons)
            return False
        self.container.add_item(discord.ui.ActionRow(*buttons))
        self.components += 1 + len(buttons)
        self.text += text
        return True

    def view(self, *, more: str | None = None) -> discord.ui.LayoutView:
        """The finished message; `more` (with `{count}`) is shown when items were left out."""
        if self.left_out and more and not self._closed:
            # replace, not format: `more` may hold user text with braces
            closing = more.replace("{count}", str(self.left_out))[:_RESERVE_TEXT]
            self.container.add_item(discord.ui.TextDisplay(closing))
            self._closed = True
        view = discord.ui.LayoutView(timeout=None)
        view.add_item(self.container)
        return view


def _label(button: discord.ui.Item[Any]) -> str | None:
    # A persistent button (a DynamicItem) keeps its label on the wrapped button.
    return getattr(getattr(button, "item", button), "label", None)
