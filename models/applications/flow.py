"""Applying: the whole form at once (API), or step by step with the answers kept between
Discord modals (drafts); withdrawing; the applicant's own list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from models import audit, plugins
from models.actor import Actor
from models.applications.common import (
    KEY,
    application_in,
    application_not_found,
    change_roles,
    details,
    member_row,
    page_views,
    queue_review,
    reviewer_user_ids,
)
from models.applications.forms import steps, validate_answers
from models.applications.schemas import ApplicationView, DraftView, MineQuery
from models.applications.tables import (
    Application,
    ApplicationDraft,
    ApplicationState,
    ApplicationType,
)
from models.applications.types import check_eligible, form_of, get_type
from models.auth import now
from models.errors import Conflict, Invalid, NotFound
from models.hubs import Hub
from models.i18n import N_
from models.members.tables import Member
from models.pagination import Page, paginate
from models.users import User

# How long answers wait between the steps of a Discord form.
DRAFT_TTL = timedelta(minutes=30)


async def submit(actor: Actor, hub: Hub, type_id: int, answers: dict[str, Any]) -> Application:
    """Apply with the whole form's answers (the API)."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    app_type = await get_type(actor, hub, type_id, for_applying=True)
    return await _submit(actor, hub, app_type, answers)


async def _submit(
    actor: Actor, hub: Hub, app_type: ApplicationType, answers: dict[str, Any]
) -> Application:
    async with in_transaction():
        member = await member_row(hub, actor.user_id)  # type: ignore[arg-type]
        # One submission of a person in a hub at a time (PostgreSQL), so two at once cannot
        # both pass the one-pending rule.
        await Member.filter(id=member.id).select_for_update().get()
        await check_eligible(actor, hub, app_type)
        clean = validate_answers(form_of(app_type), answers)
        application = await Application.create(
            hub_id=hub.id, type_id=app_type.id, applicant_id=actor.user_id, answers=clean
        )
        member.user = await User.get(id=actor.user_id)
        given, taken = await change_roles(
            actor,
            hub,
            member,
            give=app_type.submit_give_role_ids or [],
            take=app_type.submit_remove_role_ids or [],
            reason=f"application {application.id} submitted",
        )
        application.effects = {"submit": {"given": given, "taken": taken}}
        await application.save(update_fields=["effects"])
        await audit.record(
            actor,
            "applications.submitted",
            hub=hub,
            target=str(application.id),
            details=details(application),
        )
        await _announce(hub, application, app_type, member.user)
        await queue_review(hub, application, app_type)
    return await application_in(hub, application.id)


async def _announce(
    hub: Hub, application: Application, app_type: ApplicationType, applicant: User
) -> None:
    """Reviewers are told, and the hub's channels for the trigger get a post."""
    from models.notifications.center import notify
    from models.posts.ops import emit

    data = {
        "hub": hub.name,
        "type": app_type.name,
        "applicant": applicant.username,
        "application": application.id,
    }
    await notify(await reviewer_user_ids(hub, app_type), "application.received", data, hub=hub)
    await emit(
        hub,
        "application.received",
        post_variables(hub, application, app_type, applicant),
        source=f"application:{application.id}",
    )


def post_variables(
    hub: Hub, application: Application, app_type: ApplicationType, applicant: User, **more: str
) -> dict[str, str]:
    mention = f"<@{applicant.discord_id}>" if applicant.discord_id else applicant.username
    return {
        "hub": hub.name,
        "type": app_type.name,
        "applicant": applicant.username,
        "mention": mention,
        "application": str(application.id),
        **more,
    }


