"""Hub posts in the database: template checks, destinations, and emit/update/delete queueing
the right Discord actions (public vs members-only, superseding, cancelling)."""

from __future__ import annotations

from typing import Any

import pytest

from models import discord_actions, encryption, users
from models.actor import SYSTEM, Actor
from models.audit import AuditLog
from models.discord_actions import ActionKind, ActionStatus, DiscordAction
from models.errors import Forbidden, Invalid, NotFound
from models.hubs import Hub, ensure_hub_for_guild
from models.members import Member, ensure_member, lifecycle
from models.points.ledger import CorrectionInput, GrantInput, correct, grant
from models.points.ranks import RankInput, create_rank
from models.posts import PostDestination, PostedMessage, PostState, ops, templates
from models.posts.schemas import DestinationInput, DestinationUpdate, PreviewInput
from models.validation import validate

GUILD = 5_000_000_001
CHANNEL = 6_000_000_001
HOOK = "https://discord.com/api/webhooks/123456789012345678/" + "t" * 64


async def road_kings(guild_id: int | None = GUILD) -> Hub:
    if guild_id is None:
        from models.hubs import create_hub

        return await create_hub(SYSTEM, "Web Only")
    return await ensure_hub_for_guild(guild_id, f"Road Kings {guild_id}", 10)


def body(**fields: Any) -> DestinationInput:
    return validate(
        DestinationInput, {"trigger": "member.accepted", "channel_id": CHANNEL} | fields
    )


def fields_of(error: Invalid) -> dict[str, str]:
    return {e["field"]: str(e["message"]) for e in error.params["errors"]}


async def accepted(hub: Hub, name: str = "alice", discord_id: int = 7001) -> Member:
    user = await users.user_for_discord(discord_id, name)
    member = await ensure_member(hub.id, user)
    accepted, _ = await lifecycle.accept(SYSTEM, hub, member.id)
    return accepted


async def posts() -> list[DiscordAction]:
    kinds = (ActionKind.POST, ActionKind.DELETE_POST)
    return await DiscordAction.filter(kind__in=kinds).order_by("id")


async def pending_posts() -> list[DiscordAction]:
    return [a for a in await posts() if a.status == ActionStatus.PENDING]


# Templates


def test_variables_are_found_and_filled_without_str_format() -> None:
    text = "Hi {member} {{literal}} {member.__class__} {0:>9}"
    assert list(templates.variables_in(text)) == ["member", "member.__class__"]
    assert templates.fill(text, {"member": "Al"}) == "Hi Al {literal}  {0:>9}"


async def test_an_unknown_variable_is_refused_naming_the_field_and_the_variable() -> None:
    hub = await road_kings()
    data = body(content="Hi {membre}", embed={"title": "{hub}", "footer": "{rank}"})
    with pytest.raises(Invalid) as refused:
        await ops.create_destination(SYSTEM, hub, data)
    problems = fields_of(refused.value)
    assert set(problems) == {"content", "embed.footer"}
    assert "{membre}" in problems["content"]
    assert "{mention}" in problems["content"]  # the variables it could have used
    assert "{rank}" in problems["embed.footer"]


async def test_limits_are_checked_on_the_sample_rendering() -> None:
    hub = await road_kings()
    # Each {mention} renders as [mention], as long as itself: 1,990 characters fit.
    fits = "{mention}" * 221 + "x"
    await ops.create_destination(SYSTEM, hub, body(content=fits))
    # Each text within its own limit, together over the embed's 6,000.
    total = body(embed={"description": "x" * 4096, "footer": "y" * 2000})
    with pytest.raises(Invalid) as embed:
        await ops.create_destination(SYSTEM, hub, total)
    assert list(fields_of(embed.value)) == ["embed"]
    with pytest.raises(Invalid) as url:
        await ops.create_destination(SYSTEM, hub, body(embed={"title": "a", "url": "ftp://x"}))
    assert list(fields_of(url.value)) == ["embed.url"]
    with pytest.raises(Invalid) as empty:
        await ops.create_destination(SYSTEM, hub, body(content="", embed={"color": 5}))
    assert list(fields_of(empty.value)) == ["content"]


