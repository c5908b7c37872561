"""Applications over HTTP (rules in `models.applications`).

Applicants read the open types with their forms, apply with the whole form at once, follow
and withdraw their applications and talk with staff. Staff (manage_applications) shape types
and forms; reviewers (review_applications, or a type's reviewer roles) list, decide, claim,
assign and talk. An id of another hub is as unknown as a missing one (404).
"""

from __future__ import annotations

from aiohttp import web

from models.applications import ops
from models.applications.forms import MAX_FIELDS, MAX_FIELDS_PER_STEP
from models.applications.schemas import (
    ApplicationQuery,
    ApplicationView,
    AssignInput,
    ChangeInput,
    DecisionInput,
    MessageInput,
    MessageView,
    MineQuery,
    OpenTypes,
    OpenTypeView,
    Statistics,
    StatsQuery,
    SubmitInput,
    TypeInput,
    Types,
    TypeUpdate,
    TypeView,
)
from models.errors import NotFound
from models.i18n import N_
from models.pagination import Page, PageQuery
from web.api import Router, json_response, parse_query, path_id, read_json
from web.auth import actor_of
from web.gates import hub_of

router = Router("applications", plugin="applications")

MANAGE = ops.MANAGE
REVIEW = ops.REVIEW
FORM_RULES = (
    f"A form has 1-{MAX_FIELDS} fields, shown {MAX_FIELDS_PER_STEP} per Discord modal, and"
    " must fit Discord: labels 1-45 characters, help at most 100, a radio group 2-10"
    " choices, a checkbox group 1-10, a select 1-25. 422 names each bad field by its path"
    " (`form.fields.3.label`)."
)
READER = "The applicant or a reviewer of its type; 404 application_not_found for anyone else."


def _type_id(request: web.Request) -> int:
    missing = NotFound(N_("That application type does not exist."), code="type_not_found")
    return path_id(request, "type", missing)


def _application_id(request: web.Request) -> int:
    missing = NotFound(N_("That application does not exist."), code="application_not_found")
    return path_id(request, "application", missing)


# Applying


@router.get(
    "/hubs/{hub}/applications/open-types",
    response=OpenTypes,
    errors=(401, 403, 404),
    auth=True,
    description="Anyone the hub lets in. The active types, in the hub's order, with forms.",
)
async def list_open_types(request: web.Request) -> web.Response:
    """What one can apply for."""
    actor, hub = await actor_of(request), await hub_of(request)
    rows = await ops.open_types(actor, hub)
    return json_response(OpenTypes(items=[ops.open_type_view(row) for row in rows]))


@router.get(
    "/hubs/{hub}/applications/open-types/{type}",
    response=OpenTypeView,
    errors=(401, 403, 404),
    auth=True,
    description="Anyone the hub lets in. 404 type_not_found for an inactive type.",
)
async def get_open_type(request: web.Request) -> web.Response:
    """One type one can apply for, with its form."""
    actor, hub = await actor_of(request), await hub_of(request)
    row = await ops.get_type(actor, hub, _type_id(request), for_applying=True)
    return json_response(ops.open_type_view(row))


@router.post(
    "/hubs/{hub}/applications",
    body=SubmitInput,
    response=ApplicationView,
    status=201,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    description=(
        "Apply with every answer at once. 404 type_not_found for an inactive or unknown"
        " type. 403 names the eligibility rule that failed: banned, steam_required,"
        " email_required, members_only, not_for_members, not_in_server, role_required,"
        " role_forbidden, cooldown. 409 already_pending. 422 validation_failed names each"
        " wrong answer by its field key."
    ),
)
async def submit(request: web.Request) -> web.Response:
    """Apply."""
    actor, hub = await actor_of(request), await hub_of(request)
    body = await read_json(request, SubmitInput)
    application = await ops.submit(actor, hub, body.type_id, body.answers)
    return json_response(ops.application_view(application), status=201)


@router.get(
    "/hubs/{hub}/applications/mine",
    query=MineQuery,
    response=Page[ApplicationView],
    errors=(401, 403, 404, 422),
    auth=True,
    description="Your own applications in the hub, newest first.",
)
async def my_applications(request: web.Request) -> web.Response:
    """Your applications."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await ops.my_applications(actor, hub, parse_query(request, MineQuery)))


# Types and forms (staff)


@router.get(
    "/hubs/{hub}/applications/types",
    response=Types,
    errors=(401, 403, 404),
    auth=True,
    permission=MANAGE,
    description="Needs manage_applications. Every type, inactive ones too.",
)
async def list_types(request: web.Request) -> web.Response:
    """The hub's application types."""
    actor, hub = await actor_of(request), await hub_of(request)
    rows = await ops.all_types(actor, hub)
    return json_response(Types(items=[ops.type_view(row) for row in rows]))


