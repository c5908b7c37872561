"""Reviewing: reading and listing applications, deciding once, changing a decision, claiming
and assigning, deleting, and recording where the bot posted the review message."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models import audit, plugins
from models.actor import Actor
from models.applications.common import (
    KEY,
    MANAGE,
    REVIEW,
    application_in,
    application_not_found,
    change_roles,
    details,
    may_review,
    member_row,
    page_views,
    queue_review,
    require_review,
)
from models.applications.flow import post_variables, undo_submit
from models.applications.schemas import ApplicationQuery, ApplicationView
from models.applications.tables import Application, ApplicationState, ApplicationType
from models.auth import now
from models.discord_actions import ActionKind, enqueue
from models.errors import Conflict, Invalid
from models.hubs import Hub
from models.i18n import N_, translate
from models.members import lifecycle
from models.members.tables import Member, MemberState
from models.pagination import Page, decode_cursor, paginate
from models.users import User

DECISIONS = {True: N_("accepted"), False: N_("declined")}
NO_REASON = N_("none given")


async def get_application(actor: Actor, hub: Hub, application_id: int) -> Application:
    """An application, for its applicant or a reviewer of its type (404 for anyone else)."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    application = await application_in(hub, application_id)
    await _reader(actor, hub, application)
    return application


async def _reader(actor: Actor, hub: Hub, application: Application) -> bool:
    """True for a reviewer, False for the applicant; anyone else learns nothing (404)."""
    if await may_review(actor, hub, application.type):
        return True
    if actor.user_id is not None and application.applicant_id == actor.user_id:
        return False
    raise application_not_found()


async def list_applications(
    actor: Actor, hub: Hub, query: ApplicationQuery
) -> Page[ApplicationView]:
    """The hub's applications, newest first, filtered (review_applications)."""
    await plugins.enter(actor, hub, KEY, REVIEW, write=False)
    rows = Application.filter(hub_id=hub.id)
    if query.type is not None:
        rows = rows.filter(type_id=query.type)
    if query.state is not None:
        rows = rows.filter(state=query.state)
    if query.applicant is not None:
        rows = rows.filter(applicant_id=query.applicant)
    if query.since is not None:
        rows = rows.filter(created_at__gte=query.since)
    if query.until is not None:
        rows = rows.filter(created_at__lt=query.until)
    # A date range reads its index in created order (newest first, as ids are); without one
    # the list pages by id.
    dated = query.since is not None or query.until is not None
    if query.reviewer is not None:
        if dated:  # the range's index narrows the rows already
            rows = rows.filter(Q(claimed_by_id=query.reviewer) | Q(decided_by_id=query.reviewer))
        else:
            rows = rows.filter(id__in=await _reviewed(rows, query))
    order = ("-created_at", "-id") if dated else ("-id",)
    return await page_views(await paginate(rows, query, order, lambda row: row))


async def _reviewed(rows: QuerySet[Application], query: ApplicationQuery) -> list[int]:
    """The ids that can fill the page, claimed or decided by `query.reviewer`: each column
    read through its own index, newest first, then merged. (One OR over both columns makes
    the database walk the whole hub when the reviewer has few applications.)"""
    if query.cursor is not None:
        try:
            position = decode_cursor(query.cursor)
        except ValueError:
            position = []  # paginate answers the bad cursor
        if len(position) == 1 and isinstance(position[0], int):
            rows = rows.filter(id__lt=position[0])
    found: set[int] = set()
    for column in ("claimed_by_id", "decided_by_id"):
        branch = rows.filter(**{column: query.reviewer}).order_by("-id").limit(query.limit + 1)
        found.update(await branch.values_list("id", flat=True))
    return sorted(found, reverse=True)[: query.limit + 1]


def delegated(actor: Actor) -> Actor:
    """The decider acting with the authority of the staff who set the type's accept actions
    (manage_applications): a reviewer need not hold manage_members to make a member."""
    return replace(actor, is_superuser=True)


def _decided(application: Application) -> Conflict:
    """The refusal of a second decision, naming the first."""
    who = application.decided_by.username if application.decided_by else "?"
    if application.state == ApplicationState.WITHDRAWN:
        return Conflict(
            N_("The applicant withdrew this application."),
            code="already_decided",
            state=str(application.state),
        )
    message = (
        N_("{name} already accepted this application.")
        if application.state == ApplicationState.ACCEPTED
        else N_("{name} already declined this application.")
    )
    return Conflict(
        message,
        code="already_decided",
        name=who,
        state=str(application.state),
        decided_by=application.decided_by_id,
    )