def test_schema_limits_name_the_field() -> None:
    with pytest.raises(Invalid) as refused:
        body(content="x" * 2001)
    assert list(fields_of(refused.value)) == ["content"]
    with pytest.raises(Invalid) as title:
        body(embed={"title": "x" * 257})
    assert list(fields_of(title.value)) == ["embed.title"]
    with pytest.raises(Invalid) as url:
        body(webhook_url="https://example.com/api/webhooks/1/2", channel_id=None)
    assert list(fields_of(url.value)) == ["webhook_url"]


async def test_rendering_cuts_long_values_instead_of_breaking_discords_limits() -> None:
    message = templates.rendered(
        "{member} joined",
        {"title": "{member}", "url": "https://x.test/{member}"},
        {"member": "a" * 3000},
        "en",
    )
    assert len(message["content"]) == templates.CONTENT
    assert message["content"].endswith("…")
    assert len(message["embed"]["title"]) == templates.TITLE
    assert "url" not in message["embed"]  # a URL past 2,048 would fail the post: left out
    assert templates.rendered("{member}", {}, {}, "en")["content"] == "…"  # never empty


# Destinations


async def test_a_destination_takes_the_trigger_default_template_in_the_hubs_language() -> None:
    hub = await road_kings()
    hub.language = "de"
    await hub.save()
    created = await ops.create_destination(SYSTEM, hub, body())
    assert created.content != ""
    assert "{mention}" in created.content
    assert await AuditLog.filter(action="posts.destination_created", hub_id=hub.id).exists()


async def test_channel_xor_webhook_and_the_webhook_is_sealed_and_never_shown() -> None:
    hub = await road_kings()
    with pytest.raises(Invalid) as both:
        await ops.create_destination(SYSTEM, hub, body(webhook_url=HOOK))
    assert list(fields_of(both.value)) == ["webhook_url"]
    with pytest.raises(Invalid) as neither:
        await ops.create_destination(SYSTEM, hub, body(channel_id=None))
    assert list(fields_of(neither.value)) == ["channel_id"]
    for host in ("discordapp.com", "ptb.discord.com", "canary.discord.com"):
        url = HOOK.replace("discord.com", host)
        await ops.create_destination(SYSTEM, hub, body(channel_id=None, webhook_url=url))
    hook = await PostDestination.filter(hub_id=hub.id).first()
    assert hook is not None
    assert encryption.is_sealed(hook.webhook_url or "")
    assert "t" * 64 not in (hook.webhook_url or "")
    view = ops.destination_view(hook)
    assert (view.kind, view.webhook_id) == ("webhook", "123456789012345678")
    assert "t" * 64 not in view.model_dump_json()
    entries = await AuditLog.filter(hub_id=hub.id).values_list("details", flat=True)
    assert all("t" * 64 not in str(details) for details in entries)


async def test_a_hub_without_a_server_cannot_have_destinations() -> None:
    hub = await road_kings(None)
    with pytest.raises(Invalid) as refused:
        await ops.create_destination(SYSTEM, hub, body())
    assert list(fields_of(refused.value)) == ["channel_id"]


async def test_another_hubs_destination_is_not_found_and_staff_need_manage_posts() -> None:
    hub, other = await road_kings(), await road_kings(GUILD + 1)
    theirs = await ops.create_destination(SYSTEM, other, body())
    with pytest.raises(NotFound):
        await ops.destination(SYSTEM, hub, theirs.id)
    with pytest.raises(NotFound):
        await ops.update_destination(SYSTEM, hub, theirs.id, DestinationUpdate(enabled=False))
    alice = await accepted(hub)
    with pytest.raises(Forbidden):
        await ops.destinations(Actor(alice.user_id), hub)


async def test_an_update_checks_the_template_and_a_new_channel_clears_the_error() -> None:
    hub = await road_kings()
    created = await ops.create_destination(SYSTEM, hub, body())
    await PostDestination.filter(id=created.id).update(last_error="403 50013 Missing Permissions")
    with pytest.raises(Invalid):
        await ops.update_destination(
            SYSTEM, hub, created.id, validate(DestinationUpdate, {"content": "{nope}"})
        )
    update = validate(DestinationUpdate, {"channel_id": CHANNEL + 1, "embed": None})
    changed = await ops.update_destination(SYSTEM, hub, created.id, update)
    assert (changed.channel_id, changed.last_error, changed.embed) == (CHANNEL + 1, "", {})
    to_hook = validate(DestinationUpdate, {"webhook_url": HOOK})
    hooked = await ops.update_destination(SYSTEM, hub, created.id, to_hook)
    assert (hooked.channel_id, hooked.webhook_id) == (None, 123456789012345678)


