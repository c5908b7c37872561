"""/posts and hub posts reaching Discord, through the emulator: the real bot posts, edits and
deletes messages in channels and through webhooks, exactly once."""

from __future__ import annotations

from bot.discord_actions import perform
from models.actor import SYSTEM
from models.discord_actions import ActionKind, ActionStatus, DiscordAction
from models.hubs import Hub
from models.posts import PostDestination, PostedMessage, PostState, ops
from models.posts.schemas import DestinationInput
from tests.cogs.test_members import accepted, world
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import Channel, Message

MANAGE_GUILD = 1 << 5
SEND = "POST /channels/{channel_id}/messages"


async def destination(hub: Hub, channel: Channel | None = None, **fields: object) -> int:
    data = {"trigger": "member.accepted", "content": "Welcome {mention}, #{number}!", **fields}
    if channel is not None:
        data["channel_id"] = channel.id
    row = await ops.create_destination(SYSTEM, hub, DestinationInput.model_validate(data))
    return row.id


async def settled(discord: FakeDiscord, kind: ActionKind = ActionKind.POST) -> DiscordAction:
    """The newest action of `kind`, once the running bot recorded its outcome."""

    async def outcome() -> DiscordAction | None:
        action = await DiscordAction.filter(kind=kind).order_by("-id").first()
        return action if action and action.status != ActionStatus.PENDING else None

    return await discord.wait_for(outcome, 10, f"a {kind} action to be carried out")


def posted(channel: Channel) -> list[Message]:
    return [m for m in channel.visible_messages if not m.interaction_id]


# The commands


async def test_posts_is_a_staff_group(discord: FakeDiscord, start_app: AppFactory) -> None:
    await world(discord)
    async with start_app():
        pass
    group = discord.commands.find("posts", None)
    assert group is not None
    assert group["default_member_permissions"] == str(MANAGE_GUILD)
    names = {option["name"] for option in group["options"]}
    assert names == {"list", "set", "test", "disable", "enable", "preview"}


