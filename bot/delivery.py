"""Delivery of Discord DMs from the outbox, through the bot's HTTP client.

A notification DM may carry buttons: a package registers, per notification kind, a function
that makes a persistent button for one notification (`register_dm_button`), e.g. a Reply
button under a message from staff. The buttons follow from the notifications the DM carries,
so a retry sends the same message with the same nonce.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
from discord.http import handle_message_parameters
from tortoise.transactions import in_transaction

from bot.outbox import PermanentFailure, RetryLater, Worker
from models import identities, outbox, plugins
from models.i18n import translate
from models.notifications import center, digest
from models.notifications.tables import Notification
from models.outbox import OutboxItem, OutboxKind
from models.users import User

log = logging.getLogger(__name__)

# Discord errors that no retry can fix: unknown channel/user, missing access, cannot DM.
CANNOT_DM = 50007
PERMANENT_CODES = {10003, 10013, 50001, CANNOT_DM}
BUTTONS = 25  # Discord's most buttons on a message (5 rows of 5)

# A persistent button for one notification in the reader's language (None: no button).
DmButton = Callable[[Notification, str | None], discord.ui.Item[Any] | None]
_dm_buttons: dict[str, DmButton] = {}


def register_dm_button(kind: str, make: DmButton) -> None:
    """Give DMs carrying notifications of `kind` the button `make(note, locale)` returns."""
    _dm_buttons[kind] = make


def unregister_dm_button(kind: str) -> None:
    _dm_buttons.pop(kind, None)


async def dm_view(item: OutboxItem, notes: list[Notification]) -> discord.ui.View | None:
    """The buttons of the notifications a DM shows, once each, within Discord's limit."""
    makers = [(n, _dm_buttons[n.kind]) for n in notes[: digest.SHOWN] if n.kind in _dm_buttons]
    if not makers:
        return None
    user = await User.get_or_none(id=item.user_id) if item.user_id else None
    view = discord.ui.View(timeout=None)
    seen: set[str] = set()
    for note, make in makers:
        button = make(note, user.locale if user else None)
        key = str(getattr(button, "custom_id", None))
        if button is None or key in seen or len(seen) >= BUTTONS:
            continue
        seen.add(key)
        view.add_item(button)
    return view if seen else None


class DiscordDMSender:
    """Sends one outbox item as a DM; safe to call again for the same item."""

    def __init__(self, bot: discord.Client) -> None:
        self.bot = bot

    async def __call__(self, item: OutboxItem) -> dict[str, Any]:
        if item.result.get("message_id"):
            return item.result  # sent before the outcome could be recorded
        notes, view = None, None
        if item.template == center.DIGEST:
            notes = await digest.take(item)  # Postpone while an older DM of theirs is pending
            if not notes:
                return {"empty": True}  # another DM took them, or they were deleted
            text = await digest.text(item, notes)
            view = await dm_view(item, notes)
        else:
            text = await render(item)
        try:
            channel = await self.bot.http.start_private_message(int(item.address))
            # Discord drops a second message with the same nonce: a retry never sends twice.
            with handle_message_parameters(
                content=text, nonce=f"outbox-{item.id}", view=view or discord.utils.MISSING
            ) as params:
                message = await self.bot.http.send_message(int(channel["id"]), params=params)
        except discord.RateLimited as exc:
            raise RetryLater("rate limited", exc.retry_after) from None
        except discord.HTTPException as exc:
            if exc.code == CANNOT_DM and item.user_id is not None:
                # Retrying cannot help: DMs off for them, and an in-app notice saying why.
                async with in_transaction():
                    await center.dms_refused(item.user_id)
            raise classify(exc) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise RetryLater(f"network: {exc!r}") from None
        if notes is not None:
            await digest.follow_up(item)
        return {"message_id": message["id"], "channel_id": channel["id"]}


async def render(item: OutboxItem) -> str:
    """The text in the recipient's chosen language, else the one they used when asking."""
    template = dm_template(item.template)
    if template is None:
        raise PermanentFailure(f"unknown template {item.template!r}")
    user = await User.get_or_none(id=item.user_id) if item.user_id else None
    params = await outbox.render_params(item)
    locale = (user.locale if user else None) or params.pop("locale", None)
    params.pop("locale", None)
    return translate(template, locale, **params)[:2000]


def dm_template(name: str) -> str | None:
    """The platform's DM texts, then those the registered packages declare."""
    if name in identities.DM_TEXTS:
        return identities.DM_TEXTS[name]
    template = plugins.templates(OutboxKind.DISCORD_DM).get(name)
    return template.body if template is not None else None


def classify(exc: discord.HTTPException) -> Exception:
    """429 and 5xx are temporary; the permanent codes and other 4xx (a bug) are not."""
    if exc.status == 429 or exc.status >= 500:
        headers = getattr(exc.response, "headers", None) or {}
        retry_after = headers.get("Retry-After")
        return RetryLater(f"{exc.status} {exc.text}", float(retry_after) if retry_after else None)
    if exc.code not in PERMANENT_CODES:
        log.warning("Discord refused a request (%s %s): %s", exc.status, exc.code, exc.text)
    return PermanentFailure(f"{exc.status} {exc.code} {exc.text}")


def discord_dm_worker(bot: discord.Client) -> Worker:
    return Worker(OutboxKind.DISCORD_DM, DiscordDMSender(bot))
