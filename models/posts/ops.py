"""Hub posts: staff choose destinations per trigger; other packages emit posts.

Staff operations go through `plugins.enter` (manage_posts). `emit`, `update_source` and
`delete_source` are what other packages call inside their own transaction: they queue
Discord actions (models.discord_actions), so a rolled-back change posts nothing and a post
survives a restart. Every message of one posted record shares one action key
(`post:<record>`), so the bot carries out its post, edits and delete in order, and a newer
state replaces a waiting older one:

- a POST action means "this record's message shows this": the bot sends it when the record
  has no message yet, and edits the message when it has one. An edit while the first post
  still waits therefore simply replaces it with a post of the new content.
- a DELETE_POST action deletes the record's message; a waiting post it replaces is never
  sent, and a post already tried (it may have reached Discord) runs first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from tortoise.transactions import in_transaction

from models import audit, discord_actions, encryption, plugins
from models.actor import Actor
from models.discord_actions import ActionKind
from models.errors import Conflict, NotFound
from models.hubs import Hub
from models.i18n import N_, Lazy, translate
from models.members.tables import Member
from models.posts import templates
from models.posts.schemas import (
    DestinationInput,
    DestinationUpdate,
    DestinationView,
    EmbedTemplate,
    PreviewInput,
    Rendered,
    TemplateForm,
    TestResult,
    TriggerView,
    VariableView,
    parse_webhook,
)
from models.posts.tables import Audience, PostDestination, PostedMessage, PostState
from models.users import User
from models.validation import field_error, field_errors

log = logging.getLogger(__name__)

KEY = "posts"
MANAGE = "manage_posts"
MAX_DESTINATIONS = 50  # per hub: the list is shown whole, without pages
LIVE = (PostState.PENDING, PostState.POSTED)  # records whose message exists or will


def post_key(record_id: int) -> str:
    return f"post:{record_id}"


# Triggers


def trigger_views(locale: str | None) -> list[TriggerView]:
    """Every installed trigger with its variables and default template, in `locale`."""
    views = []
    for package in plugins.packages():
        for key, trigger in package.triggers.items():
            default = _default_template(trigger, locale)
            views.append(
                TriggerView(
                    key=key,
                    label=translate(trigger.label, locale),
                    package=package.key,
                    variables=[
                        VariableView(name=name, description=translate(text, locale))
                        for name, text in trigger.variables.items()
                    ],
                    content=default[0],
                    embed=EmbedTemplate(**default[1]),
                )
            )
    return views


async def triggers(actor: Actor, hub: Hub, locale: str | None) -> list[TriggerView]:
    await plugins.enter(actor, hub, KEY, None, write=False)
    return trigger_views(locale)


def _default_template(trigger: plugins.PostTrigger, locale: str | None) -> tuple[str, dict]:
    def text(message: str) -> str:
        return translate(message, locale) if message else ""

    embed = {"title": text(trigger.title), "description": text(trigger.description)}
    return text(trigger.content), {k: v for k, v in embed.items() if v}


def _trigger(key: str) -> plugins.PostTrigger:
    trigger = templates.trigger_of(key)
    if trigger is None:
        raise field_error(("trigger",), Lazy(N_("unknown trigger {key}"), key=key[:64]))
    return trigger


def check_template(trigger: plugins.PostTrigger, content: str, embed: Mapping[str, Any]) -> None:
    """422 naming every field of the template that is wrong (unknown variable, too long)."""
    found = templates.problems(trigger, content, embed)
    if found:
        raise field_errors([{"field": p.field, "message": p.message} for p in found])


# Destinations


async def destination_in(hub: Hub, destination_id: int) -> PostDestination:
    """A destination of this hub; another hub's id is as unknown as a missing one (404)."""
    found = await PostDestination.get_or_none(id=destination_id, hub_id=hub.id)
    if found is None:
        raise NotFound(N_("That post destination does not exist."), code="destination_not_found")
    return found


async def destinations(actor: Actor, hub: Hub, trigger: str | None = None) -> list[PostDestination]:
    await plugins.enter(actor, hub, KEY, MANAGE, write=False)
    rows = PostDestination.filter(hub_id=hub.id)
    if trigger is not None:
        rows = rows.filter(trigger=trigger)
    return await rows.order_by("trigger", "id")


async def destination(actor: Actor, hub: Hub, destination_id: int) -> PostDestination:
    await plugins.enter(actor, hub, KEY, MANAGE, write=False)
    return await destination_in(hub, destination_id)


