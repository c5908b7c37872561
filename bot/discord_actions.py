"""Carrying out the Discord-actions outbox (models.discord_actions) in the guilds this bot
process serves: role changes, nicknames, the audit log forwarded to staff, and hub posts
(models.posts) in channels or through webhooks, their edits and deletes.

A package with messages of its own (an application's review post) names a renderer in the
action's payload (`{"render": "applications.review", ...}`) and its cog registers the function
that posts or edits the message under that name (`register_renderer`). The renderer raises
`RetryLater`/`PermanentFailure` like the built-in senders, and discord.py's errors are
classified the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import discord
from discord.http import handle_message_parameters

from bot.delivery import classify
from bot.outbox import MAX_AGE, MAX_ATTEMPTS, PermanentFailure, RetryLater
from models import discord_actions
from models.audit import AuditLog
from models.discord_actions import ActionKind, DiscordAction
from models.encryption import SealError
from models.hubs import Hub
from models.i18n import N_, translate
from models.posts import delivery as posts
from models.users import User

log = logging.getLogger(__name__)
UNKNOWN_MEMBER = 10007  # Discord's error codes
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
# A hub post may ping the people and roles it names, never @everyone or @here: a variable
# (a member's name) must not be able to ping the whole server.
POST_MENTIONS = discord.AllowedMentions(everyone=False, users=True, roles=True)
EMBED_TOTAL = 6000  # Discord's limit on an embed's characters

Renderer = Callable[[discord.Client, DiscordAction], Awaitable[None]]
_renderers: dict[str, Renderer] = {}


def register_renderer(name: str, renderer: Renderer) -> None:
    """Carry out POST actions whose payload says `"render": name` with `renderer(bot, action)`."""
    _renderers[name] = renderer


def unregister_renderer(name: str) -> None:
    _renderers.pop(name, None)


@dataclass
class DiscordActionWorker:
    bot: discord.Client
    interval: float = 1.0
    batch: int = 20
    kind: str = "discord_actions"  # the name of its task, like the outbox workers

    async def run_once(self) -> int:
        """Carry out what is due in this process's guilds; return how many were handled."""
        guilds = [guild.id for guild in self.bot.guilds]
        actions = await discord_actions.claim_due(guilds, limit=self.batch)
        for action in actions:
            await self._carry_out(action)
        return len(actions)

    async def _carry_out(self, action: DiscordAction) -> None:
        try:
            await perform(self.bot, action)
        except RetryLater as exc:
            # Discord away or rate limiting: retried until the action is a day old, however
            # many tries that takes (as the outbox does; see bot.outbox.MAX_AGE).
            if discord_actions.now() - action.created_at >= MAX_AGE:
                await discord_actions.mark_failed(action, f"gave up after {MAX_AGE}: {exc}")
            else:
                await discord_actions.mark_retry(action, str(exc), exc.retry_after)
        except PermanentFailure as exc:
            log.info("Discord action %s cannot be done: %s", action.id, exc)
            await discord_actions.mark_failed(action, str(exc))
        except Exception as exc:  # a bug here must not stop the other actions
            log.exception("Discord action %s failed unexpectedly", action.id)
            if action.attempts >= MAX_ATTEMPTS:
                await discord_actions.mark_failed(action, f"gave up: {exc!r}")
            else:
                await discord_actions.mark_retry(action, repr(exc))
        else:
            await discord_actions.mark_done(action)

    async def run_forever(self) -> None:
        while True:
            try:
                handled = await self.run_once()
            except Exception:  # the database may be briefly unavailable; keep going
                log.exception("Discord actions worker failed; retrying")
                handled = 0
            if not handled:
                await asyncio.sleep(self.interval)


async def perform(bot: discord.Client, action: DiscordAction) -> None:
    """One Discord call for one action (none when Discord already shows the outcome)."""
    try:
        if action.kind in (ActionKind.ADD_ROLE, ActionKind.REMOVE_ROLE):
            await _role(bot, action)
        elif action.kind == ActionKind.NICKNAME:
            await bot.http.edit_member(
                action.guild_id,
                action.discord_user_id,
                reason=action.payload.get("reason"),
                nick=action.payload.get("nick"),
            )
        elif action.kind == ActionKind.POST and "render" in action.payload:
            await _render(bot, action)
        elif action.kind == ActionKind.POST and "post" in action.payload:
            await _hub_post(bot, action)
        elif action.kind == ActionKind.POST:
            await _post(bot, action)
        elif action.kind == ActionKind.DELETE_POST:
            await _delete_hub_post(bot, action)
        else:
            raise PermanentFailure(f"unknown action kind {action.kind!r}")
    except discord.RateLimited as exc:
        raise RetryLater("rate limited", exc.retry_after) from None
    except discord.HTTPException as exc:
        raise classify(exc) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise RetryLater(f"network: {exc!r}") from None