@router.post(
    "/hubs/{hub}/applications/types",
    body=TypeInput,
    response=TypeView,
    status=201,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE,
    description=(
        f"Needs manage_applications. {FORM_RULES} Role ids are the hub's roles (422 naming"
        " the field otherwise). 409 too_many_types."
    ),
)
async def create_type(request: web.Request) -> web.Response:
    """Create an application type."""
    actor, hub = await actor_of(request), await hub_of(request)
    body = await read_json(request, TypeInput)
    return json_response(ops.type_view(await ops.create_type(actor, hub, body)), status=201)


@router.get(
    "/hubs/{hub}/applications/types/{type}",
    response=TypeView,
    errors=(401, 403, 404),
    auth=True,
    permission=MANAGE,
    description="Needs manage_applications.",
)
async def get_type(request: web.Request) -> web.Response:
    """One application type."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(ops.type_view(await ops.get_type(actor, hub, _type_id(request))))


@router.patch(
    "/hubs/{hub}/applications/types/{type}",
    body=TypeUpdate,
    response=TypeView,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=MANAGE,
    description=(
        f"Needs manage_applications. Fields left out stay; `form` replaces the whole form."
        f" {FORM_RULES}"
    ),
)
async def update_type(request: web.Request) -> web.Response:
    """Change an application type."""
    actor, hub = await actor_of(request), await hub_of(request)
    type_id = _type_id(request)
    body = await read_json(request, TypeUpdate)
    return json_response(ops.type_view(await ops.update_type(actor, hub, type_id, body)))


@router.delete(
    "/hubs/{hub}/applications/types/{type}",
    status=204,
    errors=(401, 403, 404),
    auth=True,
    permission=MANAGE,
    description="Needs manage_applications. Its applications go with it: deactivate to keep them.",
)
async def delete_type(request: web.Request) -> web.Response:
    """Delete an application type."""
    actor, hub = await actor_of(request), await hub_of(request)
    await ops.delete_type(actor, hub, _type_id(request))
    return web.Response(status=204)


# Reviewing


@router.get(
    "/hubs/{hub}/applications",
    query=ApplicationQuery,
    response=Page[ApplicationView],
    errors=(401, 403, 404, 422),
    auth=True,
    permission=REVIEW,
    description=(
        "Needs review_applications. Newest first; filter by `type`, `state`, `applicant` and"
        " `reviewer` (user ids: claimed or decided by) and a `since`/`until` submission range."
    ),
)
async def list_applications(request: web.Request) -> web.Response:
    """The hub's applications."""
    actor, hub = await actor_of(request), await hub_of(request)
    query = parse_query(request, ApplicationQuery)
    return json_response(await ops.list_applications(actor, hub, query))


@router.get(
    "/hubs/{hub}/applications/statistics",
    query=StatsQuery,
    response=Statistics,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=REVIEW,
    description=(
        "Needs review_applications. Over the last `days` (90 by default): applications per"
        " state and type, the median hours to a decision, a weekly series, each reviewer's"
        " decisions."
    ),
)
async def statistics(request: web.Request) -> web.Response:
    """Application figures."""
    actor, hub = await actor_of(request), await hub_of(request)
    return json_response(await ops.statistics(actor, hub, parse_query(request, StatsQuery)))


@router.get(
    "/hubs/{hub}/applications/{application}",
    response=ApplicationView,
    errors=(401, 403, 404),
    auth=True,
    description=READER,
)
async def get_application(request: web.Request) -> web.Response:
    """One application."""
    actor, hub = await actor_of(request), await hub_of(request)
    application = await ops.get_application(actor, hub, _application_id(request))
    return json_response(ops.application_view(application))


@router.delete(
    "/hubs/{hub}/applications/{application}",
    status=204,
    errors=(401, 403, 404),
    auth=True,
    permission=MANAGE,
    description="Needs manage_applications. With its conversation.",
)
async def delete_application(request: web.Request) -> web.Response:
    """Delete an application."""
    actor, hub = await actor_of(request), await hub_of(request)
    await ops.delete_application(actor, hub, _application_id(request))
    return web.Response(status=204)