async def test_preview_renders_samples_and_given_values() -> None:
    hub = await road_kings()
    draft = PreviewInput(trigger="member.accepted", content="Hi {member}, #{number}")
    shown = await ops.preview(SYSTEM, hub, draft)
    assert shown.content == "Hi [member], #[number]"
    stored = await ops.create_destination(
        SYSTEM, hub, body(content="{member}", embed={"title": "Welcome to {hub}"})
    )
    given = PreviewInput(destination=stored.id, variables={"member": "alice"})
    shown = await ops.preview(SYSTEM, hub, given)
    assert shown.content == "alice"
    assert shown.embed is not None
    assert shown.embed.title == "Welcome to [hub]"
    with pytest.raises(Invalid):
        await ops.preview(SYSTEM, hub, PreviewInput(trigger="member.acepted"))


# Emitting


async def test_accepting_a_member_queues_one_post_per_enabled_destination() -> None:
    hub = await road_kings()
    await ops.create_destination(SYSTEM, hub, body(content="Welcome {mention}, #{number}!"))
    await ops.create_destination(SYSTEM, hub, body(enabled=False))
    await ops.create_destination(SYSTEM, hub, body(trigger="member.left"))
    member = await accepted(hub)
    (action,) = await posts()
    assert action.kind == ActionKind.POST
    assert action.channel_id == CHANNEL
    assert action.payload["content"] == "Welcome <@7001>, #1!"
    record = await PostedMessage.get(id=action.payload["post"])
    assert (record.source, record.state) == (f"member.accepted:{member.id}", PostState.PENDING)
    await lifecycle.dismiss(SYSTEM, hub, member.id, "inactive")
    assert [a.payload["content"] for a in await posts()][1] == "alice is no longer with us."


async def test_a_rank_up_is_posted_but_not_a_rank_down() -> None:
    hub = await road_kings()
    await ops.create_destination(
        SYSTEM, hub, body(trigger="member.rank_up", content="{member}: {previous} -> {rank}")
    )
    await create_rank(SYSTEM, hub, RankInput(name="Rookie", threshold=0))
    await create_rank(SYSTEM, hub, RankInput(name="Pro", threshold=100))
    member = await accepted(hub)
    await grant(SYSTEM, hub, member.id, GrantInput(amount=50, reason="convoy"))
    await grant(SYSTEM, hub, member.id, GrantInput(amount=100, reason="convoy"))
    await correct(SYSTEM, hub, member.id, CorrectionInput(amount=-150, reason="mistake"))
    contents = [a.payload["content"] for a in await posts()]
    assert contents == ["alice:  -> Rookie", "alice: Rookie -> Pro"]


async def test_members_only_items_never_reach_a_public_destination() -> None:
    hub = await road_kings()
    public = await ops.create_destination(SYSTEM, hub, body(content="{member}"))
    private = await ops.create_destination(
        SYSTEM, hub, body(content="{member}", audience="members", channel_id=CHANNEL + 1)
    )
    values = {"member": "x"}
    assert await ops.emit(hub, "member.accepted", values, source="thing:1", members_only=True) == 1
    assert [a.channel_id for a in await posts()] == [CHANNEL + 1]
    assert await ops.emit(hub, "member.accepted", values, source="thing:2") == 2
    records = await PostedMessage.filter(source="thing:2").values_list("destination_id", flat=True)
    assert sorted(records) == sorted([public.id, private.id])
    # An item that becomes members-only is taken down where the public reads it.
    await ops.update_source(hub, "thing:2", values, members_only=True)
    kinds = [(a.kind, a.channel_id) for a in await pending_posts()]
    assert (ActionKind.DELETE_POST, CHANNEL) in kinds