async def _render(bot: discord.Client, action: DiscordAction) -> None:
    renderer = _renderers.get(str(action.payload["render"]))
    if renderer is None:
        # Its cog is not loaded (yet) in this process: during a rolling update another
        # process may know it, and MAX_AGE still ends an action no process can carry out.
        raise RetryLater(f"no renderer {action.payload['render']!r} is registered")
    await renderer(bot, action)


async def _role(bot: discord.Client, action: DiscordAction) -> None:
    add = action.kind == ActionKind.ADD_ROLE
    guild = bot.get_guild(action.guild_id)
    member = guild.get_member(action.discord_user_id) if guild else None
    if member is not None and any(role.id == action.role_id for role in member.roles) == add:
        return  # already so: e.g. done before a crash kept the outcome from being recorded
    call = bot.http.add_role if add else bot.http.remove_role
    try:
        await call(
            action.guild_id,
            action.discord_user_id,
            action.role_id,
            reason=action.payload.get("reason") or None,
        )
    except discord.NotFound as exc:
        if add or exc.code != UNKNOWN_MEMBER:
            raise
        # Not in the server (left, kicked, banned): they hold no role there, as wanted.


async def _post(bot: discord.Client, action: DiscordAction) -> None:
    embed = await audit_embed(action) if "audit_id" in action.payload else None
    content = action.payload.get("content") if embed is None else None
    if embed is None and not content:
        return  # the audit entry is gone (its hub was deleted): nothing to post
    # Discord drops a second message with the same nonce: a retry never posts twice.
    with handle_message_parameters(
        content=content, embed=embed or discord.utils.MISSING, nonce=f"action-{action.id}"
    ) as params:
        await bot.http.send_message(action.channel_id, params=params)


async def _hub_post(bot: discord.Client, action: DiscordAction) -> None:
    """Make the record's message show the payload: sent the first time, edited after; then
    the messages that carry on a long text (`more`) follow it."""
    delivery = await _delivery(action)
    if delivery is None:
        return  # its destination was deleted: nothing to post
    content = action.payload.get("content") or None
    embed = post_embed(action.payload.get("embed"))
    mentions = post_mentions(action.payload)
    if delivery.message_id is not None:
        if not await _edit_hub_post(bot, delivery, content, embed, mentions):
            return
    elif delivery.webhook is not None:
        # Webhooks take no nonce: the id recorded at once (and checked above) is the guard.
        hook = discord.Webhook.partial(*delivery.webhook, client=bot)
        sent = await hook.send(
            content or discord.utils.MISSING,
            embed=embed or discord.utils.MISSING,
            allowed_mentions=mentions,
            wait=True,
        )
        await posts.posted(delivery, sent.id, sent.channel.id)
    elif not await _send_hub_post(bot, action, delivery, content, embed, mentions):
        return
    more = [post_embed(part) for part in action.payload.get("more") or []]
    await _continue(bot, action, delivery, [e for e in more if e is not None], mentions)


async def _continue(
    bot: discord.Client,
    action: DiscordAction,
    delivery: posts.Delivery,
    embeds: list[discord.Embed],
    mentions: discord.AllowedMentions,
) -> None:
    """The messages after the post: edited where they exist, sent where they do not (each
    id recorded at once), and those no longer needed deleted."""
    existing = [int(i) for i in delivery.record.extra_message_ids or []]
    kept: list[int] = []
    for number, embed in enumerate(embeds, start=1):
        if len(existing) >= number and await _edit_more(bot, delivery, existing[number - 1], embed):
            kept.append(existing[number - 1])
            continue
        kept.append(await _send_more(bot, action, delivery, embed, mentions, number))
        await posts.continued(delivery, kept + existing[len(kept) :])
    for surplus in existing[len(embeds) :]:
        await _delete_message(bot, delivery, surplus)
    if kept != existing:
        await posts.continued(delivery, kept)