@router.post(
    "/hubs/{hub}/applications/{application}/withdraw",
    response=ApplicationView,
    errors=(401, 403, 404, 409),
    auth=True,
    description="The applicant, while it is pending (409 not_pending after).",
)
async def withdraw(request: web.Request) -> web.Response:
    """Withdraw your application."""
    actor, hub = await actor_of(request), await hub_of(request)
    application = await ops.withdraw(actor, hub, _application_id(request))
    return json_response(ops.application_view(application))


@router.post(
    "/hubs/{hub}/applications/{application}/decision",
    body=DecisionInput,
    response=ApplicationView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    description=(
        "A reviewer of its type. Accepting runs the type's accept actions. Decided once:"
        " 409 already_decided names who decided first, and how."
    ),
)
async def decide(request: web.Request) -> web.Response:
    """Accept or decline an application."""
    actor, hub = await actor_of(request), await hub_of(request)
    application_id = _application_id(request)
    body = await read_json(request, DecisionInput)
    application = await ops.decide(actor, hub, application_id, body.accept, body.reason)
    return json_response(ops.application_view(application))


@router.put(
    "/hubs/{hub}/applications/{application}/decision",
    body=ChangeInput,
    response=ApplicationView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    description=(
        "A reviewer of its type changes a decision, with a reason (audited, the applicant"
        " is told): accept actions are reverted, or run now. 409 not_decided, same_decision."
    ),
)
async def change_decision(request: web.Request) -> web.Response:
    """Change a decision."""
    actor, hub = await actor_of(request), await hub_of(request)
    application_id = _application_id(request)
    body = await read_json(request, ChangeInput)
    application = await ops.change_decision(actor, hub, application_id, body.accept, body.reason)
    return json_response(ops.application_view(application))


@router.post(
    "/hubs/{hub}/applications/{application}/claim",
    response=ApplicationView,
    errors=(401, 403, 404, 409),
    auth=True,
    description="A reviewer takes a pending application on. 409 already_claimed, already_decided.",
)
async def claim(request: web.Request) -> web.Response:
    """Claim an application."""
    actor, hub = await actor_of(request), await hub_of(request)
    application = await ops.claim(actor, hub, _application_id(request))
    return json_response(ops.application_view(application))


@router.put(
    "/hubs/{hub}/applications/{application}/reviewer",
    body=AssignInput,
    response=ApplicationView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    description=(
        "A reviewer gives a pending application to another reviewer (422 not_a_reviewer"
        " for someone who cannot review its type), or null to release it."
    ),
)
async def assign(request: web.Request) -> web.Response:
    """Assign an application."""
    actor, hub = await actor_of(request), await hub_of(request)
    application_id = _application_id(request)
    body = await read_json(request, AssignInput)
    application = await ops.assign(actor, hub, application_id, body.reviewer_user_id)
    return json_response(ops.application_view(application))


# The conversation


@router.get(
    "/hubs/{hub}/applications/{application}/messages",
    query=PageQuery,
    response=Page[MessageView],
    errors=(401, 403, 404, 422),
    auth=True,
    description=f"{READER} Oldest first.",
)
async def list_messages(request: web.Request) -> web.Response:
    """An application's conversation."""
    actor, hub = await actor_of(request), await hub_of(request)
    application_id = _application_id(request)
    page = await ops.messages(actor, hub, application_id, parse_query(request, PageQuery))
    items = [ops.message_view(row) for row in page.items]
    return json_response(Page[MessageView](items=items, next_cursor=page.next_cursor))


@router.post(
    "/hubs/{hub}/applications/{application}/messages",
    body=MessageInput,
    response=MessageView,
    status=201,
    errors=(401, 403, 404, 422),
    auth=True,
    description=(
        f"{READER} Staff messages notify the applicant; the applicant's notify the claimer"
        " (or the reviewers) and reach the review thread in Discord."
    ),
)
async def add_message(request: web.Request) -> web.Response:
    """Write in an application's conversation."""
    actor, hub = await actor_of(request), await hub_of(request)
    application_id = _application_id(request)
    body = await read_json(request, MessageInput)
    message = await ops.add_message(actor, hub, application_id, body.text)
    return json_response(ops.message_view(message), status=201)