async def test_an_edit_while_the_post_waits_replaces_it_with_the_new_content() -> None:
    hub = await road_kings()
    await ops.create_destination(SYSTEM, hub, body(content="{member}"))
    await ops.emit(hub, "member.accepted", {"member": "old"}, source="thing:1")
    assert await ops.update_source(hub, "thing:1", {"member": "new"}) == 1
    (waiting,) = await pending_posts()
    assert (waiting.kind, waiting.payload["content"]) == (ActionKind.POST, "new")


async def test_an_edit_of_a_post_in_flight_is_queued_after_it() -> None:
    hub = await road_kings()
    await ops.create_destination(SYSTEM, hub, body(content="{member}"))
    await ops.emit(hub, "member.accepted", {"member": "old"}, source="thing:1")
    (claimed,) = await discord_actions.claim_due([GUILD])  # the bot is sending it
    await ops.update_source(hub, "thing:1", {"member": "new"})
    waiting = await pending_posts()
    assert [a.payload["content"] for a in waiting] == ["old", "new"]
    # Only the oldest of a target is claimed: the edit waits for the post's message id.
    assert await discord_actions.claim_due([GUILD]) == []
    await discord_actions.mark_done(claimed)
    (then,) = await discord_actions.claim_due([GUILD])
    assert then.payload["content"] == "new"


async def test_a_delete_of_a_waiting_post_means_it_is_never_sent() -> None:
    hub = await road_kings()
    await ops.create_destination(SYSTEM, hub, body(content="{member}"))
    await ops.emit(hub, "member.accepted", {"member": "x"}, source="thing:1")
    assert await ops.delete_source(hub, "thing:1") == 1
    (deleting,) = await pending_posts()
    assert deleting.kind == ActionKind.DELETE_POST
    assert (await PostedMessage.get(id=deleting.payload["post"])).state == PostState.DELETED
    assert await ops.delete_source(hub, "thing:1") == 0  # nothing live is left


async def test_a_post_tried_once_is_not_replaced_by_a_delete() -> None:
    """It may have reached Discord before the crash: it runs again (its nonce returns the
    message), then the delete."""
    hub = await road_kings()
    await ops.create_destination(SYSTEM, hub, body(content="{member}"))
    await ops.emit(hub, "member.accepted", {"member": "x"}, source="thing:1")
    (tried,) = await discord_actions.claim_due([GUILD])
    await discord_actions.mark_retry(tried, "503", retry_after=0)
    await ops.delete_source(hub, "thing:1")
    assert [a.kind for a in await pending_posts()] == [ActionKind.POST, ActionKind.DELETE_POST]
    # And a failed retry of it is not skipped for the newer action either.
    (again,) = await discord_actions.claim_due([GUILD])
    await discord_actions.mark_retry(again, "503", retry_after=0)
    assert (await DiscordAction.get(id=again.id)).status == ActionStatus.PENDING


async def test_a_permanent_failure_shows_on_the_destination() -> None:
    hub = await road_kings()
    created = await ops.create_destination(SYSTEM, hub, body(content="{member}"))
    await ops.emit(hub, "member.accepted", {"member": "x"}, source="thing:1")
    (action,) = await discord_actions.claim_due([GUILD])
    await discord_actions.mark_failed(action, "404 10003 Unknown Channel")
    broken = ops.destination_view(await PostDestination.get(id=created.id))
    assert broken.broken
    assert broken.last_error == "404 10003 Unknown Channel"
    assert (await PostedMessage.get(id=action.payload["post"])).state == PostState.FAILED
    assert await AuditLog.filter(action="discord.action_failed", hub_id=hub.id).exists()


async def test_test_queues_a_sample_post_now() -> None:
    hub = await road_kings()
    created = await ops.create_destination(SYSTEM, hub, body(content="Hi {member}"))
    result = await ops.test(SYSTEM, hub, created.id)
    assert result.queued
    assert result.preview.content == "Hi [member]"
    (action,) = await posts()
    assert action.payload["content"] == "Hi [member]"


async def test_emit_in_a_hub_without_destinations_or_server_queues_nothing() -> None:
    hub = await road_kings(None)
    assert await ops.emit(hub, "member.accepted", {}, source="x:1") == 0
    with pytest.raises(ValueError, match="post trigger"):
        await ops.emit(hub, "no.such.trigger", {}, source="x:1")