def _target(hub: Hub, channel_id: int | None, webhook_url: str | None) -> dict[str, Any]:
    """The stored form of a channel or webhook target (exactly one of them)."""
    if channel_id is not None and webhook_url is not None:
        message = Lazy(N_("give a channel or a webhook URL, not both"))
        raise field_error(("webhook_url",), message)
    if channel_id is None and webhook_url is None:
        raise field_error(("channel_id",), Lazy(N_("give a channel or a webhook URL")))
    if hub.guild_id is None:
        # The bot serving the hub's server carries its posts out (webhooks included).
        message = Lazy(N_("this hub has no Discord server to post from"))
        raise field_error(("channel_id" if channel_id is not None else "webhook_url",), message)
    if channel_id is not None:
        return {"channel_id": channel_id, "webhook_url": None, "webhook_id": None}
    parsed = parse_webhook(webhook_url or "")
    assert parsed is not None  # the schema checked it
    url = f"https://discord.com/api/webhooks/{parsed[0]}/{parsed[1]}"
    return {"channel_id": None, "webhook_url": encryption.seal(url), "webhook_id": parsed[0]}


async def create_destination(actor: Actor, hub: Hub, data: DestinationInput) -> PostDestination:
    """Post `data.trigger` to a channel or a webhook; no template given: the default one."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    trigger = _trigger(data.trigger)
    if data.content is None and data.embed is None:
        content, embed = _default_template(trigger, hub.language)
    else:
        content = data.content or ""
        embed = data.embed.model_dump(exclude_defaults=True) if data.embed else {}
    check_template(trigger, content, embed)
    url = data.webhook_url.get_secret_value() if data.webhook_url else None
    target = _target(hub, data.channel_id, url)
    _check_crosspost(data.crosspost, target)
    async with in_transaction():
        if await PostDestination.filter(hub_id=hub.id).count() >= MAX_DESTINATIONS:
            raise Conflict(
                N_("A hub has at most {limit} post destinations."),
                code="too_many_destinations",
                limit=MAX_DESTINATIONS,
            )
        created = await PostDestination.create(
            hub_id=hub.id,
            trigger=data.trigger,
            content=content,
            embed=embed,
            audience=Audience(data.audience),
            enabled=data.enabled,
            crosspost=data.crosspost,
            created_by_id=actor.user_id,
            **target,
        )
        await _audit(actor, hub, "posts.destination_created", created)
    return created


async def update_destination(
    actor: Actor, hub: Hub, destination_id: int, data: DestinationUpdate
) -> PostDestination:
    """Change a destination; a new channel or webhook clears the error it showed."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    changes = data.model_dump(exclude_unset=True)
    async with in_transaction():
        found = await destination_in(hub, destination_id)
        before = _details(found)
        content = changes.get("content", found.content)
        embed = found.embed
        if "embed" in changes:
            embed = data.embed.model_dump(exclude_defaults=True) if data.embed else {}
        check_template(_trigger(found.trigger), content, embed)
        found.content, found.embed = content, embed
        if "audience" in changes:
            found.audience = Audience(data.audience or Audience.PUBLIC)
        if "enabled" in changes:
            found.enabled = bool(data.enabled)
        if "crosspost" in changes:
            found.crosspost = bool(data.crosspost)
        if "channel_id" in changes or "webhook_url" in changes:
            url = data.webhook_url.get_secret_value() if data.webhook_url else None
            found.update_from_dict(_target(hub, data.channel_id, url))
            found.last_error = ""  # a new place: the old one's error says nothing about it
        _check_crosspost(found.crosspost, {"webhook_url": found.webhook_url})
        await found.save()
        await audit.record(
            actor,
            "posts.destination_edited",
            hub=hub,
            target=str(found.id),
            details={"before": before, "after": _details(found)},
        )
    return found


def _check_crosspost(crosspost: bool, target: Mapping[str, Any]) -> None:
    """Only the bot's own messages in a channel can be published to following servers."""
    if crosspost and target.get("webhook_url"):
        message = Lazy(N_("only a channel destination can publish to following servers"))
        raise field_error(("crosspost",), message)  # type: ignore[arg-type]


async def set_enabled(
    actor: Actor, hub: Hub, destination_id: int, enabled: bool
) -> PostDestination:
    return await update_destination(actor, hub, destination_id, DestinationUpdate(enabled=enabled))


async def channel_destination(
    actor: Actor, hub: Hub, trigger: str, channel_id: int
) -> PostDestination | None:
    """The destination posting `trigger` to this channel, if there is one."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=False)
    _trigger(trigger)
    rows = PostDestination.filter(hub_id=hub.id, trigger=trigger, channel_id=channel_id)
    return await rows.order_by("id").first()


def default_template(trigger: str, locale: str | None) -> tuple[str, dict[str, Any]]:
    """A trigger's default content and embed, in `locale`."""
    return _default_template(_trigger(trigger), locale)


