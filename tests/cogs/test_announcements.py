"""Announcements in Discord through the emulator: /announce (type list, form, publication,
refusals in the form's terms) and /announcements."""

from __future__ import annotations

from models.actor import SYSTEM
from models.announcements import Announcement, AnnouncementType, ops
from models.announcements.schemas import AnnouncementInput, AnnouncementTypeInput
from models.members.roles import RoleInput, create_role, give_role
from models.members.tables import Member, Role
from tests.cogs.test_applications import settled
from tests.cogs.test_members import accepted, known, world
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord


async def _types(hub: object) -> None:
    await ops.create_type(SYSTEM, hub, AnnouncementTypeInput(key="news", name="News"))  # type: ignore[arg-type]
    await ops.create_type(SYSTEM, hub, AnnouncementTypeInput(key="maint", name="Maintenance"))  # type: ignore[arg-type]


async def test_a_publisher_announces_through_the_form(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await _types(w.hub)
    writers = await create_role(SYSTEM, w.hub, RoleInput(name="Writers", position=5))
    await AnnouncementType.filter(key="news").update(publisher_role_ids=[writers.id])
    await give_role(SYSTEM, w.hub, (await accepted(w.hub, w.alice_row)).id, writers.id)
    ping = w.guild.create_role("Drivers")
    await Role.filter(id=writers.id).update(discord_role_id=ping.id)
    async with start_app():
        offered = await w.alice.autocomplete("announce", "type", "", guild=w.guild)
        form = await w.alice.run(
            "announce", guild=w.guild, type="news", options={"ping": ping, "pinned": True}
        )
        done = await w.alice.submit_modal(form, title="Convoy tonight", body="Be **on time**.")
        refused = await w.alice.run("announce", guild=w.guild, type="maint")
        await settled(discord)
    assert offered == [{"name": "News", "value": "news"}]  # only what alice may publish
    assert form.modal is not None
    assert done.ephemeral
    assert done.content == "Published: Convoy tonight."
    row = await Announcement.get(title="Convoy tonight")
    assert (row.body, row.pinned, row.published, row.ping_role_id) == (
        "Be **on time**.",
        True,
        True,
        writers.id,
    )
    assert refused.ephemeral
    assert "may not publish" in refused.content, refused.content


async def test_announcements_lists_what_the_reader_may_read(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await _types(w.hub)
    for title, visibility in (("Open day", "public"), ("Staff only news", "members")):
        data = AnnouncementInput(type="news", title=title, body="Text", visibility=visibility)
        await ops.publish(SYSTEM, w.hub, data)
    await known(w.hub, w.driver.id, "dave")
    async with start_app():
        visitor = await w.driver.run("announcements", guild=w.guild)
        await accepted(w.hub, await Member.get(hub_id=w.hub.id, user__discord_id=w.driver.id))
        member = await w.driver.run("announcements", guild=w.guild)
    shown = [f["name"] for f in visitor.original.embeds[0]["fields"]]
    assert shown == ["News: Open day"]
    assert len(member.original.embeds[0]["fields"]) == 2
