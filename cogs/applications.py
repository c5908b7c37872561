"""/apply and the review of applications in Discord.

Every rule lives in `models.applications`; this module shows forms, buttons and posts.

- **Applying**: `/apply type:` starts a draft (the domain checks eligibility) and shows the
  type's form in modals of five inputs. Each modal's answers are saved in the draft, in the
  database, and a persistent "Next (2/3)" button opens the next modal, after a restart too.
  The last modal submits the application and answers with a summary.
- **Reviewing**: the Discord-actions worker posts each application to its type's review
  channel (a forum: a post of its own) through the `applications.review` renderer, with
  persistent Accept / Decline / Message / Claim buttons, and edits it as the application
  changes. Messages of the conversation go to the post's thread (`applications.message`).
- **Replying**: a message from staff reaches the applicant as a notification; its DM carries
  a Reply button (bot.delivery), which works in DMs: the hub comes from the application.
"""

from __future__ import annotations

import logging
import re
from typing import Any, ClassVar

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T  # noqa: N812 - the gettext-style marker
from discord.ext import commands
from discord.http import handle_message_parameters
from pydantic import BaseModel, ConfigDict, Field

from bot import delivery, discord_actions
from bot.answer import answer, open_modal
from bot.components import PersistentButton, custom_id
from bot.context import Context, load_context
from bot.errors import describe, safe_autocomplete
from bot.i18n import locale_of, t
from bot.modals import TITLE_LIMIT, Choice, FormField, FormModal
from bot.outbox import RetryLater
from bot.plugin import PluginCog
from bot.staff import staff
from models.applications import common, forms, ops
from models.applications.schemas import ApplicationQuery, ApplicationView
from models.applications.tables import (
    Application,
    ApplicationDraft,
    ApplicationMessage,
    ApplicationState,
    ApplicationType,
)
from models.auth import now
from models.discord_actions import DiscordAction
from models.errors import Invalid, NotFound
from models.hubs import Hub
from models.i18n import N_, translate
from models.notifications.tables import Notification
from models.users import User
from models.validation import parse_id

log = logging.getLogger(__name__)

KEY = common.KEY
REVIEW_RENDERER = "applications.review"
MESSAGE_RENDERER = "applications.message"
MESSAGE_KIND = "application.message"  # staff wrote to the applicant (a notification kind)
CHOICES = 25  # Discord's most autocomplete choices
PENDING_SHOWN = 20  # applications /applications pending lists
FIELDS = 25  # Discord's most fields in an embed
FIELD_VALUE = 1024
EMBED_TOTAL = 6000
DESCRIPTION = 4096
THREAD_NAME = 100
ARCHIVE_MINUTES = 10080  # a week: review threads stay open while staff decide
THREAD_EXISTS = 160004  # Discord: a thread was already made from this message
FORUM_TYPES = (discord.ChannelType.forum.value, discord.ChannelType.media.value)
NO_PINGS = discord.AllowedMentions.none()

# Discord has no number, date or link input: a short text input with an example.
PLACEHOLDERS = {
    "number": N_("A number, e.g. 42"),
    "date": N_("A date, e.g. 2026-05-01"),
    "url": N_("A link, e.g. https://example.com"),
    "steam": N_("steamcommunity.com/profiles/7656… or your Steam id"),
    "truckersmp": N_("truckersmp.com/user/… or your TruckersMP id"),
}
TEXT_LENGTH = {"number": 32, "date": 10, "url": 512, "steam": 512, "truckersmp": 512}
YES_NO = (Choice("yes", N_("Yes")), Choice("no", N_("No")))
STATES = {
    ApplicationState.PENDING: (N_("Pending"), 0x3498DB),
    ApplicationState.ACCEPTED: (N_("Accepted"), 0x2ECC71),
    ApplicationState.DECLINED: (N_("Declined"), 0xE74C3C),
    ApplicationState.WITHDRAWN: (N_("Withdrawn"), 0x95A5A6),
}
EXPIRED = N_(
    "Your unfinished application has expired: answers are kept only for a while between "
    "the steps. Run /apply again to start over."
)


# The form in modals


class StepAnswers(BaseModel):
    """A step's raw answers: the domain's `save_step` validates them (and names the fields)."""

    model_config = ConfigDict(extra="allow")