async def _send_more(
    bot: discord.Client,
    action: DiscordAction,
    delivery: posts.Delivery,
    embed: discord.Embed,
    mentions: discord.AllowedMentions,
    number: int,
) -> int:
    if delivery.webhook is not None:
        hook = discord.Webhook.partial(*delivery.webhook, client=bot)
        sent = await hook.send(embed=embed, allowed_mentions=mentions, wait=True)
        return sent.id
    channel_id = _channel_of(delivery)
    # A nonce of its own per part: a retry gets this part back instead of a second copy.
    with handle_message_parameters(
        embed=embed, nonce=f"action-{action.id}-{number}", allowed_mentions=mentions
    ) as params:
        message = await bot.http.send_message(channel_id, params=params)
    await _crosspost(bot, delivery, channel_id, int(message["id"]))
    return int(message["id"])


async def _edit_more(
    bot: discord.Client, delivery: posts.Delivery, message_id: int, embed: discord.Embed
) -> bool:
    """Edit a message that carries on the post; False when it is gone from Discord."""
    try:
        if delivery.webhook is not None:
            hook = discord.Webhook.partial(*delivery.webhook, client=bot)
            await hook.edit_message(message_id, embed=embed)
        else:
            with handle_message_parameters(embed=embed) as params:
                await bot.http.edit_message(_channel_of(delivery), message_id, params=params)
    except discord.NotFound as exc:
        if exc.code not in (UNKNOWN_MESSAGE, UNKNOWN_CHANNEL):
            raise
        return False
    return True


async def _delete_message(bot: discord.Client, delivery: posts.Delivery, message_id: int) -> None:
    try:
        if delivery.webhook is not None:
            hook = discord.Webhook.partial(*delivery.webhook, client=bot)
            await hook.delete_message(message_id)
        else:
            await bot.http.delete_message(_channel_of(delivery), message_id)
    except discord.NotFound as exc:
        if exc.code not in (UNKNOWN_MESSAGE, UNKNOWN_CHANNEL):
            raise


def _channel_of(delivery: posts.Delivery) -> int:
    channel_id = delivery.record.channel_id or delivery.destination.channel_id
    assert channel_id is not None, "a channel post has a channel"
    return channel_id


# Discord publishes at most 10 messages an hour per announcement channel: a crosspost that
# would wait longer for its turn is given up (the post itself stands) rather than holding up
# every other action.
CROSSPOST_WAIT = 15.0
ALREADY_CROSSPOSTED = 40033


async def _crosspost(
    bot: discord.Client, delivery: posts.Delivery, channel_id: int, message_id: int
) -> None:
    """Publish a new message to the servers following its announcement channel, when the
    destination asks for it. A failure is shown on the destination, never retried."""
    if not delivery.destination.crosspost or delivery.webhook is not None:
        return
    try:
        await asyncio.wait_for(bot.http.publish_message(channel_id, message_id), CROSSPOST_WAIT)
    except TimeoutError:
        await posts.not_crossposted(delivery, "Discord's limit of 10 an hour per channel")
    except discord.HTTPException as exc:
        if exc.code != ALREADY_CROSSPOSTED:  # a retry after a crash: it was published
            await posts.not_crossposted(delivery, exc.text or str(exc))


def post_mentions(payload: dict) -> discord.AllowedMentions:
    """Who a hub post may ping: the roles its payload names (`mention_roles`, Discord ids:
    an announcement's ping role and nothing else), else users and roles, never @everyone."""
    roles = payload.get("mention_roles")
    if roles is None:
        return POST_MENTIONS
    return discord.AllowedMentions(
        everyone=False, users=False, roles=[discord.Object(id=int(r)) for r in roles]
    )


async def _send_hub_post(
    bot: discord.Client,
    action: DiscordAction,
    delivery: posts.Delivery,
    content: str | None,
    embed: discord.Embed | None,
    mentions: discord.AllowedMentions,
) -> bool:
    """Send the post to its channel; False when Discord says it was sent and deleted since."""
    channel_id = _channel_of(delivery)
    # Discord drops a second message with the same nonce: a retry after a crash between the
    # send and the record gets the first message back instead of posting again.
    with handle_message_parameters(
        content=content or discord.utils.MISSING,
        embed=embed or discord.utils.MISSING,
        nonce=f"action-{action.id}",
        allowed_mentions=mentions,
    ) as params:
        try:
            message = await bot.http.send_message(channel_id, params=params)
        except discord.NotFound as exc:
            if exc.code != UNKNOWN_MESSAGE:
                raise
            # The nonce's message was sent before, and someone deleted it since.
            await posts.gone(delivery)
            return False
    await posts.posted(delivery, int(message["id"]), int(message["channel_id"]))
    delivery.record.channel_id = int(message["channel_id"])
    await _crosspost(bot, delivery, int(message["channel_id"]), int(message["id"]))
    return True