async def decide(
    actor: Actor, hub: Hub, application_id: int, accept: bool, reason: str = ""
) -> Application:
    """Accept or decline a pending application, once: of two reviewers deciding at once,
    the second gets 409 already_decided naming the first. Accepting runs the type's accept
    actions in the same transaction."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    application = await application_in(hub, application_id)
    await require_review(actor, hub, application.type)
    state = ApplicationState.ACCEPTED if accept else ApplicationState.DECLINED
    async with in_transaction():
        # The conditional update is the decision: on PostgreSQL the second waits for the
        # first's row lock, then finds the application decided and changes nothing.
        won = await Application.filter(
            id=application.id, hub_id=hub.id, state=ApplicationState.PENDING
        ).update(state=state, decided_by_id=actor.user_id, decided_at=now(), decision_reason=reason)
        if not won:
            raise _decided(await application_in(hub, application.id))
        application = await application_in(hub, application.id)
        if accept:
            effects = await _apply_accept(actor, hub, application)
            await _save_effects(application, accepted=effects)
        else:
            await undo_submit(actor, hub, application)
        await audit.record(
            actor,
            "applications.decided",
            hub=hub,
            target=str(application.id),
            details=details(application, decision=str(state), reason=reason),
        )
        await _tell_decision(hub, application, accept, reason)
        await queue_review(hub, application, application.type)
    return await application_in(hub, application.id)


async def _save_effects(application: Application, **parts: Any) -> None:
    effects = {**(application.effects or {}), **parts}
    await Application.filter(id=application.id).update(effects=effects)
    application.effects = effects


async def _apply_accept(actor: Actor, hub: Hub, application: Application) -> dict[str, Any]:
    """The type's accept actions; returns what they changed (a later change reverts that)."""
    app_type: ApplicationType = application.type
    member = await member_row(hub, application.applicant_id)
    made = False
    if app_type.make_member and member.state != MemberState.MEMBER:
        reason = f"application {application.id}"
        await lifecycle.accept(delegated(actor), hub, member.id, reason=reason)
        made = True
    member = await Member.get(id=member.id).select_related("user")
    given, taken = await change_roles(
        actor,
        hub,
        member,
        give=app_type.give_role_ids or [],
        take=app_type.remove_role_ids or [],
        reason=f"application {application.id} accepted",
    )
    return {"made_member": made, "given": given, "taken": taken}


async def _revert_accept(actor: Actor, hub: Hub, application: Application, reason: str) -> None:
    done = (application.effects or {}).get("accepted") or {}
    member = await Member.get(hub_id=hub.id, user_id=application.applicant_id).select_related(
        "user"
    )
    if done.get("made_member") and member.state == MemberState.MEMBER:
        await lifecycle.dismiss(delegated(actor), hub, member.id, reason or "decision changed")
        member = await Member.get(id=member.id).select_related("user")
    await change_roles(
        actor,
        hub,
        member,
        give=done.get("taken") or [],
        take=done.get("given") or [],
        reason=f"application {application.id} decision changed",
    )
    await _save_effects(application, accepted={"made_member": False, "given": [], "taken": []})


async def _tell_decision(hub: Hub, application: Application, accept: bool, reason: str) -> None:
    from models.notifications.center import notify
    from models.posts.ops import emit

    app_type, applicant = application.type, application.applicant
    data = {
        "hub": hub.name,
        "type": app_type.name,
        "decision": {"t": DECISIONS[accept]},  # translated for the reader
        "reason": reason or {"t": NO_REASON},
        "application": application.id,
    }
    await notify([application.applicant_id], "application.decided", data, hub=hub)
    variables = post_variables(
        hub,
        application,
        app_type,
        applicant,
        decision=translate(DECISIONS[accept], hub.language),
        reason=reason,
    )
    await emit(
        hub, "application.decided", variables, source=f"application:{application.id}:decision"
    )


