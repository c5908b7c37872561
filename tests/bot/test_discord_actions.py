"""Hub roles, bans and the audit log reaching Discord through the Discord-actions outbox, and
Discord's own role changes and bans coming back to the hub (against the emulator)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from bot.discord_actions import DiscordActionWorker
from bot.runtime import Runtime
from models import audit, discord_actions, users
from models.actor import SYSTEM, Actor
from models.audit import AuditLog
from models.discord_actions import ActionKind, ActionStatus, DiscordAction
from models.hubs import Hub, ensure_hub_for_guild
from models.members import (
    Ban,
    Member,
    MemberRole,
    MembershipChange,
    MemberState,
    Role,
    bans,
    lifecycle,
    roles,
)
from models.members.presence import ensure_member
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import Guild, User
from tests.fakediscord.state import Role as DiscordRole

ADD = "PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}"
REMOVE = "DELETE /guilds/{guild_id}/members/{user_id}/roles/{role_id}"
SEND = "POST /channels/{channel_id}/messages"


@dataclass
class World:
    discord: FakeDiscord
    guild: Guild
    alice: User
    drivers: DiscordRole  # the Discord role linked to the hub role "Drivers"

    def alice_roles(self) -> set[str]:
        member = self.guild.member(self.alice)
        return member.role_names if member else set()


@contextlib.asynccontextmanager
async def running(start_app: AppFactory, world: World) -> AsyncIterator[Runtime]:
    """The app, left only once the bot handled every Discord event the test caused: a handler
    still running would write into the next test's database."""
    async with start_app() as rt:
        yield rt
        assert rt.bot is not None
        bot = rt.bot
        marker = world.guild.create_channel(f"marker-{len(world.guild.channels)}")
        await world.discord.wait_for(lambda: bot.get_channel(marker.id), 5, "the bot to catch up")
        handlers = [t for t in asyncio.all_tasks() if t.get_name().startswith("discord.py: ")]
        if handlers:
            await asyncio.wait(handlers, timeout=5)


def road_kings(discord: FakeDiscord, *, alice_has_drivers: bool = False) -> World:
    guild = discord.guild("Road Kings", owner=discord.user("olga"))
    alice = discord.user("alice")
    drivers = guild.create_role("Drivers")
    guild.add_member(alice, roles=[drivers] if alice_has_drivers else [])
    return World(discord, guild, alice, drivers)


async def hub_of(world: World) -> Hub:
    async def found() -> Hub | None:
        return await Hub.get_or_none(guild_id=world.guild.id)

    return await world.discord.wait_for(found, 5, "the guild's hub")


async def linked_role(hub: Hub, discord_role: DiscordRole, name: str = "Drivers") -> Role:
    return await Role.create(hub=hub, name=name, position=5, discord_role_id=discord_role.id)


async def member_of(hub: Hub, world: World, *, accepted: bool = False) -> Member:
    user = await users.user_for_discord(world.alice.id, "alice")
    member = await ensure_member(hub.id, user)
    if accepted:
        member, _ = await lifecycle.accept(SYSTEM, hub, member.id)
    return member


async def settled(discord: FakeDiscord, action_id: int) -> DiscordAction:
    """Wait until the running worker recorded an outcome for the action."""

    async def outcome() -> DiscordAction | None:
        action = await DiscordAction.get(id=action_id)
        return None if action.status == ActionStatus.PENDING else action

    return await discord.wait_for(outcome, 10, f"Discord action {action_id} to be carried out")


async def role_actions() -> list[DiscordAction]:
    kinds = (ActionKind.ADD_ROLE, ActionKind.REMOVE_ROLE)
    return await DiscordAction.filter(kind__in=kinds).order_by("id")


