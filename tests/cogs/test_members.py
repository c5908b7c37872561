"""/profile, /member and /audit through the Discord emulator: the real bot, over real sockets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from models import hubs, members, users
from models.actor import SYSTEM
from models.audit import AuditLog
from models.hubs import Hub
from models.members import (
    Ban,
    Member,
    MemberRole,
    MembershipChange,
    MemberState,
    Role,
    StaffNote,
    lifecycle,
    roles,
)
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import Guild, User

VIEW_AUDIT_LOG = 1 << 7
MANAGE_ROLES = 1 << 28


@dataclass
class World:
    guild: Guild
    hub: Hub
    owner: User  # every hub permission
    driver: User  # no hub role
    alice: User  # in the server; a visitor of the hub until accepted
    alice_row: Member


async def known(hub: Hub, discord_id: int, name: str) -> Member:
    """Someone the hub has seen (a visitor), as the bot records them."""
    user = await users.user_for_discord(discord_id, name)
    member = await members.sync_discord_state(hub.id, user, [], is_admin=False)
    return await lifecycle.member_in(hub, member.id)


async def world(discord: FakeDiscord, *, driver_locale: str = "en-US") -> World:
    owner = discord.user("olga")
    driver = discord.user("dave", locale=driver_locale)
    alice = discord.user("alice")
    guild = discord.guild("Road Kings", owner=owner)
    guild.add_member(driver)
    guild.add_member(alice)
    hub = await hubs.ensure_hub_for_guild(guild.id, "Road Kings", owner.id)
    return World(guild, hub, owner, driver, alice, await known(hub, alice.id, "alice"))


async def accepted(hub: Hub, member: Member) -> Member:
    await lifecycle.accept(SYSTEM, hub, member.id)
    return await Member.get(id=member.id)


async def test_commands_show_to_the_right_people(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    await world(discord)
    async with start_app():
        pass
    profile = discord.commands.find("profile", None)
    staff = discord.commands.find("member", None)
    audit = discord.commands.find("audit", None)
    assert profile is not None
    assert staff is not None
    assert audit is not None
    assert profile["default_member_permissions"] is None  # every driver sees /profile
    assert staff["default_member_permissions"] == str(MANAGE_ROLES)
    assert audit["default_member_permissions"] == str(VIEW_AUDIT_LOG)
    assert profile["contexts"] == staff["contexts"] == audit["contexts"] == [0]
    names = {option["name"] for option in staff["options"]}
    assert names == {"accept", "dismiss", "ban", "unban", "role", "note", "points"}


async def test_profile_shows_a_members_card_to_everyone(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    alice = await accepted(w.hub, w.alice_row)
    await Member.filter(id=alice.id).update(points=1234)
    drivers = await Role.create(hub=w.hub, name="Drivers", position=1, color=0x3366FF)
    await MemberRole.create(member_id=alice.id, role_id=drivers.id)
    async with start_app():
        reply = await w.driver.run("profile", guild=w.guild, member=str(alice.id))
        own = await w.alice.run("profile", guild=w.guild)
    assert not reply.ephemeral
    embed = reply.embeds[0]
    assert embed["title"] == "alice"
    assert embed["color"] == 0x3366FF
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields == {
        "Member number": "#1",
        "Joined": f"<t:{int(alice.joined_at.timestamp())}:D>",
        "State": "Member",
        "Points": "1,234",
        "Rank": "None",
        "Roles": "Drivers",
    }
    assert own.embeds[0]["title"] == "alice"
    assert not own.ephemeral


async def test_profile_of_a_visitor_is_hidden_from_drivers_in_their_language(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord, driver_locale="de")
    async with start_app():
        hidden = await w.driver.run("profile", guild=w.guild, member=str(w.alice_row.id))
        unknown = await w.driver.run("profile", guild=w.guild, member="nobody")
        staff = await w.owner.run("profile", guild=w.guild, member=str(w.alice_row.id))
    assert hidden.ephemeral
    assert hidden.content == "Dieses Mitglied gibt es nicht."
    assert unknown.ephemeral
    assert "nobody" in unknown.content
    # Staff see a visitor's card, privately: the channel does not learn who is not a member.
    assert staff.ephemeral
    fields = {f["name"]: f["value"] for f in staff.embeds[0]["fields"]}
    assert (fields["State"], fields["Member number"]) == ("Visitor", "None")


async def test_member_autocomplete_matches_names_in_any_case_and_script(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    arger = await accepted(w.hub, await known(w.hub, 9001, "Ärger"))
    armel = await known(w.hub, 9002, "Ärmel")  # a visitor
    await accepted(w.hub, await known(w.hub, 9003, "Bob"))
    async with start_app():
        one = await w.owner.autocomplete("member accept", "member", "ärg", guild=w.guild)
        staff = await w.owner.autocomplete("member accept", "member", "äR", guild=w.guild)
        await w.driver.run("profile", guild=w.guild)  # the hub records him (autocomplete reads)
        drivers = await w.driver.autocomplete("profile", "member", "ÄR", guild=w.guild)
        number = await w.owner.autocomplete("member dismiss", "member", "#1", guild=w.guild)
        accept = await w.owner.run("member accept", guild=w.guild, member="ärmel")
    assert one == [{"name": "Ärger #1", "value": str(arger.id)}]
    assert [c["name"] for c in staff] == ["Ärger #1", "Ärmel · Visitor"]
    assert [c["value"] for c in staff] == [str(arger.id), str(armel.id)]
    assert [c["name"] for c in drivers] == ["Ärger #1"]  # drivers see members only
    assert [c["value"] for c in number] == [str(arger.id)]
    # Typed text that was not picked still finds the one member it names.
    assert accept.content == "Ärmel is now member #3."


async def test_accept_makes_a_visitor_a_member(discord: FakeDiscord, start_app: AppFactory) -> None:
    w = await world(discord)
    async with start_app():
        reply = await w.owner.run(
            "member accept", guild=w.guild, member=str(w.alice_row.id), reason="Passed the drive"
        )
        again = await w.owner.run("member accept", guild=w.guild, member=str(w.alice_row.id))
        await lifecycle.dismiss(SYSTEM, w.hub, w.alice_row.id, "Inactive")
        fresh = await w.owner.run(
            "member accept", guild=w.guild, member=str(w.alice_row.id), fresh=True
        )
    assert reply.ephemeral
    assert reply.content == "alice is now member #1."
    assert again.ephemeral
    assert again.content == "alice is already a member."  # a 409, answered privately
    assert fresh.content == "alice is now member #2."
    member = await Member.get(id=w.alice_row.id)
    assert (member.state, member.number) == (MemberState.MEMBER, 2)
    change = await MembershipChange.filter(member_id=member.id, action="accepted").first()
    assert change is not None
    assert change.reason == "Passed the drive"


async def test_dismiss_ends_a_membership(discord: FakeDiscord, start_app: AppFactory) -> None:
    w = await world(discord)
    await accepted(w.hub, w.alice_row)
    async with start_app():
        reply = await w.owner.run(
            "member dismiss", guild=w.guild, member=str(w.alice_row.id), reason="Inactive"
        )
    assert reply.ephemeral
    assert reply.content == "alice is no longer a member."
    member = await Member.get(id=w.alice_row.id)
    assert member.state == MemberState.DISMISSED
    change = await MembershipChange.get(member_id=member.id, action="dismissed")
    assert change.reason == "Inactive"


async def test_ban_bans_the_discord_id_for_some_days(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await accepted(w.hub, w.alice_row)
    owner_row = await known(w.hub, w.owner.id, "olga")
    async with start_app():
        reply = await w.owner.run(
            "member ban", guild=w.guild, member="alice", reason="Cheating", days=7
        )
        banned = await w.alice.run("profile", guild=w.guild)
        owner = await w.owner.run("member ban", guild=w.guild, member=str(owner_row.id))
    assert reply.ephemeral
    assert reply.content.startswith("alice is banned from this hub until <t:")
    ban = await Ban.get(hub_id=w.hub.id)
    assert (ban.discord_id, ban.reason) == (w.alice.id, "Cheating")
    assert ban.expires_at is not None
    expected = datetime.now(UTC) + timedelta(days=7)
    assert abs((ban.expires_at - expected).total_seconds()) < 120
    assert (await Member.get(id=w.alice_row.id)).state == MemberState.BANNED
    assert banned.ephemeral
    assert banned.content == "You are banned from this hub."
    assert owner.content == "The hub's owner cannot be banned."
    assert await Ban.filter(hub_id=w.hub.id).count() == 1


async def test_unban_lifts_the_bans_on_a_member(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await accepted(w.hub, w.alice_row)
    async with start_app():
        await w.owner.run("member ban", guild=w.guild, member=str(w.alice_row.id))
        reply = await w.owner.run("member unban", guild=w.guild, member=str(w.alice_row.id))
        again = await w.owner.run("member unban", guild=w.guild, member=str(w.alice_row.id))
        back = await w.alice.run("profile", guild=w.guild)
    assert reply.ephemeral
    assert reply.content == "alice is no longer banned."
    ban = await Ban.get(hub_id=w.hub.id)
    assert ban.lifted_at is not None
    assert (await Member.get(id=w.alice_row.id)).state == MemberState.DISMISSED
    assert again.ephemeral
    assert again.content == "alice is not banned."
    assert back.embeds[0]["title"] == "alice"  # the hub lets her in again


async def linked_role(w: World, discord: FakeDiscord) -> tuple[Role, int]:
    discord_role = w.guild.create_role("Drivers")
    role = await Role.create(hub=w.hub, name="Drivers", position=1, discord_role_id=discord_role.id)
    return role, discord_role.id


async def test_giving_a_linked_role_gives_the_discord_role(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    role, discord_role_id = await linked_role(w, discord)
    async with start_app():
        choices = await w.owner.autocomplete(
            "member role give", "role", "DRIV", guild=w.guild, member=str(w.alice_row.id)
        )
        reply = await w.owner.run(
            "member role give", guild=w.guild, member=str(w.alice_row.id), role=str(role.id)
        )

        def has_role() -> bool:
            return discord_role_id in discord.member(w.guild, w.alice).role_ids

        await discord.wait_for(has_role, 5, "the Discord role to be given")
    assert choices == [{"name": "Drivers", "value": str(role.id)}]
    assert reply.ephemeral
    assert reply.content == "alice now has the role Drivers."
    assert await MemberRole.filter(member_id=w.alice_row.id, role_id=role.id).exists()


async def test_taking_a_linked_role_takes_the_discord_role(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    role, discord_role_id = await linked_role(w, discord)
    await roles.give_role(SYSTEM, w.hub, w.alice_row.id, role.id)
    async with start_app():

        def holds(expected: bool):
            def check() -> bool:
                held = discord_role_id in discord.member(w.guild, w.alice).role_ids
                return held == expected

            return check

        await discord.wait_for(holds(True), 5, "the queued role to be given")
        reply = await w.owner.run("member role take", guild=w.guild, member="alice", role="drivers")
        await discord.wait_for(holds(False), 5, "the Discord role to be taken")
        missing = await w.owner.run(
            "member role take", guild=w.guild, member="alice", role=str(role.id)
        )
    assert reply.content == "alice no longer has the role Drivers."
    assert not await MemberRole.filter(member_id=w.alice_row.id).exists()
    assert missing.ephemeral
    assert missing.content == "alice does not have the role Drivers."


async def test_staff_manage_only_roles_below_their_own(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    sam = discord.user("sam")
    staff_discord = w.guild.create_role("Staff", permissions=MANAGE_ROLES)
    w.guild.add_member(sam, roles=[staff_discord])
    await Role.create(
        hub=w.hub,
        name="Staff",
        position=5,
        permissions=["manage_roles", "manage_members"],
        discord_role_id=staff_discord.id,
    )
    admins = await Role.create(hub=w.hub, name="Admins", position=10)
    drivers = await Role.create(hub=w.hub, name="Drivers", position=1)
    async with start_app():
        refused = await sam.run(
            "member role give", guild=w.guild, member="alice", role=str(admins.id)
        )
        given = await sam.run(
            "member role give", guild=w.guild, member="alice", role=str(drivers.id)
        )
    assert refused.ephemeral
    assert refused.content == "You can only manage roles and members below your highest role."
    assert given.content == "alice now has the role Drivers."
    held = await MemberRole.filter(member_id=w.alice_row.id).values_list("role_id", flat=True)
    assert held == [drivers.id]


async def test_note_opens_a_form_and_keeps_the_note(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    async with start_app():
        form = await w.owner.run("member note", guild=w.guild, member=str(w.alice_row.id))
        saved = await w.owner.submit_modal(form, text="Good driver, late twice.")
    assert form.modal is not None
    assert form.modal["title"] == "Note on alice"
    assert saved.ephemeral
    assert saved.content == "Note saved for alice."
    note = await StaffNote.get(member_id=w.alice_row.id)
    owner = await users.User.get(discord_id=w.owner.id)
    assert (note.text, note.author_id) == ("Good driver, late twice.", owner.id)


async def test_audit_shows_the_latest_entries(discord: FakeDiscord, start_app: AppFactory) -> None:
    w = await world(discord)
    async with start_app():
        await w.owner.run(
            "member accept", guild=w.guild, member=str(w.alice_row.id), reason="Passed the drive"
        )
        everything = await w.owner.run("audit", guild=w.guild)
        about = await w.owner.run("audit", guild=w.guild, member="alice", action="members.")
        none = await w.owner.run("audit", guild=w.guild, action="roles.")
        actions = await w.owner.autocomplete("audit", "action", "mem", guild=w.guild)
    assert everything.ephemeral
    embed = everything.embeds[0]
    assert embed["title"] == "Audit log"
    line = embed["description"].splitlines()[0]
    assert f"`members.accepted` · <@{w.owner.id}> → alice" in line
    assert "> Passed the drive" in embed["description"]
    assert "members.accepted" in about.embeds[0]["description"]
    assert none.embeds[0]["description"] == "No entries match."
    assert [c["value"] for c in actions] == ["members.", "members.accepted"]
    assert await AuditLog.filter(hub_id=w.hub.id, action="members.accepted").exists()


async def test_drivers_are_refused_staff_commands_in_their_language(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord, driver_locale="de")
    # A Discord moderator without a hub role: Discord shows them the staff commands...
    mods = w.guild.create_role("Mods", permissions=MANAGE_ROLES | VIEW_AUDIT_LOG)
    discord.member(w.guild, w.driver).add_roles(mods)
    async with start_app():
        accept = await w.driver.run("member accept", guild=w.guild, member=str(w.alice_row.id))
        audit = await w.driver.run("audit", guild=w.guild)
        choices = await w.driver.autocomplete("member accept", "member", "a", guild=w.guild)
    # ...and the hub refuses them, naming the permission in their language.
    assert accept.ephemeral
    assert accept.content == "Du brauchst in diesem Hub die Berechtigung „Mitglieder verwalten“."
    assert audit.ephemeral
    assert audit.content == "Du brauchst in diesem Hub die Berechtigung „Das Protokoll einsehen“."
    assert choices == []  # no names for who may not manage members
    assert (await Member.get(id=w.alice_row.id)).state == MemberState.VISITOR