async def change_decision(
    actor: Actor, hub: Hub, application_id: int, accept: bool, reason: str
) -> Application:
    """Turn an accepted application into a declined one or back, with a reason: what the
    acceptance changed is reverted, or the accept actions run now; the applicant is told."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    application = await application_in(hub, application_id)
    await require_review(actor, hub, application.type)
    state = ApplicationState.ACCEPTED if accept else ApplicationState.DECLINED
    async with in_transaction():
        await Application.filter(id=application.id).select_for_update().get()
        application = await application_in(hub, application.id)
        before = application.state
        if before not in (ApplicationState.ACCEPTED, ApplicationState.DECLINED):
            raise Conflict(
                N_("Only a decided application can have its decision changed."),
                code="not_decided",
            )
        if before == state:
            raise Conflict(N_("That is the decision already."), code="same_decision")
        if accept:
            await _save_effects(application, accepted=await _apply_accept(actor, hub, application))
        else:
            await _revert_accept(actor, hub, application, reason)
            await undo_submit(actor, hub, application)  # as a decline in the first place
        await Application.filter(id=application.id).update(
            state=state, decided_by_id=actor.user_id, decided_at=now(), decision_reason=reason
        )
        application = await application_in(hub, application.id)
        await audit.record(
            actor,
            "applications.decision_changed",
            hub=hub,
            target=str(application.id),
            details=details(application, before=str(before), after=str(state), reason=reason),
        )
        await _tell_decision(hub, application, accept, reason)
        await queue_review(hub, application, application.type)
    return application


async def claim(actor: Actor, hub: Hub, application_id: int) -> Application:
    """A reviewer takes a pending application on (409 already_claimed naming who has it)."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    application = await application_in(hub, application_id)
    await require_review(actor, hub, application.type)
    async with in_transaction():
        won = await Application.filter(
            Q(claimed_by_id__isnull=True) | Q(claimed_by_id=actor.user_id),
            id=application.id,
            state=ApplicationState.PENDING,
        ).update(claimed_by_id=actor.user_id)
        if not won:
            current = await application_in(hub, application.id)
            if current.state != ApplicationState.PENDING:
                raise _decided(current)
            raise Conflict(
                N_("{name} has claimed this application already."),
                code="already_claimed",
                name=current.claimed_by.username if current.claimed_by else "?",
            )
        await audit.record(
            actor,
            "applications.claimed",
            hub=hub,
            target=str(application.id),
            details=details(application),
        )
        await queue_review(hub, application, application.type)
    return await application_in(hub, application.id)


async def assign(
    actor: Actor, hub: Hub, application_id: int, reviewer_user_id: int | None
) -> Application:
    """Give a pending application to a reviewer (who must be able to review its type), or
    take the claim back (None)."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    application = await application_in(hub, application_id)
    await require_review(actor, hub, application.type)
    if application.state != ApplicationState.PENDING:
        raise _decided(application)
    reviewer = None
    if reviewer_user_id is not None:
        reviewer = await User.get_or_none(id=reviewer_user_id)
        someone = (
            Actor(
                user_id=reviewer.id,
                discord_id=reviewer.discord_id,
                is_superuser=reviewer.is_superuser,
            )
            if reviewer
            else None
        )
        if someone is None or not await may_review(someone, hub, application.type):
            raise Invalid(
                N_("That person cannot review this type of application."),
                code="not_a_reviewer",
            )
    async with in_transaction():
        await Application.filter(id=application.id).update(claimed_by_id=reviewer_user_id)
        await audit.record(
            actor,
            "applications.assigned",
            hub=hub,
            target=str(application.id),
            details=details(application, reviewer=reviewer_user_id),
        )
        if reviewer is not None and reviewer.id != actor.user_id:
            from models.notifications.center import notify

            data = {
                "hub": hub.name,
                "type": application.type.name,
                "applicant": application.applicant.username,
                "application": application.id,
            }
            await notify([reviewer.id], "application.assigned", data, hub=hub)
        await queue_review(hub, application, application.type)
    return await application_in(hub, application.id)


async def delete_application(actor: Actor, hub: Hub, application_id: int) -> None:
    """Delete an application and its conversation (manage_applications); the bot removes
    its review message."""
    await plugins.enter(actor, hub, KEY, MANAGE, write=True)
    async with in_transaction():
        application = await application_in(hub, application_id)
        await audit.record(
            actor,
            "applications.deleted",
            hub=hub,
            target=str(application.id),
            details=details(application, state=str(application.state)),
        )
        if hub.guild_id is not None and application.review_message_id is not None:
            await enqueue(
                hub.id,
                hub.guild_id,
                ActionKind.POST,
                target_key=f"application:{application.id}",
                channel_id=application.review_channel_id,
                payload={
                    "render": "applications.deleted",
                    "application_id": application.id,
                    "message_id": application.review_message_id,
                    "thread_id": application.review_thread_id,
                },
            )
        await application.delete()


async def record_review_post(
    application_id: int, channel_id: int, message_id: int, thread_id: int | None = None
) -> None:
    """Where the bot posted an application's review message (and its thread or forum post);
    later edits and the applicant's messages go there."""
    await Application.filter(id=application_id).update(
        review_channel_id=channel_id, review_message_id=message_id, review_thread_id=thread_id
    )