async def test_giving_and_taking_a_linked_hub_role_follows_in_discord(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    world = road_kings(discord)
    async with running(start_app, world):
        hub = await hub_of(world)
        role = await linked_role(hub, world.drivers)
        member = await member_of(hub, world)
        await roles.give_role(SYSTEM, hub, member.id, role.id, reason="passed the test drive")
        await discord.wait_for(lambda: "Drivers" in world.alice_roles(), 5, "the Discord role")
        await roles.take_role(SYSTEM, hub, member.id, role.id)
        await discord.wait_for(lambda: "Drivers" not in world.alice_roles(), 5, "it taken")
        actions = [await settled(discord, a.id) for a in await role_actions()]
    assert [(a.kind, a.status, a.attempts) for a in actions] == [
        (ActionKind.ADD_ROLE, ActionStatus.DONE, 1),
        (ActionKind.REMOVE_ROLE, ActionStatus.DONE, 1),
    ]
    assert [r.status for r in discord.requests_to(ADD)] == [204]
    assert [r.status for r in discord.requests_to(REMOVE)] == [204]
    # The bot's own changes coming back from Discord did not change the hub a second time.
    changes = await MembershipChange.filter(member_id=member.id).order_by("id")
    assert [c.action for c in changes] == ["role_given", "role_taken"]
    assert not await MemberRole.filter(member_id=member.id).exists()


async def test_give_then_take_before_the_bot_gets_to_it_calls_discord_not_at_all(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    world = road_kings(discord)
    async with running(start_app, world) as rt:
        hub = await hub_of(world)
        role = await linked_role(hub, world.drivers)
        member = await member_of(hub, world)
        async with in_transaction():  # a change of mind before the bot got to it
            await roles.give_role(SYSTEM, hub, member.id, role.id)
            await roles.take_role(SYSTEM, hub, member.id, role.id)
        assert await DiscordAction.filter(status=ActionStatus.PENDING).count() == 0
        assert await DiscordActionWorker(rt.bot).run_once() == 0
    assert discord.requests_to(ADD) == discord.requests_to(REMOVE) == []


async def test_ending_a_membership_takes_the_linked_discord_roles(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    world = road_kings(discord)
    bob = discord.user("bob")
    world.guild.add_member(bob)
    async with running(start_app, world):
        hub = await hub_of(world)
        role = await linked_role(hub, world.drivers)
        alice = await member_of(hub, world, accepted=True)
        bob_user = await users.user_for_discord(bob.id, "bob")
        bob_member, _ = await lifecycle.accept(
            SYSTEM, hub, (await ensure_member(hub.id, bob_user)).id
        )
        for member in (alice, bob_member):
            await roles.give_role(SYSTEM, hub, member.id, role.id)

        def both_have_it() -> bool:
            bobs = world.guild.member(bob)
            return (
                "Drivers" in world.alice_roles()
                and bobs is not None
                and "Drivers" in bobs.role_names
            )

        await discord.wait_for(both_have_it, 5, "both to get the Discord role")
        await lifecycle.dismiss(SYSTEM, hub, alice.id, "inactive for months")
        await lifecycle.resign(Actor(bob_user.id, bob.id), hub, confirm=True)

        def both_lost_it() -> bool:
            bobs = world.guild.member(bob)
            return (
                "Drivers" not in world.alice_roles()
                and bobs is not None
                and "Drivers" not in bobs.role_names
            )

        await discord.wait_for(both_lost_it, 5, "both to lose the Discord role")
    assert len(discord.requests_to(REMOVE)) == 2
    assert not await MemberRole.filter(role_id=role.id).exists()


async def test_a_discord_refusal_is_tried_once_and_written_to_the_audit_log(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    world = road_kings(discord)
    # Above the bot's own role: Discord answers 403 Missing Permissions (50013).
    owners = world.guild.create_role("Owners", position=150)
    staff_log = world.guild.create_channel("staff-log")
    async with running(start_app, world):
        hub = await hub_of(world)
        hub.settings = {"plugins": {"members": {"audit_channels": {"discord": staff_log.id}}}}
        await hub.save(update_fields=["settings"])
        role = await linked_role(hub, owners, name="Owners")
        member = await member_of(hub, world)
        await roles.give_role(SYSTEM, hub, member.id, role.id)
        (action,) = await role_actions()
        failed = await settled(discord, action.id)
        # Staff read why in their channel.
        post = await discord.wait_for(
            lambda: staff_log.last_message, 5, "the failure to be posted in the staff log"
        )
    assert (failed.status, failed.attempts) == (ActionStatus.FAILED, 1)
    assert "50013" in failed.last_error
    assert [r.status for r in discord.requests_to(ADD)] == [403]  # exactly one attempt
    (entry,) = await AuditLog.filter(action="discord.action_failed")
    assert entry.hub_id == hub.id
    assert entry.details["role_id"] == str(owners.id)
    assert "Missing Permissions" in entry.details["error"]
    assert post.embeds[0]["title"] == "discord.action_failed"
    assert "50013" in post.text
    assert "Owners" not in world.alice_roles()


async def test_server_errors_and_rate_limits_are_retried_until_done(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    world = road_kings(discord)
    async with running(start_app, world):
        hub = await hub_of(world)
        role = await linked_role(hub, world.drivers)
        member = await member_of(hub, world)
        discord.fail(ADD, status=503)  # discord.py does not retry a 503 by itself
        await roles.give_role(SYSTEM, hub, member.id, role.id)
        (action,) = await role_actions()

        async def retried() -> DiscordAction | None:
            stored = await DiscordAction.get(id=action.id)
            return stored if stored.last_error else None

        first = await discord.wait_for(retried, 5, "the first attempt to fail")
        assert (first.status, first.attempts) == (ActionStatus.PENDING, 1)
        assert "503" in first.last_error
        assert first.due_at > discord_actions.now()  # backing off
        # More 429s than discord.py waits out by itself: the outbox retries after retry_after.
        discord.rate_limit(ADD, times=5, retry_after=0.01)
        await DiscordAction.filter(id=action.id).update(due_at=discord_actions.now())
        done = await settled(discord, action.id)
        await discord.wait_for(lambda: "Drivers" in world.alice_roles(), 5, "the Discord role")
    assert (done.status, done.attempts) == (ActionStatus.DONE, 3)
    statuses = [r.status for r in discord.requests_to(ADD)]
    assert statuses[0] == 503
    assert statuses[-1] == 204
    assert statuses.count(429) == 5
    assert not await AuditLog.filter(action="discord.action_failed").exists()


async def test_an_action_discord_already_shows_is_done_without_a_call(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    # Carried out just before a crash kept the outcome from being recorded.
    world = road_kings(discord, alice_has_drivers=True)
    async with running(start_app, world) as rt:
        hub = await hub_of(world)
        await discord.wait_for(
            lambda: (g := rt.bot.get_guild(world.guild.id)) and g.get_member(world.alice.id),
            5,
            "alice in the bot's member cache",
        )
        async with in_transaction():  # the running worker sees it only as the crash left it
            action = await discord_actions.enqueue_role(
                hub.id, world.guild.id, world.alice.id, world.drivers.id, add=True
            )
            assert action is not None
            # The crashed process had claimed it; its lease ran out.
            await DiscordAction.filter(id=action.id).update(
                attempts=1, claimed_until=discord_actions.now()
            )
        done = await settled(discord, action.id)
    assert (done.status, done.attempts) == (ActionStatus.DONE, 2)
    assert discord.requests_to(ADD) == []


async def test_a_linked_role_given_by_hand_in_discord_is_given_in_the_hub(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    world = road_kings(discord)
    async with running(start_app, world):
        hub = await hub_of(world)
        role = await linked_role(hub, world.drivers)
        member = await member_of(hub, world)
        discord.member(world.guild, world.alice).add_roles(world.drivers)

        async def given() -> bool:
            return await MemberRole.filter(member_id=member.id, role_id=role.id).exists()

        await discord.wait_for(given, 5, "the hub role to be given")
        discord.member(world.guild, world.alice).remove_roles(world.drivers)

        async def taken() -> bool:
            return not await given()

        await discord.wait_for(taken, 5, "the hub role to be taken")
    changes = await MembershipChange.filter(member_id=member.id).order_by("id")
    assert [(c.action, c.details.get("source")) for c in changes] == [
        ("role_given", "discord"),
        ("role_taken", "discord"),
    ]
    assert changes[0].details["role"] == role.id
    # The bot changed nothing in Discord: the change came from there.
    assert discord.requests_to(ADD) == discord.requests_to(REMOVE) == []
    assert await role_actions() == []


async def test_hub_to_discord_puts_a_hand_given_role_back(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    world = road_kings(discord)
    async with running(start_app, world):
        hub = await hub_of(world)
        hub.settings = {"plugins": {"members": {"discord_roles": "hub_to_discord"}}}
        await hub.save(update_fields=["settings"])
        role = await linked_role(hub, world.drivers)
        member = await member_of(hub, world)
        discord.member(world.guild, world.alice).add_roles(world.drivers)
        await discord.wait_for(lambda: discord.requests_to(REMOVE), 5, "the bot to take it back")
        await discord.wait_for(lambda: "Drivers" not in world.alice_roles(), 5, "the role gone")
        await discord.gateway.flush()  # the bot's own removal comes back as a member update
        (action,) = await role_actions()
        await settled(discord, action.id)
    assert action.kind == ActionKind.REMOVE_ROLE
    assert [r.status for r in discord.requests_to(REMOVE)] == [204]
    assert not await MemberRole.filter(member_id=member.id, role_id=role.id).exists()
    assert not await MembershipChange.filter(member_id=member.id).exists()


async def test_a_discord_ban_bans_in_the_hub_and_an_unban_lifts_it(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    world = road_kings(discord)
    async with running(start_app, world):
        hub = await hub_of(world)
        role = await linked_role(hub, world.drivers)
        member = await member_of(hub, world, accepted=True)
        await roles.give_role(SYSTEM, hub, member.id, role.id)
        await discord.wait_for(lambda: "Drivers" in world.alice_roles(), 5, "the Discord role")
        world.guild.ban(world.alice, reason="ramming in convoys")

        async def mirrored() -> Ban | None:
            return await Ban.get_or_none(hub_id=hub.id, discord_id=world.alice.id)

        ban = await discord.wait_for(mirrored, 5, "the hub ban")
        stored = await Member.get(id=member.id)
        assert stored.state == MemberState.BANNED
        assert (ban.source, ban.reason, ban.lifted_at) == ("discord", "ramming in convoys", None)

        # Taking the role from someone no longer in the server is no failure: they hold none.
        async def take() -> DiscordAction | None:
            return next((a for a in await role_actions() if a.kind == ActionKind.REMOVE_ROLE), None)

        taken = await discord.wait_for(take, 5, "the linked role to be taken")
        assert (await settled(discord, taken.id)).status == ActionStatus.DONE
        world.guild.unban(world.alice)

        async def lifted() -> bool:
            return (await Ban.get(id=ban.id)).lifted_at is not None

        await discord.wait_for(lifted, 5, "the hub ban to be lifted")
    assert (await Member.get(id=member.id)).state == MemberState.DISMISSED
    assert not await MemberRole.filter(member_id=member.id).exists()
    assert not await AuditLog.filter(action="discord.action_failed").exists()
    assert await AuditLog.filter(action="members.ban", hub_id=hub.id).count() == 1
    assert await AuditLog.filter(action="members.unban", hub_id=hub.id).count() == 1


async def test_a_hub_ban_made_by_staff_is_not_lifted_by_a_discord_unban() -> None:
    hub = await ensure_hub_for_guild(4_000_000_001, "Road Kings", 10)
    staff_ban, _ = await bans.ban(SYSTEM, hub, bans.BanInput(discord_id=7001, reason="fraud"))
    assert await bans.discord_banned(hub, 7001, "spam") is None  # one is in force already
    assert await bans.discord_unbanned(hub, 7001) == 0
    assert (await Ban.get(id=staff_ban.id)).lifted_at is None
    assert await Ban.filter(hub_id=hub.id).count() == 1
    # A Discord ban of someone else is mirrored, and lifted with Discord's.
    mirrored = await bans.discord_banned(hub, 7002, None)
    assert mirrored is not None
    assert mirrored.source == "discord"
    assert await bans.discord_unbanned(hub, 7002) == 1
    assert (await Ban.get(id=mirrored.id)).lifted_at is not None


async def test_audit_entries_are_posted_in_the_hubs_audit_channel(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    world = road_kings(discord)
    staff_log = world.guild.create_channel("staff-log")
    async with running(start_app, world):
        hub = await hub_of(world)
        hub.settings = {"audit_channel_id": staff_log.id}
        await hub.save(update_fields=["settings"])
        role = await linked_role(hub, world.drivers)
        member = await member_of(hub, world)
        await roles.give_role(SYSTEM, hub, member.id, role.id, reason="passed the test drive")
        post = await discord.wait_for(
            lambda: staff_log.last_message, 5, "the audit entry in the staff log"
        )
        (action,) = await DiscordAction.filter(kind=ActionKind.POST)
        await settled(discord, action.id)
    assert post.author is discord.bot_user
    (embed,) = post.embeds
    assert embed["title"] == "members.role_given"
    assert "passed the test drive" in post.text
    assert "Drivers" in post.text
    assert post.nonce == f"action-{action.id}"  # a retry would not post twice
    assert world.guild.channel("general").visible_messages == []
    assert [r.status for r in discord.requests_to(SEND)] == [200]


async def test_a_long_audit_entry_is_cut_to_fit_discords_embed_limits(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    world = road_kings(discord)
    staff_log = world.guild.create_channel("staff-log")
    async with running(start_app, world):
        hub = await hub_of(world)
        hub.settings = {"audit_channel_id": staff_log.id}
        await hub.save(update_fields=["settings"])
        details = {f"setting_{n}": "x" * 2000 for n in range(12)}
        await audit.record(SYSTEM, "hub.updated", hub_id=hub.id, target="a" * 128, details=details)
        post = await discord.wait_for(
            lambda: staff_log.last_message, 5, "the audit entry in the staff log"
        )
    (embed,) = post.embeds
    assert embed["title"] == "hub.updated"
    assert embed["fields"][2]["name"] == "setting_0"
    assert embed["fields"][-1]["value"].endswith("…")  # cut deliberately, not refused
    shown = len(embed["title"]) + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert 5900 < shown <= 6000


async def test_only_the_latest_nickname_is_set(discord: FakeDiscord, start_app: AppFactory) -> None:
    world = road_kings(discord)
    async with running(start_app, world):
        hub = await hub_of(world)
        async with in_transaction():  # the bot sees both at once
            queued = [
                await discord_actions.enqueue(
                    hub.id,
                    world.guild.id,
                    ActionKind.NICKNAME,
                    target_key=f"nick:{world.alice.id}",
                    discord_user_id=world.alice.id,
                    payload={"nick": nick},
                )
                for nick in ("Al", "Alice | Road Kings")
            ]
        done = await settled(discord, queued[-1].id)
    assert done.status == ActionStatus.DONE
    assert discord.member(world.guild, world.alice).nick == "Alice | Road Kings"
    assert len(discord.requests_to("PATCH /guilds/{guild_id}/members/{user_id}")) == 1