async def set_channel(
    actor: Actor,
    hub: Hub,
    trigger: str,
    channel_id: int,
    form: TemplateForm,
    audience: str | None = None,
    *,
    crosspost: bool | None = None,
) -> tuple[PostDestination, bool]:
    """Post `trigger` to a channel with this template: the channel's destination for it
    is changed (and enabled), or made. Returns it, and whether it is new."""
    found = await channel_destination(actor, hub, trigger, channel_id)
    if found is None:
        data = DestinationInput(
            trigger=trigger,
            channel_id=channel_id,
            content=form.content,
            embed=form.embed() or EmbedTemplate(),
            audience=audience or "public",  # type: ignore[arg-type]
            crosspost=bool(crosspost),
        )
        return await create_destination(actor, hub, data), True
    # The form holds the texts; the embed's colour, link and images stay as they were.
    kept = {k: v for k, v in found.embed.items() if k not in templates.EMBED_TEXTS}
    embed = {**kept, **(form.embed() or EmbedTemplate()).model_dump(exclude_defaults=True)}
    change: dict[str, Any] = {"content": form.content, "enabled": True, "embed": embed or None}
    if audience is not None:
        change["audience"] = audience
    if crosspost is not None:
        change["crosspost"] = crosspost
    update = DestinationUpdate.model_validate(change)
    return await update_destination(actor, hub, found.id, update), False


async def delete_destination(actor: Actor, hub: Hub, destination_id: int) -> None:
    """Stop posting there; messages already posted stay in Discord."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    async with in_transaction():
        found = await destination_in(hub, destination_id)
        await _audit(actor, hub, "posts.destination_deleted", found)
        await found.delete()


async def _audit(actor: Actor, hub: Hub, action: str, row: PostDestination) -> None:
    await audit.record(actor, action, hub=hub, target=str(row.id), details=_details(row))


def _details(row: PostDestination) -> dict[str, Any]:
    """What the audit log keeps of a destination: never the webhook's URL (its token)."""
    return {
        "trigger": row.trigger,
        "channel_id": str(row.channel_id) if row.channel_id else None,
        "webhook_id": str(row.webhook_id) if row.webhook_id else None,
        "audience": str(row.audience),
        "enabled": row.enabled,
        "crosspost": row.crosspost,
        "content": row.content,
        "embed": dict(row.embed),
    }