async def _edit_hub_post(
    bot: discord.Client,
    delivery: posts.Delivery,
    content: str | None,
    embed: discord.Embed | None,
    mentions: discord.AllowedMentions,
) -> bool:
    """Edit the post; False when it is gone from Discord (recorded)."""
    message_id = delivery.message_id
    assert message_id is not None
    try:
        if delivery.webhook is not None:
            hook = discord.Webhook.partial(*delivery.webhook, client=bot)
            await hook.edit_message(
                message_id, content=content, embed=embed, allowed_mentions=mentions
            )
            return True
        with handle_message_parameters(
            content=content, embed=embed, allowed_mentions=mentions
        ) as params:
            await bot.http.edit_message(delivery.record.channel_id, message_id, params=params)
    except discord.NotFound as exc:
        if exc.code not in (UNKNOWN_MESSAGE, UNKNOWN_CHANNEL):
            raise
        await posts.gone(delivery)  # deleted in Discord: there is nothing left to edit
        return False
    return True


async def _delivery(action: DiscordAction) -> posts.Delivery | None:
    try:
        return await posts.delivery_of(action)
    except SealError:
        # The key that sealed the webhook URL is gone: only staff setting it again helps.
        raise PermanentFailure("the webhook URL cannot be unsealed: set it again") from None


async def _delete_hub_post(bot: discord.Client, action: DiscordAction) -> None:
    delivery = await _delivery(action)
    if delivery is None or delivery.message_id is None:
        return  # never sent (a waiting post was replaced by this delete), or gone with it
    for extra in [int(i) for i in delivery.record.extra_message_ids or []]:
        await _delete_message(bot, delivery, extra)
    if delivery.record.extra_message_ids:
        await posts.continued(delivery, [])
    try:
        if delivery.webhook is not None:
            hook = discord.Webhook.partial(*delivery.webhook, client=bot)
            await hook.delete_message(delivery.message_id)
        else:
            await bot.http.delete_message(delivery.record.channel_id, delivery.message_id)
    except discord.NotFound as exc:
        if exc.code not in (UNKNOWN_MESSAGE, UNKNOWN_CHANNEL):
            raise
    await posts.gone(delivery)


def post_embed(data: dict | None) -> discord.Embed | None:
    """A hub post's rendered embed (models.posts.templates.rendered) for discord.py."""
    if not data:
        return None
    embed = discord.Embed(
        title=data.get("title"),
        description=data.get("description"),
        url=data.get("url"),
        color=data.get("color"),
    )
    if data.get("image_url"):
        embed.set_image(url=data["image_url"])
    if data.get("thumbnail_url"):
        embed.set_thumbnail(url=data["thumbnail_url"])
    if data.get("footer"):
        embed.set_footer(text=data["footer"])
    return embed


async def audit_embed(action: DiscordAction) -> discord.Embed | None:
    """An audit entry as staff read it in their channel, in the hub's language."""
    entry = await AuditLog.get_or_none(id=action.payload["audit_id"])
    hub = await Hub.get_or_none(id=action.hub_id)
    if entry is None or hub is None:
        return None
    locale = hub.language
    actor = await User.get_or_none(id=entry.actor_id) if entry.actor_id else None
    who = (
        f"<@{actor.discord_id}>"
        if actor and actor.discord_id
        else (actor.username if actor else translate(N_("the system"), locale))
    )
    embed = discord.Embed(title=entry.action[:256], timestamp=entry.created_at)
    embed.add_field(name=translate(N_("By"), locale), value=who[:1024])
    if entry.target:
        embed.add_field(name=translate(N_("Target"), locale), value=entry.target[:1024])
    for key, value in list(entry.details.items())[:10]:
        if value in (None, "", [], {}):
            continue
        name = str(key)[:256]
        # Discord refuses an embed over 6000 characters in all: long details are cut to fit.
        room = min(1024, EMBED_TOTAL - len(embed) - len(name))
        if room < 16:
            break
        text = str(value)
        embed.add_field(
            name=name, value=text if len(text) <= room else text[: room - 1] + "…", inline=False
        )
    return embed


def discord_action_worker(bot: discord.Client) -> DiscordActionWorker:
    return DiscordActionWorker(bot)


__all__ = [
    "MAX_ATTEMPTS",
    "DiscordActionWorker",
    "Renderer",
    "audit_embed",
    "discord_action_worker",
    "perform",
    "register_renderer",
    "unregister_renderer",
]