async def test_set_opens_the_template_form_and_saves_it(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    general = w.guild.default_channel
    async with start_app():
        choices = await w.owner.autocomplete("posts set", "trigger", "accep", guild=w.guild)
        form = await w.owner.run(
            "posts set", guild=w.guild, trigger="member.accepted", options={"channel": general}
        )
        saved = await w.owner.submit_modal(form, content="Hi {member}!", title="Welcome")
        again = await w.owner.run(
            "posts set",
            guild=w.guild,
            trigger="member.accepted",
            options={"channel": general},
            audience="members",
        )
        edited = await w.owner.submit_modal(again, content="Hello {member}", title="")
    assert [c["value"] for c in choices] == ["member.accepted"]
    assert form.modal is not None
    assert form.modal["title"] == "Template: A member was accepted"
    assert "Welcome {mention}, our driver #{number}!" in str(form.modal)  # the default
    assert saved.content == f"From now on, A member was accepted is posted in <#{general.id}>."
    assert "Hi {member}!" in str(again.modal)  # the saved template
    assert edited.content == f"Template saved: A member was accepted in <#{general.id}>."
    (row,) = await PostDestination.all()
    assert (row.channel_id, row.content, row.embed, row.audience) == (
        general.id,
        "Hello {member}",
        {},
        "members",
    )


async def test_a_bad_template_is_refused_in_the_forms_reply(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord, driver_locale="de")
    async with start_app():
        form = await w.owner.run(
            "posts set",
            guild=w.guild,
            trigger="member.left",
            options={"channel": w.guild.default_channel},
        )
        refused = await w.owner.submit_modal(form, content="Bye {membr}")
        unknown = await w.owner.run(
            "posts set", guild=w.guild, trigger="nope", options={"channel": w.guild.default_channel}
        )
        # An outdated client still shows dave the staff group: the hub refuses him.
        driver = await w.driver.run("posts list", guild=w.guild, stale_client=True)
    assert refused.ephemeral
    assert "content" in refused.content
    assert "{membr}" in refused.content
    assert "{member}" in refused.content  # what it could have used
    assert not await PostDestination.exists()
    assert unknown.ephemeral
    assert "nope" in unknown.content
    assert driver.ephemeral
    assert driver.content.startswith("Du brauchst in diesem Hub die Berechtigung")


async def test_list_test_disable_enable_and_preview(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    general = w.guild.default_channel
    first = await destination(w.hub, general, embed={"title": "Hi {member}"})
    broken = await destination(w.hub, general, trigger="member.left", content="Bye {member}")
    await PostDestination.filter(id=broken).update(last_error="404 10003 Unknown Channel")
    async with start_app():
        listed = await w.owner.run("posts list", guild=w.guild)
        picks = await w.owner.autocomplete("posts test", "destination", "", guild=w.guild)
        tested = await w.owner.run("posts test", guild=w.guild, destination=str(first))
        await settled(discord)
        off = await w.owner.run("posts disable", guild=w.guild, destination=str(first))
        on = await w.owner.run("posts enable", guild=w.guild, destination=f"#{first}")
        shown = await w.owner.run("posts preview", guild=w.guild, destination=str(first))
        default = await w.owner.run("posts preview", guild=w.guild, trigger="member.rank_up")
        neither = await w.owner.run("posts preview", guild=w.guild)
        missing = await w.owner.run("posts test", guild=w.guild, destination="99999")
    fields = {f["name"]: f["value"] for f in listed.embeds[0]["fields"]}
    assert fields["A member was accepted"] == f"`#{first}` · <#{general.id}> · Public"
    assert "broken: 404 10003 Unknown Channel" in fields["A member left or was dismissed"]
    assert [c["value"] for c in picks] == [str(first), str(broken)]
    assert picks[0]["name"] == f"#{first} · A member was accepted · #{general.name}"
    assert tested.content == f"A sample post is on its way to <#{general.id}>."
    (sample,) = posted(general)
    assert sample.content == "Welcome [mention], #[number]!"
    assert sample.embeds[0]["title"] == "Hi [member]"
    assert off.content == f"Posting to <#{general.id}> is off."
    assert on.content == f"Posting to <#{general.id}> is on."
    assert (await PostDestination.get(id=first)).enabled
    assert shown.ephemeral
    assert (shown.content, shown.embeds[0]["title"]) == (
        "Welcome [mention], #[number]!",
        "Hi [member]",
    )
    assert default.content == "[mention] is now [rank]!"
    assert "give a destination or a trigger" in neither.content
    assert missing.content == "That post destination does not exist."


# Posts reaching Discord


async def test_an_accepted_member_is_welcomed_once_and_edits_and_deletes_follow(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    general = w.guild.default_channel
    await destination(w.hub, general, embed={"title": "{hub}", "color": 0x3366FF})
    async with start_app() as rt:
        await accepted(w.hub, w.alice_row)
        action = await settled(discord)
        (welcome,) = posted(general)
        assert welcome.content == f"Welcome <@{w.alice.id}>, #1!"
        assert (welcome.embeds[0]["title"], welcome.embeds[0]["color"]) == ("Road Kings", 0x3366FF)
        record = await PostedMessage.get(id=action.payload["post"])
        assert (record.message_id, record.state) == (welcome.id, PostState.POSTED)
        # A crash between Discord's answer and the record: the retry posts nothing new.
        await PostedMessage.filter(id=record.id).update(message_id=None, state=PostState.PENDING)
        assert rt.bot is not None
        await perform(rt.bot, action)
        assert len(posted(general)) == 1
        assert (await PostedMessage.get(id=record.id)).message_id == welcome.id
        # The source changes: the message follows; it is deleted: so is the message.
        source = record.source
        await ops.update_source(w.hub, source, {"mention": "alice", "number": "1", "hub": "RK"})
        await discord.wait_for(lambda: welcome.content == "Welcome alice, #1!", 10, "the edit")
        assert welcome.embeds[0]["title"] == "RK"
        await ops.delete_source(w.hub, source)
        await discord.wait_for(lambda: welcome.deleted, 10, "the delete")
    assert len(discord.requests_to(SEND)) == 2  # the post, and the retry Discord deduplicated
    assert (await PostedMessage.get(id=record.id)).state == PostState.DELETED


async def test_a_message_deleted_in_discord_is_not_an_error(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    general = w.guild.default_channel
    await destination(w.hub, general, content="{member}")
    async with start_app():
        await ops.emit(w.hub, "member.accepted", {"member": "x"}, source="thing:1")
        await settled(discord)
        (message,) = posted(general)
        discord.delete_message(message)
        await ops.update_source(w.hub, "thing:1", {"member": "y"})
        edit = await settled(discord)
    assert edit.status == ActionStatus.DONE
    assert (await PostedMessage.get(id=edit.payload["post"])).state == PostState.DELETED


async def test_a_channel_that_is_gone_marks_the_destination_broken_without_retries(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    doomed = w.guild.create_channel("welcome")
    locked = w.guild.create_channel("locked")
    locked.bot_can_send = False
    gone = await destination(w.hub, doomed)
    refused = await destination(w.hub, locked)
    w.guild.delete_channel(doomed)
    async with start_app():
        await accepted(w.hub, w.alice_row)
        await discord.wait_for(lambda: _count(ActionStatus.FAILED, 2), 10, "both posts to fail")
        listed = await w.owner.run("posts list", guild=w.guild)
    failed = await DiscordAction.filter(kind=ActionKind.POST).order_by("id")
    assert [(a.status, a.attempts) for a in failed] == [(ActionStatus.FAILED, 1)] * 2
    rows = {row.id: row for row in await PostDestination.all()}
    assert rows[gone].last_error.startswith("404 10003")
    assert rows[refused].last_error.startswith("403 50013")
    assert "broken" in listed.embeds[0]["fields"][0]["value"]
    assert posted(locked) == []


async def _count(status: ActionStatus, wanted: int) -> bool:
    return await DiscordAction.filter(status=status).count() >= wanted


async def test_a_webhook_destination_posts_edits_and_deletes_through_the_webhook(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    news = w.guild.create_channel("news")
    hook = w.guild.create_webhook(news, "Hub News")
    url = f"https://discord.com/api/webhooks/{hook.id}/{hook.token}"
    async with start_app():  # the app's own keys seal the webhook URL
        await destination(w.hub, webhook_url=url, content="{member} joined")
        await ops.emit(w.hub, "member.accepted", {"member": "alice"}, source="thing:1")
        action = await settled(discord)
        (message,) = hook.messages
        assert message.content == "alice joined"
        record = await PostedMessage.get(id=action.payload["post"])
        assert (record.message_id, record.channel_id) == (message.id, news.id)
        await ops.update_source(w.hub, "thing:1", {"member": "Alice"})
        await discord.wait_for(lambda: message.content == "Alice joined", 10, "the edit")
        await ops.delete_source(w.hub, "thing:1")
        await discord.wait_for(lambda: message.deleted, 10, "the delete")
    assert hook.messages == []


# Long texts and announcement channels


async def test_a_long_body_goes_on_in_more_messages_which_follow_edits_and_deletes(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    """An announcement longer than one embed: its post is followed by the rest, each piece
    published to following servers; a shorter edit deletes the surplus, a longer one adds."""
    from models.announcements import ops as announcements
    from models.announcements.schemas import (
        AnnouncementInput,
        AnnouncementTypeInput,
        AnnouncementUpdate,
    )

    w = await world(discord)
    news = w.guild.create_channel("news", type=5)  # an announcement channel
    await ops.create_destination(
        SYSTEM,
        w.hub,
        DestinationInput(trigger="announcement.published", channel_id=news.id, crosspost=True),
    )
    await announcements.create_type(SYSTEM, w.hub, AnnouncementTypeInput(key="news", name="News"))
    paragraphs = [f"Paragraph {n}: " + "word " * 380 for n in range(3)]  # ~1,900 characters each
    async with start_app():
        made = await announcements.publish(
            SYSTEM,
            w.hub,
            AnnouncementInput(type="news", title="Long read", body="\n\n".join(paragraphs)),
        )
        await discord.wait_for(lambda: len(posted(news)) == 3, 10, "the post in three parts")
        first, second, third = posted(news)
        assert first.embeds[0]["title"] == "Long read"
        assert first.embeds[0]["description"].startswith("Paragraph 0")
        assert second.embeds[0]["description"].startswith("Paragraph 1")
        assert third.embeds[0]["description"].startswith("Paragraph 2")
        await discord.wait_for(
            lambda: all(m.crossposted for m in (first, second, third)), 10, "every part published"
        )
        shorter = AnnouncementUpdate(body="\n\n".join([*paragraphs[:2], "The end."]))
        await announcements.update(SYSTEM, w.hub, made.id, shorter)
        await discord.wait_for(lambda: third.deleted, 10, "the surplus message deleted")
        assert [m.id for m in posted(news)] == [first.id, second.id]
        assert second.embeds[0]["description"].endswith("The end.")
        await announcements.delete(SYSTEM, w.hub, made.id)
        await discord.wait_for(lambda: posted(news) == [], 10, "every part deleted")
    destination_row = await PostDestination.get(trigger="announcement.published")
    assert destination_row.last_error == ""


async def test_crossposting_outside_an_announcement_channel_is_shown_on_the_destination(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    general = w.guild.default_channel
    row_id = await destination(w.hub, general, crosspost=True)
    async with start_app():
        await ops.emit(w.hub, "member.accepted", {"mention": "alice", "number": "1"}, source="m:1")
        await discord.wait_for(lambda: len(posted(general)) == 1, 10, "the post")
        row = await discord.wait_for(
            _with_error(row_id), 10, "the crosspost error on the destination"
        )
    (rejected,) = discord.take_errors()
    assert "crosspost" in rejected
    assert row.last_error.startswith("not published to following servers")
    (message,) = posted(general)
    assert message.content == "Welcome alice, #1!"  # the post itself stands


def _with_error(row_id: int):  # type: ignore[no-untyped-def]
    async def check() -> PostDestination | None:
        row = await PostDestination.get(id=row_id)
        return row if row.last_error else None

    return check