async def withdraw(actor: Actor, hub: Hub, application_id: int) -> Application:
    """The applicant takes a pending application back; what submitting changed is undone."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    application = await application_in(hub, application_id)
    if application.applicant_id != actor.user_id:
        raise application_not_found()
    async with in_transaction():
        changed = await Application.filter(
            id=application.id, state=ApplicationState.PENDING
        ).update(state=ApplicationState.WITHDRAWN, decided_at=now())
        if not changed:
            raise Conflict(N_("Only a pending application can be withdrawn."), code="not_pending")
        await undo_submit(actor, hub, application)
        await audit.record(
            actor,
            "applications.withdrawn",
            hub=hub,
            target=str(application.id),
            details=details(application),
        )
        await queue_review(hub, application, application.type)
    return await application_in(hub, application.id)


async def undo_submit(actor: Actor, hub: Hub, application: Application) -> None:
    """Take back the roles submitting gave and give back those it took (a withdrawal or a
    decline: an "Applicant" role should not stay)."""
    done = (application.effects or {}).get("submit") or {}
    if not done.get("given") and not done.get("taken"):
        return
    member = await Member.get(hub_id=hub.id, user_id=application.applicant_id).select_related(
        "user"
    )
    await change_roles(
        actor,
        hub,
        member,
        give=done.get("taken") or [],
        take=done.get("given") or [],
        reason=f"application {application.id} {application.state}",
    )
    effects = {**(application.effects or {}), "submit": {"given": [], "taken": []}}
    await Application.filter(id=application.id).update(effects=effects)
    application.effects = effects


async def my_applications(actor: Actor, hub: Hub, query: MineQuery) -> Page[ApplicationView]:
    """The actor's own applications in the hub, newest first."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    rows = Application.filter(hub_id=hub.id, applicant_id=actor.user_id or 0)
    if query.state is not None:
        rows = rows.filter(state=query.state)
    return await page_views(await paginate(rows, query, ("-id",), lambda row: row))


# Drafts: a Discord form in steps of five fields


def draft_expired() -> NotFound:
    return NotFound(
        N_(
            "These answers have expired (they are kept for 30 minutes) or belong to someone"
            " else. Start the application again."
        ),
        code="draft_expired",
    )


def draft_view(draft: ApplicationDraft, app_type: ApplicationType) -> DraftView:
    return DraftView(
        id=draft.id,
        type_id=draft.type_id,
        step=draft.step,
        steps=len(steps(form_of(app_type))),
        answers=dict(draft.answers or {}),
        expires_at=draft.expires_at,
    )


async def start_draft(actor: Actor, hub: Hub, type_id: int) -> ApplicationDraft:
    """Begin a form in steps, after checking the actor may apply (before any typing)."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    app_type = await get_type(actor, hub, type_id, for_applying=True)
    await check_eligible(actor, hub, app_type)
    current = now()
    async with in_transaction():
        await ApplicationDraft.filter(expires_at__lt=current).delete()  # every hub's, cheaply
        await ApplicationDraft.filter(user_id=actor.user_id, type_id=app_type.id).delete()
        draft = await ApplicationDraft.create(
            hub_id=hub.id,
            type_id=app_type.id,
            user_id=actor.user_id,
            answers={},
            step=0,
            expires_at=current + DRAFT_TTL,
        )
    draft.type = app_type
    return draft


async def _draft_in(actor: Actor, hub: Hub, draft_id: int) -> ApplicationDraft:
    draft = await ApplicationDraft.get_or_none(
        id=draft_id, hub_id=hub.id, user_id=actor.user_id or 0
    ).select_related("type")
    if draft is None or draft.expires_at <= now():
        raise draft_expired()
    if not draft.type.active:
        raise NotFound(N_("That application type does not exist."), code="type_not_found")
    return draft


async def save_step(
    actor: Actor, hub: Hub, draft_id: int, step: int, answers: dict[str, Any]
) -> ApplicationDraft:
    """Keep one step's answers (checked now, so a mistake is named in that step's modal)."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    draft = await _draft_in(actor, hub, draft_id)
    pages = steps(form_of(draft.type))
    if not 0 <= step < len(pages) or step > draft.step:
        raise Invalid(
            N_("This form has no step {step} yet: answer the steps in order."),
            code="bad_step",
            step=step + 1,
        )
    keys = [spec.key for spec in pages[step]]
    clean = validate_answers(form_of(draft.type), answers, only=keys)
    kept = {k: v for k, v in (draft.answers or {}).items() if k not in keys}
    draft.answers = {**kept, **clean}
    draft.step = max(draft.step, step + 1)
    draft.expires_at = now() + DRAFT_TTL
    await draft.save(update_fields=["answers", "step", "expires_at"])
    return draft


async def submit_draft(actor: Actor, hub: Hub, draft_id: int) -> Application:
    """Submit the answers of every step (the whole form is checked again)."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    draft = await _draft_in(actor, hub, draft_id)
    async with in_transaction():
        application = await _submit(actor, hub, draft.type, dict(draft.answers or {}))
        await ApplicationDraft.filter(id=draft.id).delete()
    return application