def destination_view(row: PostDestination) -> DestinationView:
    return DestinationView(
        id=row.id,
        trigger=row.trigger,
        kind="webhook" if row.webhook_url else "channel",
        channel_id=str(row.channel_id) if row.channel_id else None,
        webhook_id=str(row.webhook_id) if row.webhook_id else None,
        content=row.content,
        embed=EmbedTemplate(**row.embed) if row.embed else None,
        audience=row.audience.value,
        enabled=row.enabled,
        crosspost=row.crosspost,
        broken=bool(row.last_error),
        last_error=row.last_error,
        created_by=row.created_by_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# Preview and test


async def preview(actor: Actor, hub: Hub, data: PreviewInput) -> Rendered:
    """A stored destination's template, or a draft for a trigger, with sample values."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=False)
    if (data.destination is None) == (data.trigger is None):
        message = Lazy(N_("give a destination or a trigger"))
        raise field_error(("destination",), message)
    if data.destination is not None:
        found = await destination_in(hub, data.destination)
        trigger, content, embed = _trigger(found.trigger), found.content, found.embed
    else:
        trigger = _trigger(data.trigger or "")
        if data.content is None and data.embed is None:
            content, embed = _default_template(trigger, hub.language)
        else:
            content = data.content or ""
            embed = data.embed.model_dump(exclude_defaults=True) if data.embed else {}
        check_template(trigger, content, embed)
    values = templates.sample_values(trigger, data.variables)
    return Rendered.of(templates.rendered(content, embed, values, hub.language))


async def test(actor: Actor, hub: Hub, destination_id: int) -> TestResult:
    """Post the destination's template with sample values now (through the queue)."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    async with in_transaction():
        found = await destination_in(hub, destination_id)
        values = templates.sample_values(_trigger(found.trigger))
        message = templates.rendered(found.content, found.embed, values, hub.language)
        record = await PostedMessage.create(
            hub_id=hub.id, destination_id=found.id, source="test", channel_id=found.channel_id
        )
        queued = await _queue(hub, found, record, message)
        await _audit(actor, hub, "posts.tested", found)
    return TestResult(queued=queued, preview=Rendered.of(message))


# What other packages call, inside their own transaction


async def emit(
    hub: Hub,
    trigger: str,
    variables: Mapping[str, Any],
    *,
    source: str,
    members_only: bool = False,
    mention_roles: Sequence[int] | None = None,
    continued: Sequence[str] = (),
) -> int:
    """Post `trigger` to each of the hub's enabled destinations for it; return how many.

    `source` names the object the post is about ("member:12", "announcement:7"), so
    `update_source`/`delete_source` find its messages. `members_only` items never reach a
    public destination. `mention_roles` (Discord role ids): the only mentions that may
    ping; None: users and roles (never @everyone). `continued`: the rest of a `{body}` too
    long for one message, posted as more messages after it where the template shows the
    body. Rendered now, in the hub's language: a post is for a channel.
    """
    if templates.trigger_of(trigger) is None:
        raise ValueError(f"no package declares the post trigger {trigger!r}")
    if hub.guild_id is None:
        return 0
    rows = await PostDestination.filter(hub_id=hub.id, trigger=trigger, enabled=True).order_by("id")
    queued = 0
    for row in rows:
        if members_only and row.audience == Audience.PUBLIC:
            continue
        record = await PostedMessage.create(
            hub_id=hub.id, destination_id=row.id, source=source[:64], channel_id=row.channel_id
        )
        message = _message(row, variables, hub, mention_roles, continued)
        queued += await _queue(hub, row, record, message)
    return queued


async def update_source(
    hub: Hub,
    source: str,
    variables: Mapping[str, Any],
    *,
    members_only: bool = False,
    mention_roles: Sequence[int] | None = None,
    continued: Sequence[str] = (),
) -> int:
    """Edit every message posted for `source` to show `variables` now (more messages for a
    longer `continued`, fewer for a shorter one); an item that became members-only is
    deleted from public destinations instead. Returns how many changed."""
    if hub.guild_id is None:
        return 0
    records = await _live(hub, source)
    for record in records:
        row = record.destination
        if members_only and row.audience == Audience.PUBLIC:
            await _queue_delete(hub, record)
            continue
        await _queue(hub, row, record, _message(row, variables, hub, mention_roles, continued))
    return len(records)


def _message(
    row: PostDestination,
    variables: Mapping[str, Any],
    hub: Hub,
    mention_roles: Sequence[int] | None,
    continued: Sequence[str],
) -> dict[str, Any]:
    message = templates.rendered(row.content, row.embed, variables, hub.language)
    if mention_roles is not None:
        message["mention_roles"] = [int(r) for r in mention_roles]
    if continued and _shows_body(row):
        color = (message.get("embed") or {}).get("color")
        tint = {} if color is None else {"color": color}
        message["more"] = [{"description": part, **tint} for part in continued]
    return message


def _shows_body(row: PostDestination) -> bool:
    """Whether the destination's template shows the `{body}` variable (then the rest of a
    long body follows the post; a template without it has nothing to continue)."""
    texts = [row.content, *(v for v in row.embed.values() if isinstance(v, str))]
    return any("{body}" in text for text in texts)


async def delete_source(hub: Hub, source: str) -> int:
    """Delete every message posted for `source` (those not sent yet are never sent)."""
    if hub.guild_id is None:
        return 0
    records = await _live(hub, source)
    for record in records:
        await _queue_delete(hub, record)
    return len(records)


async def _live(hub: Hub, source: str) -> list[PostedMessage]:
    return (
        await PostedMessage.filter(hub_id=hub.id, source=source[:64], state__in=LIVE)
        .select_related("destination")
        .order_by("id")
    )


async def _queue(
    hub: Hub, row: PostDestination, record: PostedMessage, message: dict[str, Any]
) -> bool:
    assert hub.guild_id is not None
    action = await discord_actions.enqueue(
        hub.id,
        hub.guild_id,
        ActionKind.POST,
        target_key=post_key(record.id),
        channel_id=row.channel_id,
        payload={"post": record.id, **message},
    )
    return action is not None


async def _queue_delete(hub: Hub, record: PostedMessage) -> None:
    assert hub.guild_id is not None
    await discord_actions.enqueue(
        hub.id,
        hub.guild_id,
        ActionKind.DELETE_POST,
        target_key=post_key(record.id),
        channel_id=record.channel_id,
        payload={"post": record.id},
    )
    # Until the bot says otherwise it is on its way out: a second delete finds nothing.
    await PostedMessage.filter(id=record.id).update(state=PostState.DELETED)


async def emit_member(hub: Hub, trigger: str, member: Member, **extra: Any) -> int:
    """A `member.*` trigger with the member's variables (and `extra` ones, e.g. the rank)."""
    wanted = PostDestination.filter(hub_id=hub.id, trigger=trigger, enabled=True)
    if hub.guild_id is None or not await wanted.exists():
        return 0  # the common case: one cheap query, no user read
    user = member.user if isinstance(member.user, User) else None
    if user is None:  # a booking's member row carries the ids and totals only
        user = await User.get(memberships__id=member.id)
    variables = {
        "hub": hub.name,
        "member": user.username,
        "mention": f"<@{user.discord_id}>" if user.discord_id else user.username,
        "number": str(member.number) if member.number is not None else "",
        **{name: str(value) for name, value in extra.items()},
    }
    return await emit(hub, trigger, variables, source=f"{trigger}:{member.id}")