class ReasonForm(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


class TextForm(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


def modal_field(interaction: discord.Interaction, spec: forms.FormFieldSpec) -> FormField:
    """A question of the form as a modal input (forms.component says which)."""
    shown = forms.component(spec)
    description = spec.help or None
    if spec.kind == "yes_no" or shown in ("radio", "select", "checkboxes", "multiselect"):
        choices = YES_NO if spec.kind == "yes_no" else tuple(Choice(c, c) for c in spec.choices)
        return FormField(
            spec.key,
            spec.label,
            shown,
            spec.required,
            description,
            choices=choices,  # type: ignore[arg-type]
        )
    texts = spec.kind in forms.TEXT_KINDS
    return FormField(
        spec.key,
        spec.label,
        shown,  # type: ignore[arg-type]
        spec.required,
        description,
        placeholder=_placeholder(interaction, spec),
        min_length=spec.min_length if texts else None,
        max_length=(spec.max_length or forms.TEXT_LIMIT) if texts else TEXT_LENGTH[spec.kind],
    )


def _placeholder(interaction: discord.Interaction, spec: forms.FormFieldSpec) -> str | None:
    if spec.kind == "number" and spec.min_value is not None and spec.max_value is not None:
        low, high = forms._plain(spec.min_value), forms._plain(spec.max_value)
        return t(interaction, N_("A number from {low} to {high}"), low=low, high=high)
    example = PLACEHOLDERS.get(spec.kind)
    return t(interaction, example) if example else None


def step_title(name: str, step: int, total: int) -> str:
    """`Driver (2/3)`: the type's name cut to leave room for the step."""
    suffix = f" ({step + 1}/{total})" if total > 1 else ""
    return name[: TITLE_LIMIT - len(suffix)].strip() + suffix


def step_modal(
    interaction: discord.Interaction,
    hub: Hub,
    draft_id: int,
    name: str,
    form: forms.Form,
    step: int,
) -> FormModal:
    pages = forms.steps(form)

    async def saved(interaction: discord.Interaction, model: StepAnswers) -> None:
        await save_step(interaction, hub, modal, draft_id, step, len(pages), model.model_extra)

    modal = FormModal(
        interaction,
        title=step_title(name, step, len(pages)),
        fields=[modal_field(interaction, spec) for spec in pages[step]],
        schema=StepAnswers,
        on_valid=saved,
    )
    return modal


async def open_step(interaction: discord.Interaction, hub: Hub, draft: Any) -> None:
    """Show the draft's next step (`draft.step`) as a modal."""
    app_type = await common.type_in(hub, draft.type_id)
    form = forms.Form.model_validate(app_type.form)
    step = min(draft.step, len(forms.steps(form)) - 1)
    await open_modal(interaction, step_modal(interaction, hub, draft.id, app_type.name, form, step))


async def save_step(
    interaction: discord.Interaction,
    hub: Hub,
    modal: FormModal,
    draft_id: int,
    step: int,
    total: int,
    answers: dict[str, Any] | None,
) -> None:
    """Keep a step's answers; show the next step's button, or submit after the last one."""
    actor = (await load_context(interaction)).actor
    try:
        draft = await ops.save_step(actor, hub, draft_id, step, answers or {})
    except Invalid as exc:
        if not exc.params.get("errors"):
            raise  # not about the fields (a step out of order): the error policy says it
        text = describe(interaction, modal.labelled(interaction, exc))
        retry = step_view(interaction, draft_id, step, total, again=True)
        await answer(interaction, text, view=retry)
        return
    except NotFound as exc:
        if exc.code != "draft_expired":
            raise
        await answer(interaction, t(interaction, EXPIRED))
        return
    if draft.step < total:
        saved = t(interaction, N_("Step {step} of {total} saved."), step=step + 1, total=total)
        await answer(interaction, saved, view=step_view(interaction, draft_id, draft.step, total))
        return
    application = await ops.submit_draft(actor, hub, draft_id)
    await answer(interaction, embed=await summary_embed(interaction, hub, application))


def step_view(
    interaction: discord.Interaction, draft_id: int, step: int, total: int, *, again: bool = False
) -> discord.ui.View:
    text = N_("Try again ({step}/{total})") if again else N_("Next ({step}/{total})")
    view = discord.ui.View(timeout=None)
    view.add_item(NextStep(draft_id, t(interaction, text, step=step + 1, total=total)))
    return view


async def own_draft(context: Context, hub: Hub, draft_id: int) -> Any:
    """The clicker's draft in this hub, or `draft_expired`/not found."""
    getter = getattr(ops, "get_draft", None)
    if getter is not None:
        return await getter(context.actor, hub, draft_id)
    draft = await ApplicationDraft.get_or_none(
        id=draft_id, hub_id=hub.id, user_id=context.actor.user_id
    )
    if draft is None or draft.expires_at <= now():
        raise NotFound(EXPIRED, code="draft_expired")
    return draft


class NextStep(PersistentButton, template=r"dh:applications:next:(?P<draft>[0-9]+)"):
    """Opens the draft's next modal; its state is the draft, in the database."""

    plugin = KEY
    watches_deadline = False  # it opens a modal, which must be the first answer

    def __init__(self, draft_id: int, label: str = "Next") -> None:
        button = self.button(
            custom_id(KEY, "next", draft_id), label, style=discord.ButtonStyle.primary
        )
        super().__init__(button)
        self.draft_id = draft_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> NextStep:
        return cls(cls.match_int(match, "draft"))

    async def clicked(self, interaction: discord.Interaction, context: Context) -> None:
        assert context.hub is not None  # not dm_allowed: the base refused DMs
        try:
            draft = await own_draft(context, context.hub, self.draft_id)
        except NotFound as exc:
            if exc.code != "draft_expired":
                raise
            await answer(interaction, t(interaction, EXPIRED))
            return
        await open_step(interaction, context.hub, draft)


# Showing an application


def answer_text(value: Any, locale: str | None) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return translate(N_("Yes") if value else N_("No"), locale)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def fit(lengths: list[int], room: int) -> list[int]:
    """How long each text may be so that together they take at most `room` characters:
    short ones whole, the longest cut first, evenly."""
    caps = [min(length, FIELD_VALUE) for length in lengths]
    if sum(caps) <= room:
        return caps
    order = sorted(range(len(caps)), key=caps.__getitem__)
    left, out = room, caps[:]
    for position, index in enumerate(order):
        out[index] = max(1, min(caps[index], left // (len(order) - position)))
        left -= out[index]
    return out


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def add_answers(
    embed: discord.Embed, form: forms.Form | None, answers: dict, locale: str | None
) -> None:
    """The answers as fields in the form's order, within Discord's embed limits."""
    labels = {spec.key: spec.label for spec in form.fields} if form else {}
    keys = [key for key in labels if key in answers] + [k for k in answers if k not in labels]
    room_for = FIELDS - len(embed.fields)
    shown, hidden = keys[:room_for], len(keys) - room_for
    if hidden > 0:
        shown = keys[: room_for - 1]
        hidden += 1
    names = [cut(labels.get(key, key), 256) for key in shown]
    values = [answer_text(answers[key], locale) for key in shown]
    more = translate(N_("…and {count} more answers"), locale, count=hidden) if hidden > 0 else ""
    room = EMBED_TOTAL - len(embed) - sum(map(len, names)) - (len(more) + 1 if more else 0)
    for name, value, limit in zip(names, values, fit([len(v) for v in values], room), strict=True):
        embed.add_field(name=name, value=cut(value, limit), inline=len(value) <= 40)
    if more:
        embed.add_field(name="…", value=more, inline=False)


def _form_of(app_type: ApplicationType) -> forms.Form | None:
    try:
        return forms.Form.model_validate(app_type.form)
    except ValueError:  # a form stored before a rule changed: the answers still show
        return None


async def summary_embed(
    interaction: discord.Interaction, hub: Hub, application: Any
) -> discord.Embed:
    """What the applicant sees after the last step: their answers, privately."""
    app_type = await common.type_in(hub, application.type_id)
    embed = discord.Embed(
        title=cut(t(interaction, N_("Your application: {name}"), name=app_type.name), 256),
        description=t(
            interaction,
            N_("Submitted. Staff will review it; you get a message when it is decided."),
        ),
        color=STATES[ApplicationState.PENDING][1],
    )
    add_answers(embed, _form_of(app_type), dict(application.answers or {}), locale_of(interaction))
    return embed


def _who(user: User | None, locale: str | None) -> str:
    if user is None:
        return translate(N_("someone"), locale)
    return f"<@{user.discord_id}>" if user.discord_id else user.username


def review_embed(application: Application, locale: str | None) -> discord.Embed:
    """The review post: who applied, the state and who acted, then the answers."""
    app_type, applicant = application.type, application.applicant
    label, color = STATES[ApplicationState(application.state)]
    lines = [
        translate(N_("Applicant: {who}"), locale, who=_who(applicant, locale)),
        translate(N_("State: {state}"), locale, state=translate(label, locale)),
    ]
    if application.decided_by_id:
        who = _who(application.decided_by, locale)
        lines.append(translate(N_("Decided by {who}"), locale, who=who))
    elif application.claimed_by_id:
        lines.append(
            translate(N_("Claimed by {who}"), locale, who=_who(application.claimed_by, locale))
        )
    if application.decision_reason:
        reason = cut(application.decision_reason, 1000)
        lines.append(translate(N_("Reason: {reason}"), locale, reason=reason))
    embed = discord.Embed(
        title=cut(f"{app_type.name} · #{application.id}", 256),
        description=cut("\n".join(lines), DESCRIPTION),
        color=color,
        timestamp=application.created_at,
    )
    embed.set_author(name=cut(applicant.username, 256))
    add_answers(embed, _form_of(app_type), dict(application.answers or {}), locale)
    return embed


def review_view(application: Application, locale: str | None) -> discord.ui.View:
    """Accept, Decline and Claim while it waits for a decision; Message always."""
    decided = application.state != ApplicationState.PENDING
    view = discord.ui.View(timeout=None)
    for kind in (Accept, Decline, MessageApplicant, Claim):
        disabled = decided and kind is not MessageApplicant
        view.add_item(kind(application.id, translate(kind.label, locale), disabled=disabled))
    return view


# The review buttons


class ReviewButton(PersistentButton, template=r"(?!)"):
    """A button on a review post. The operation decides who may review (holders of
    review_applications, or of the type's reviewer roles), on every click."""

    plugin = KEY
    verb: ClassVar[str] = ""
    label: ClassVar[str] = ""
    style: ClassVar[discord.ButtonStyle] = discord.ButtonStyle.secondary

    def __init__(self, application_id: int, label: str = "", *, disabled: bool = False) -> None:
        button = self.button(
            custom_id(KEY, self.verb, application_id),
            label or self.label,
            style=self.style,
            disabled=disabled,
        )
        super().__init__(button)
        self.application_id = application_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ReviewButton:
        return cls(cls.match_int(match, "application"))

    async def reviewable(self, context: Context) -> Hub:
        """Refuse before a modal opens: the clicker may review this application's type."""
        assert context.hub is not None
        application = await common.application_in(context.hub, self.application_id)
        await common.require_review(context.actor, context.hub, application.type)
        return context.hub


class Accept(ReviewButton, template=r"dh:applications:accept:(?P<application>[0-9]+)"):
    verb, label, style = "accept", N_("Accept"), discord.ButtonStyle.success

    async def clicked(self, interaction: discord.Interaction, context: Context) -> None:
        assert context.hub is not None
        await ops.decide(context.actor, context.hub, self.application_id, True, "")
        done = t(interaction, N_("Application #{id} accepted."), id=self.application_id)
        await answer(interaction, done)


class Decline(ReviewButton, template=r"dh:applications:decline:(?P<application>[0-9]+)"):
    verb, label, style = "decline", N_("Decline"), discord.ButtonStyle.danger
    watches_deadline = False  # it opens a modal

    async def clicked(self, interaction: discord.Interaction, context: Context) -> None:
        hub = await self.reviewable(context)

        async def submitted(interaction: discord.Interaction, form: ReasonForm) -> None:
            actor = (await load_context(interaction)).actor
            await ops.decide(actor, hub, self.application_id, False, form.reason)
            done = t(interaction, N_("Application #{id} declined."), id=self.application_id)
            await answer(interaction, done)

        reason = FormField("reason", N_("Reason"), "paragraph", max_length=1000)
        modal = FormModal(
            interaction,
            title=N_("Decline the application"),
            fields=[reason],
            schema=ReasonForm,
            on_valid=submitted,
        )
        await open_modal(interaction, modal)


class MessageApplicant(ReviewButton, template=r"dh:applications:message:(?P<application>[0-9]+)"):
    verb, label, style = "message", N_("Message"), discord.ButtonStyle.primary
    watches_deadline = False

    async def clicked(self, interaction: discord.Interaction, context: Context) -> None:
        hub = await self.reviewable(context)

        async def submitted(interaction: discord.Interaction, form: TextForm) -> None:
            actor = (await load_context(interaction)).actor
            await ops.add_message(actor, hub, self.application_id, form.text)
            await answer(interaction, t(interaction, N_("Your message was sent to the applicant.")))

        await open_modal(
            interaction, text_modal(interaction, N_("Message the applicant"), submitted)
        )


class Claim(ReviewButton, template=r"dh:applications:claim:(?P<application>[0-9]+)"):
    verb, label = "claim", N_("Claim")

    async def clicked(self, interaction: discord.Interaction, context: Context) -> None:
        assert context.hub is not None
        await ops.claim(context.actor, context.hub, self.application_id)
        done = t(interaction, N_("You claimed application #{id}."), id=self.application_id)
        await answer(interaction, done)


def text_modal(interaction: discord.Interaction, title: str, on_valid: Any) -> FormModal:
    field = FormField("text", N_("Message"), "paragraph", max_length=2000)
    return FormModal(interaction, title=title, fields=[field], schema=TextForm, on_valid=on_valid)


class Reply(PersistentButton, template=r"dh:applications:reply:(?P<application>[0-9]+)"):
    """Under a DM from staff: the applicant answers; the hub comes from the application."""

    dm_allowed = True
    watches_deadline = False

    def __init__(self, application_id: int, label: str = "Reply") -> None:
        button = self.button(custom_id(KEY, "reply", application_id), label)
        super().__init__(button)
        self.application_id = application_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Reply:
        return cls(cls.match_int(match, "application"))

    async def clicked(self, interaction: discord.Interaction, context: Context) -> None:
        application_id = self.application_id

        async def submitted(interaction: discord.Interaction, form: TextForm) -> None:
            actor = (await load_context(interaction)).actor
            await ops.add_message(actor, await hub_of(application_id), application_id, form.text)
            await answer(interaction, t(interaction, N_("Your reply was sent to the staff.")))

        await open_modal(interaction, text_modal(interaction, N_("Reply to the staff"), submitted))


async def hub_of(application_id: int) -> Hub:
    """The hub of an application named in a DM (the operation checks who may write)."""
    row = await Application.get_or_none(id=application_id).only("id", "hub_id")
    hub = await Hub.get_or_none(id=row.hub_id, active=True) if row is not None else None
    if hub is None:
        raise common.application_not_found()
    return hub


def reply_button(note: Notification, locale: str | None) -> discord.ui.Item[Any] | None:
    """The Reply button of a DM telling the applicant staff wrote to them."""
    data = note.data or {}
    application_id = parse_id(str(data.get("application", data.get("application_id", ""))))
    if application_id is None:
        return None
    return Reply(application_id, translate(N_("Reply"), locale))


# Renderers: the Discord-actions worker calls them (bot.discord_actions)


async def _loaded(application_id: int) -> Application | None:
    return await Application.get_or_none(id=application_id).select_related(
        "type", "applicant", "claimed_by", "decided_by", "hub"
    )


async def render_review(bot: discord.Client, action: DiscordAction) -> None:
    """Post the application's review message, or edit it to show its state now."""
    application = await _loaded(int(action.payload["application_id"]))
    if application is None:
        return  # deleted since: nothing to show
    locale = application.hub.language
    embed, view = review_embed(application, locale), review_view(application, locale)
    if application.review_message_id is not None:
        await _edit_review(bot, application, embed, view)
        return
    channel_id = action.channel_id or application.type.review_channel_id
    if channel_id is None:
        return
    if await _is_forum(bot, channel_id):
        await _post_in_forum(bot, action, application, channel_id, embed, view)
        return
    with handle_message_parameters(
        embed=embed, view=view, nonce=f"action-{action.id}", allowed_mentions=NO_PINGS
    ) as params:
        # Discord drops a second message with the same nonce: a retry gets the first back.
        message = await bot.http.send_message(channel_id, params=params)
    await ops.record_review_post(application.id, channel_id, int(message["id"]), None)


async def _edit_review(
    bot: discord.Client, application: Application, embed: discord.Embed, view: discord.ui.View
) -> None:
    channel_id = application.review_channel_id or application.review_thread_id
    assert channel_id is not None
    assert application.review_message_id is not None
    with handle_message_parameters(embed=embed, view=view, allowed_mentions=NO_PINGS) as params:
        try:
            await bot.http.edit_message(channel_id, application.review_message_id, params=params)
        except discord.NotFound as exc:
            if exc.code not in (discord_actions.UNKNOWN_MESSAGE, discord_actions.UNKNOWN_CHANNEL):
                raise
            log.info("the review post of application %s was deleted", application.id)


async def _is_forum(bot: discord.Client, channel_id: int) -> bool:
    channel = bot.get_channel(channel_id)
    if channel is not None:
        return isinstance(channel, discord.ForumChannel)
    data = await bot.http.get_channel(channel_id)
    return int(data["type"]) in FORUM_TYPES


def post_name(application: Application) -> str:
    """The forum post's (and thread's) title; it ends with the id, which a retry looks for."""
    end = f" · #{application.id}"
    start = f"{application.applicant.username} · {application.type.name}"
    return start[: THREAD_NAME - len(end)] + end


async def _post_in_forum(
    bot: discord.Client,
    action: DiscordAction,
    application: Application,
    forum_id: int,
    embed: discord.Embed,
    view: discord.ui.View,
) -> None:
    # A forum post takes no nonce: a retry first looks for the post a lost answer made.
    thread_id = await _earlier_post(bot, action, application, forum_id)
    if thread_id is None:
        payload = {"name": post_name(application), "auto_archive_duration": ARCHIVE_MINUTES}
        with handle_message_parameters(
            embed=embed, view=view, allowed_mentions=NO_PINGS, channel_payload=payload
        ) as params:
            data = await bot.http.start_thread_in_forum(forum_id, params=params)
        thread_id = int(data["id"])
    # The starter message has the thread's id and lives in the thread.
    await ops.record_review_post(application.id, thread_id, thread_id, thread_id)


async def _earlier_post(
    bot: discord.Client, action: DiscordAction, application: Application, forum_id: int
) -> int | None:
    if action.attempts <= 1:
        return None
    data = await bot.http.get_active_threads(action.guild_id)
    for thread in data.get("threads", []):
        if int(thread.get("parent_id") or 0) == forum_id and thread["name"] == post_name(
            application
        ):
            return int(thread["id"])
    return None


async def render_message(bot: discord.Client, action: DiscordAction) -> None:
    """Post a message of the conversation in the application's review thread."""
    message = await ApplicationMessage.get_or_none(id=int(action.payload["message_id"]))
    if message is None:
        return
    application = await _loaded(message.application_id)
    if application is None:
        return
    if application.review_message_id is None:
        raise RetryLater("the review post is not out yet")
    thread_id = application.review_thread_id or await _open_thread(bot, application)
    embed = message_embed(message, await message.author, application.hub.language)
    with handle_message_parameters(
        embed=embed, nonce=f"action-{action.id}", allowed_mentions=NO_PINGS
    ) as params:
        await bot.http.send_message(thread_id, params=params)


async def _open_thread(bot: discord.Client, application: Application) -> int:
    """A thread on the review message, for the conversation; recorded once made."""
    channel_id, message_id = application.review_channel_id, application.review_message_id
    assert channel_id is not None
    assert message_id is not None
    try:
        data = await bot.http.start_thread_with_message(
            channel_id,
            message_id,
            name=post_name(application),
            auto_archive_duration=ARCHIVE_MINUTES,
        )
        thread_id = int(data["id"])
    except discord.HTTPException as exc:
        if exc.code != THREAD_EXISTS:
            raise
        thread_id = message_id  # made before an answer was lost: it has the message's id
    await ops.record_review_post(application.id, channel_id, message_id, thread_id)
    return thread_id


def message_embed(
    message: ApplicationMessage, author: User | None, locale: str | None
) -> discord.Embed:
    direction = N_("Staff to the applicant") if message.from_staff else N_("From the applicant")
    embed = discord.Embed(description=cut(message.text, DESCRIPTION), timestamp=message.created_at)
    embed.set_author(name=cut(author.username if author else translate(N_("someone"), locale), 256))
    embed.set_footer(text=translate(direction, locale))
    return embed


# Commands


class ApplyCog(PluginCog):
    """/apply: a top-level command, not a group."""

    __cog_is_app_commands_group__ = False  # discord.py: its commands stay top-level
    plugin = KEY
    dynamic_items = (NextStep, Accept, Decline, MessageApplicant, Claim, Reply)

    async def cog_load(self) -> None:
        await super().cog_load()
        discord_actions.register_renderer(REVIEW_RENDERER, render_review)
        discord_actions.register_renderer(MESSAGE_RENDERER, render_message)
        delivery.register_dm_button(MESSAGE_KIND, reply_button)

    async def cog_unload(self) -> None:
        discord_actions.unregister_renderer(REVIEW_RENDERER)
        discord_actions.unregister_renderer(MESSAGE_RENDERER)
        delivery.unregister_dm_button(MESSAGE_KIND)
        await super().cog_unload()

    @app_commands.command(name=_T("apply"), description=_T("Apply to this hub"))
    @app_commands.guild_only()
    @app_commands.describe(type=_T("What you apply for: pick one from the list"))
    @app_commands.rename(type=_T("type"))
    async def apply(self, interaction: discord.Interaction, type: str) -> None:
        hub = await self.hub(interaction)
        actor = (await load_context(interaction)).actor
        type_id = parse_id(type.strip())
        if type_id is None:
            raise common.type_not_found()
        draft = await ops.start_draft(actor, hub, type_id)
        await open_step(interaction, hub, draft)

    @apply.autocomplete("type")
    @safe_autocomplete
    async def type_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        context = await load_context(interaction)
        if context.hub is None:
            return []
        listed = await ops.open_types(context.actor, context.hub)
        needle = current.strip().casefold()
        names = [(t(interaction, row.name)[:100], str(row.id)) for row in _items(listed)]
        return [
            app_commands.Choice(name=name, value=value)
            for name, value in names
            if needle in name.casefold()
        ][:CHOICES]


def _items(listed: Any) -> list[Any]:
    return list(getattr(listed, "items", listed))


def pending_line(interaction: discord.Interaction, view: ApplicationView, guild_id: int) -> str:
    """`#12 · Driver · @alice · 3 hours ago · claimed by @olga`, linking the review post."""
    who = f"<@{view.applicant.discord_id}>" if view.applicant.discord_id else view.applicant.name
    parts = [f"#{view.id}", view.type_name, who, discord.utils.format_dt(view.created_at, "R")]
    if view.claimed_by is not None:
        parts.append(t(interaction, N_("claimed by {who}"), who=view.claimed_by.name))
    line = " · ".join(parts)
    if view.review_message_id:
        channel = view.review_channel_id or view.review_thread_id
        url = f"https://discord.com/channels/{guild_id}/{channel}/{view.review_message_id}"
        line = f"[{line}]({url})"
    return line


@staff("manage_roles")
class ApplicationStaffCog(
    PluginCog, group_name=_T("applications"), group_description=_T("Review applications")
):
    """Staff only: Discord shows it to members with Manage Roles; the hub checks its roles."""

    plugin = KEY

    @app_commands.command(
        name=_T("pending"),
        description=_T("Show the applications waiting for a decision"),
        extras={"permission": ops.REVIEW},
    )
    async def pending(self, interaction: discord.Interaction) -> None:
        hub = await self.hub(interaction)
        actor = (await load_context(interaction)).actor
        query = ApplicationQuery(state=ApplicationState.PENDING, limit=PENDING_SHOWN)
        page = await ops.list_applications(actor, hub, query)
        embed = discord.Embed(title=t(interaction, N_("Applications waiting for a decision")))
        lines = [pending_line(interaction, view, hub.guild_id or 0) for view in page.items]
        if not lines:
            embed.description = t(interaction, N_("Nothing is waiting."))
        else:
            more = t(interaction, N_("…and more.")) if page.next_cursor else ""
            embed.description = cut("\n".join([*lines, more]).strip(), DESCRIPTION)
        await answer(interaction, embed=embed)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(ApplyCog(bot))
    await bot.add_cog(ApplicationStaffCog(bot))
