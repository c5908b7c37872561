"""/downloads through the emulator: a member gets a personal link button per item they may
see (never the item's address), visitors are turned away, and the links work."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import ClientSession

from models.actor import SYSTEM
from models.downloads import Download, DownloadLink, ops
from models.downloads.schemas import DownloadInput
from models.members.roles import RoleInput, create_role
from models.members.tables import Member
from tests.cogs.test_members import accepted, known, world
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord


def _buttons(reply: object) -> list[dict]:
    return [button for row in reply.components for button in row["components"]]  # type: ignore[attr-defined]


async def test_downloads_gives_members_a_link_button_per_item(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    skinners = await create_role(SYSTEM, w.hub, RoleInput(name="Skinners", position=5))
    guide = DownloadInput(title="Route guide", url="https://example.com/guide.pdf", pinned=True)
    await ops.create(SYSTEM, w.hub, guide)
    secret = DownloadInput(title="Skin pack", url="https://example.com/s", role_ids=[skinners.id])
    await ops.create(SYSTEM, w.hub, secret)
    await ops.create(SYSTEM, w.hub, DownloadInput(title="Not uploaded yet"))
    await known(w.hub, w.driver.id, "dave")
    async with start_app() as app:
        visitor = await w.driver.run("downloads", guild=w.guild)
        await accepted(w.hub, await Member.get(hub_id=w.hub.id, user__discord_id=w.driver.id))
        member = await w.driver.run("downloads", guild=w.guild)
        (button,) = _buttons(member)
        link = urlsplit(button["url"])
        async with ClientSession() as http:
            followed = await http.get(f"{app.web_url}{link.path}", allow_redirects=False)
    assert visitor.ephemeral
    assert "Only members" in visitor.content, visitor.content
    assert member.ephemeral
    embed = member.original.embeds[0]
    assert [f["name"] for f in embed["fields"]] == ["📌 Route guide"]
    assert "5 minutes" in embed["description"]
    assert button["label"] == "Route guide"
    assert "example.com" not in button["url"]  # the real address stays hidden
    assert followed.status == 302
    assert followed.headers["Location"] == "https://example.com/guide.pdf"
    assert await DownloadLink.filter(user__discord_id=w.driver.id).count() == 1
    assert (await Download.get(title="Route guide")).clicks == 1


async def test_downloads_says_when_there_is_nothing(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    await accepted(w.hub, w.alice_row)
    async with start_app():
        reply = await w.alice.run("downloads", guild=w.guild)
    assert reply.original.embeds[0]["description"] == "Nothing to download yet."
    assert reply.components == []
