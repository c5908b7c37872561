"""/apply and the review of applications through the Discord emulator: the real bot shows the
form in modals (surviving restarts between them), posts each application for review, and
staff decide, claim and talk to the applicant with its buttons."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from models.applications import ops
from models.applications.tables import (
    Application,
    ApplicationDraft,
    ApplicationMessage,
    ApplicationState,
    ApplicationType,
    MemberRule,
)
from models.auth import now
from models.discord_actions import ActionStatus, DiscordAction
from models.hubs import Hub
from models.members import Member, MemberState, Role
from models.notifications import center
from tests.cogs.test_members import World, world
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import Channel, Message, User

COUNTRIES = [
    "Austria",
    "Belgium",
    "Denmark",
    "France",
    "Germany",
    "Italy",
    "Netherlands",
    "Norway",
    "Poland",
    "Spain",
    "Sweden",
    "Other",
]
TWELVE: list[dict[str, Any]] = [
    {"key": "name", "kind": "short", "label": "Your name", "max_length": 40},
    {"key": "about", "kind": "paragraph", "label": "About you", "help": "A few sentences"},
    {"key": "age", "kind": "number", "label": "Age", "min_value": 16, "max_value": 99},
    {"key": "game", "kind": "choice", "label": "Main game", "choices": ["ETS2", "ATS"]},
    {"key": "days", "kind": "multi_choice", "label": "Days", "choices": ["Mon", "Wed", "Sat"]},
    {"key": "rules", "kind": "yes_no", "label": "Did you read the rules?"},
    {"key": "since", "kind": "date", "label": "Driving since"},
    {"key": "site", "kind": "url", "label": "Your website", "required": False},
    {"key": "steam", "kind": "steam", "label": "Steam profile"},
    {"key": "tmp", "kind": "truckersmp", "label": "TruckersMP profile"},
    {"key": "country", "kind": "choice", "label": "Country", "choices": COUNTRIES},
    {"key": "referrer", "kind": "short", "label": "Who sent you?", "required": False},
]
SHORT: list[dict[str, Any]] = [
    {"key": "name", "kind": "short", "label": "Your name"},
    {"key": "age", "kind": "number", "label": "Age", "min_value": 16, "max_value": 99},
]
STEAM_ID = "76561198000000001"


async def driver_type(
    hub: Hub, channel: Channel | None, fields: list[dict[str, Any]] = SHORT, **extra: Any
) -> ApplicationType:
    return await ApplicationType.create(
        hub=hub,
        name="Driver",
        form={"fields": fields},
        review_channel_id=channel.id if channel else None,
        make_member=True,
        **extra,
    )


def posted(channel: Channel) -> list[Message]:
    return [m for m in channel.visible_messages if not m.interaction_id]


async def review_post(discord: FakeDiscord, channel: Channel) -> Message:
    (message,) = await discord.wait_for(lambda: posted(channel), 10, "the review post")
    return message


async def settled(discord: FakeDiscord) -> None:
    """Every queued Discord action carried out."""

    async def idle() -> bool:
        return not await DiscordAction.filter(status=ActionStatus.PENDING).exists()

    await discord.wait_for(idle, 10, "the Discord actions to be carried out")


async def applied(discord: FakeDiscord, w: World, app_type: ApplicationType) -> Application:
    """alice applies with the short form."""
    opened = await w.alice.run("apply", guild=w.guild, type=str(app_type.id))
    done = await w.alice.submit_modal(opened, name="Alice", age="30")
    assert done.embeds, done.content
    return await Application.get(applicant__discord_id=w.alice.id)


async def reviewer(discord: FakeDiscord, w: World, name: str = "rita") -> User:
    """Someone holding review_applications through a linked Discord role."""
    person = discord.user(name)
    w.guild.add_member(person)
    role = w.guild.create_role("Reviewers")
    discord.member(w.guild, person).add_roles(role)
    await Role.create(
        hub=w.hub, name="Reviewers", permissions=["review_applications"], discord_role_id=role.id
    )
    return person


def fields_of(message: Message) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0].get("fields", [])}


def disabled(message: Message) -> dict[str, bool]:
    return {b["label"]: bool(b.get("disabled")) for b in message.buttons}


# Applying


async def test_apply_is_for_everyone_and_offers_the_open_types(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    driver = await driver_type(w.hub, None)
    await ApplicationType.create(hub=w.hub, name="Staff", form={"fields": SHORT}, active=False)
    async with start_app():
        choices = await w.alice.autocomplete("apply", "type", "dri", guild=w.guild)
        none = await w.alice.autocomplete("apply", "type", "staff", guild=w.guild)
    command = discord.commands.find("apply", None)
    assert command is not None
    assert command["default_member_permissions"] is None
    assert choices == [{"name": "Driver", "value": str(driver.id)}]
    assert none == []  # an inactive type is not offered


async def test_a_twelve_field_form_in_three_modals_survives_restarts(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    reviews = w.guild.create_channel("reviews")
    app_type = await driver_type(w.hub, reviews, TWELVE)
    async with start_app():
        opened = await w.alice.run("apply", guild=w.guild, type=str(app_type.id))
        first = await w.alice.submit_modal(
            opened, name="Alice", about="I drive.", age="30", game="ETS2", days=["Mon", "Sat"]
        )
    async with start_app():  # a new process: only the database knows the answers
        second_modal = await w.alice.click(first, "Next (2/3)")
        second = await w.alice.submit_modal(
            second_modal,
            rules="yes",
            since="2020-01-02",
            steam=f"https://steamcommunity.com/profiles/{STEAM_ID}",
            tmp="https://truckersmp.com/user/4242",
        )
    async with start_app():
        third_modal = await w.alice.click(second, "Next (3/3)")
        done = await w.alice.submit_modal(third_modal, country="Germany")
        post = await review_post(discord, reviews)
        await settled(discord)
    first_components = [c["component"]["type"] for c in opened.modal["components"]]
    assert opened.modal["title"] == "Driver (1/3)"
    assert first_components == [4, 4, 4, 21, 22]  # text inputs, a radio and a checkbox group
    assert second_modal.modal["title"] == "Driver (2/3)"
    assert [c["component"]["type"] for c in third_modal.modal["components"]] == [3, 4]  # select
    assert (first.ephemeral, first.content) == (True, "Step 1 of 3 saved.")
    assert second.content == "Step 2 of 3 saved."
    assert done.ephemeral
    summary = fields_of(done.original)
    assert summary["Days"] == "Mon, Sat"
    assert summary["Did you read the rules?"] == "Yes"
    assert summary["Country"] == "Germany"
    application = await Application.get()
    assert application.answers["steam"] == STEAM_ID
    assert application.answers["tmp"] == 4242
    assert application.answers["age"] == 30
    assert not await ApplicationDraft.exists()
    # The review post: once, with the answers and the four buttons.
    assert post.embeds[0]["title"] == f"Driver · #{application.id}"
    assert fields_of(post)["Main game"] == "ETS2"
    assert [b["label"] for b in post.buttons] == ["Accept", "Decline", "Message", "Claim"]
    assert post.buttons[0]["custom_id"] == f"dh:applications:accept:{application.id}"
    assert (await Application.get()).review_message_id == post.id
    assert len(posted(reviews)) == 1


async def test_a_bad_answer_is_named_by_its_label_and_the_step_can_be_retried(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    app_type = await driver_type(w.hub, None)
    async with start_app():
        opened = await w.alice.run("apply", guild=w.guild, type=str(app_type.id))
        refused = await w.alice.submit_modal(opened, name="Alice", age="12")
        again = await w.alice.click(refused, "Try again (1/1)")
        done = await w.alice.submit_modal(again, name="Alice", age="nope")
    assert refused.ephemeral
    assert refused.content == "Some fields are not valid: Age: Must be at least 16."
    assert "age" not in refused.content
    assert again.modal is not None
    assert done.content == "Some fields are not valid: Age: Must be a number."
    assert not await Application.exists()


async def test_an_ineligible_applicant_is_told_which_rule_failed(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    staff = await driver_type(w.hub, None, member_state=MemberRule.MEMBER)
    async with start_app():
        refused = await w.alice.run("apply", guild=w.guild, type=str(staff.id))
        unknown = await w.alice.run("apply", guild=w.guild, type="nope")
    assert refused.ephemeral
    assert refused.modal is None
    assert "member" in refused.content.lower()
    assert unknown.content == "That application type does not exist."


async def test_an_expired_draft_says_so_and_how_to_start_again(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    app_type = await driver_type(w.hub, None, TWELVE)
    async with start_app():
        opened = await w.driver.run("apply", guild=w.guild, type=str(app_type.id))
        first = await w.driver.submit_modal(
            opened, name="Dave", about="Hi.", age="40", game="ATS", days=["Wed"]
        )
        await ApplicationDraft.all().update(expires_at=now() - timedelta(minutes=1))
        late = await w.driver.click(first, "Next (2/3)")
    assert late.ephemeral
    assert late.modal is None
    assert late.content.startswith("Your unfinished application has expired")
    assert "Run /apply again" in late.content


# Reviewing


async def test_accept_updates_the_post_and_makes_the_applicant_a_member(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    reviews = w.guild.create_channel("reviews")
    app_type = await driver_type(w.hub, reviews)
    async with start_app():
        application = await applied(discord, w, app_type)
        post = await review_post(discord, reviews)
        clicked = await w.owner.click(post, "Accept")
        await discord.wait_for(lambda: "Accepted" in post.embeds[0]["description"], 10, "edit")
        await settled(discord)
    assert clicked.ephemeral
    assert clicked.content == f"Application #{application.id} accepted."
    assert f"Decided by <@{w.owner.id}>" in post.embeds[0]["description"]
    assert disabled(post) == {"Accept": True, "Decline": True, "Message": False, "Claim": True}
    member = await Member.get(hub_id=w.hub.id, user__discord_id=w.alice.id)
    assert member.state == MemberState.MEMBER
    assert (await Application.get()).state == ApplicationState.ACCEPTED
    assert len(posted(reviews)) == 1  # edited, not posted again


async def test_decline_asks_for_the_reason_and_shows_it(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    reviews = w.guild.create_channel("reviews")
    app_type = await driver_type(w.hub, reviews)
    async with start_app():
        await applied(discord, w, app_type)
        post = await review_post(discord, reviews)
        form = await w.owner.click(post, "Decline")
        declined = await w.owner.submit_modal(form, reason="Too young for night convoys")
        await discord.wait_for(lambda: "Declined" in post.embeds[0]["description"], 10, "edit")
    assert form.modal is not None
    assert declined.ephemeral
    assert "Reason: Too young for night convoys" in post.embeds[0]["description"]
    application = await Application.get()
    assert (application.state, application.decision_reason) == (
        ApplicationState.DECLINED,
        "Too young for night convoys",
    )


async def test_two_reviewers_at_once_make_one_decision(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    reviews = w.guild.create_channel("reviews")
    app_type = await driver_type(w.hub, reviews)
    rita = await reviewer(discord, w)
    async with start_app():
        await applied(discord, w, app_type)
        post = await review_post(discord, reviews)
        replies = await asyncio.gather(w.owner.click(post, "Accept"), rita.click(post, "Accept"))
    texts = sorted(reply.content for reply in replies)
    application = await Application.get()
    assert texts[0] == f"Application #{application.id} accepted."
    winner = "olga" if application.decided_by_id == (await _user(w.owner)).id else "rita"
    assert texts[1] == f"{winner} already accepted this application."


async def _user(person: User) -> Any:
    from models.users import User as Account

    return await Account.get(discord_id=person.id)


async def test_a_member_without_review_permission_is_refused(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    reviews = w.guild.create_channel("reviews")
    app_type = await driver_type(w.hub, reviews)
    async with start_app():
        await applied(discord, w, app_type)
        post = await review_post(discord, reviews)
        accept = await w.driver.click(post, "Accept")
        decline = await w.driver.click(post, "Decline")
    assert accept.ephemeral
    assert "permission" in accept.content
    assert decline.modal is None  # refused before a modal opens
    assert "permission" in decline.content
    assert (await Application.get()).state == ApplicationState.PENDING


async def test_claim_shows_who_claimed(discord: FakeDiscord, start_app: AppFactory) -> None:
    w = await world(discord)
    reviews = w.guild.create_channel("reviews")
    app_type = await driver_type(w.hub, reviews)
    async with start_app():
        application = await applied(discord, w, app_type)
        post = await review_post(discord, reviews)
        claimed = await w.owner.click(post, "Claim")
        await discord.wait_for(lambda: "Claimed by" in post.embeds[0]["description"], 10, "edit")
    assert claimed.content == f"You claimed application #{application.id}."
    assert f"Claimed by <@{w.owner.id}>" in post.embeds[0]["description"]


@pytest.fixture
def quick_dms() -> Iterator[None]:
    before = center.Limits.dm_window
    yield
    center.Limits.dm_window = before


async def test_a_forum_review_channel_gets_a_post_and_the_conversation_a_thread(
    discord: FakeDiscord, start_app: AppFactory, quick_dms: None
) -> None:
    w = await world(discord)
    forum = w.guild.create_channel("applications", type=15)
    app_type = await driver_type(w.hub, forum)
    async with start_app():
        center.Limits.dm_window = timedelta(seconds=0.2)
        application = await applied(discord, w, app_type)
        await discord.wait_for(lambda: forum.threads, 10, "the forum post")
        (thread,) = forum.threads
        await settled(discord)
        # Staff write to the applicant; the DM carries a Reply button.
        form = await w.owner.click(thread.starter_message, "Message")
        sent = await w.owner.submit_modal(form, text="Which trucks do you like?")
        (dm,) = await discord.wait_for(lambda: discord.dms(w.alice), 10, "the DM")
        reply_form = await w.alice.click(dm, "Reply")
        replied = await w.alice.submit_modal(reply_form, text="Scania, of course.")
        await discord.wait_for(lambda: len(thread.visible_messages) >= 2, 10, "the reply")
        await settled(discord)
    assert thread.name == f"alice · Driver · #{application.id}"
    assert thread.starter_message.embeds[0]["title"] == f"Driver · #{application.id}"
    stored = await Application.get()
    assert (stored.review_thread_id, stored.review_message_id) == (thread.id, thread.id)
    assert sent.content == "Your message was sent to the applicant."
    assert "Which trucks do you like?" in dm.content
    assert dm.component("Reply")["custom_id"] == f"dh:applications:reply:{application.id}"
    assert replied.content == "Your reply was sent to the staff."
    texts = [m.embeds[0]["description"] for m in thread.visible_messages if m.embeds]
    assert "Scania, of course." in texts
    assert await ApplicationMessage.filter(from_staff=False).count() == 1


async def test_an_applicants_message_opens_a_thread_on_a_text_review_post(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    reviews = w.guild.create_channel("reviews")
    app_type = await driver_type(w.hub, reviews)
    async with start_app():
        application = await applied(discord, w, app_type)
        post = await review_post(discord, reviews)
        await settled(discord)
        alice = await _user(w.alice)
        from models.actor import Actor

        await ops.add_message(Actor(alice.id), w.hub, application.id, "Any news?")
        await discord.wait_for(lambda: w.guild.threads, 10, "the thread")
        await settled(discord)
    (thread,) = w.guild.threads.values()
    assert thread.id == post.id  # made from the review post
    assert [m.embeds[0]["description"] for m in thread.visible_messages] == ["Any news?"]
    assert (await Application.get()).review_thread_id == thread.id


async def test_staff_list_what_waits_in_their_own_group(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    reviews = w.guild.create_channel("reviews")
    app_type = await driver_type(w.hub, reviews)
    async with start_app():
        application = await applied(discord, w, app_type)
        post = await review_post(discord, reviews)
        await settled(discord)
        listed = await w.owner.run("applications pending", guild=w.guild)
        refused = await w.driver.run("applications pending", guild=w.guild, stale_client=True)
    group = discord.commands.find("applications", None)
    assert group is not None
    assert group["default_member_permissions"] == str(1 << 28)  # Manage Roles
    assert listed.ephemeral
    text = listed.embeds[0]["description"]
    assert text.startswith(f"[#{application.id} · Driver · <@{w.alice.id}>")
    assert f"/{reviews.id}/{post.id})" in text
    assert refused.ephemeral
    assert "permission" in refused.content
