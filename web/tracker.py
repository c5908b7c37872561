"""Tracker webhooks and the tracker's staff and driver routes over HTTP (rules in
`models.tracker`).

`POST /hubs/{hub}/trackers/{kind}` is what TrackSim, Trucky, TrucklineMP or a custom
tracker calls: no login, its signature instead, with a rate limit per hub. The body is read
as raw bytes (the signature covers them exactly) and stored before the 202.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from models.errors import BadRequest
from models.i18n import N_
from models.pagination import Page
from models.tracker import intake, ops
from models.tracker.schemas import (
    AssignInput,
    ChoiceInput,
    ChoiceView,
    ConnectionInput,
    ConnectionList,
    ConnectionView,
    IntakeQuery,
    IntakeView,
    JobQuery,
    JobView,
)
from web.api import Router, json_response, parse_query, path_id, read_json
from web.auth import actor_of
from web.clientip import client_ip
from web.gates import hub_of
from web.keys import SETTINGS
from web.members import member_id_of

router = Router("tracker", plugin="tracker")

MANAGE = ops.MANAGE
JSON_TYPES = ("application/json", "text/json")


class Receipt(BaseModel):
    status: str = Field(
        description="accepted (stored, a job follows), duplicate (stored before: nothing"
        " changed) or ignored (an event that makes no job)."
    )
    event: str


def _base(request: web.Request) -> str:
    return request.app[SETTINGS].web.public_url


# Staff: the intake and the jobs (registered before `{kind}`, which would match "intake")


@router.get(
    "/hubs/{hub}/trackers/intake",
    query=IntakeQuery,
    response=Page[IntakeView],
    errors=(401, 403, 404, 422),
    auth=True,
    permission=MANAGE,
    description="Needs manage_tracker. Every delivery, newest first; `state=failed` with why.",
)
async def list_tracker_intake(request: web.Request) -> web.Response:
    """Tracker deliveries."""
    actor, hub = await actor_of(request), await hub_of(request)
    query = parse_query(request, IntakeQuery)
    return json_response(await ops.intake_list(actor, hub, query))


@router.post(
    "/hubs/{hub}/trackers/intake/{intake}/replay",
    response=IntakeView,
    errors=(401, 403, 404, 409),
    auth=True,
    permission=MANAGE,
    description=(
        "Needs manage_tracker. Process a failed delivery again (after a fix): it makes its"
        " job once. 409 already_processed for one that is done."
    ),
)
async def replay_tracker_intake(request: web.Request) -> web.Response:
    """Replay a delivery."""
    actor, hub = await actor_of(request), await hub_of(request)
    intake_id = path_id(request, "intake", ops.intake_not_found())
    return json_response(await ops.replay(actor, hub, intake_id))


@router.get(
    "/hubs/{hub}/trackers",
    response=ConnectionList,
    errors=(401, 403, 404),
    auth=True,
    permission=MANAGE,
    description="Needs manage_tracker. The connected trackers and their webhook URLs.",
)
async def list_tracker_connections(request: web.Request) -> web.Response:
    """Connected trackers."""
    actor, hub = await actor_of(request), await hub_of(request)
    items = await ops.connections(actor, hub, base_url=_base(request))
    return json_response(ConnectionList(items=items))


# The webhook


@router.post(
    "/hubs/{hub}/trackers/{kind}",
    response=Receipt,
    status=202,
    limit="tracker",
    errors=(400, 401, 403, 404, 415),
    description=(
        "For the tracker, not for people: `kind` is tracksim, trucky, trucklinemp or custom."
        " Signed with the hub's secret for that tracker (TrackSim `tracksim-signature`,"
        " Trucky `X-Signature-SHA256`, TrucklineMP `X-TrucklineMP-Signature: sha256=…`,"
        " custom `X-Drivershub-Signature: sha256=…`). 202 once stored; a repeat of a job is"
        " 202 `duplicate` and changes nothing. 401 bad_signature; 400 for a body that cannot"
        " be read (recorded as a failed delivery)."
    ),
)
async def tracker_webhook(request: web.Request) -> web.Response:
    """Receive a tracker webhook."""
    hub = await hub_of(request)
    kind = intake.kind_of(request.match_info["kind"])
    if request.content_type not in JSON_TYPES:
        raise web.HTTPUnsupportedMediaType(text='{"detail": "Send the body as application/json."}')
    raw = await _body(request, hub, kind)
    receipt = await intake.receive(
        hub, kind, raw, dict(request.headers), address=client_ip(request)
    )
    return json_response(Receipt(status=receipt.status, event=receipt.event), status=202)


async def _body(request: web.Request, hub: object, kind: intake.TrackerKind) -> bytes:
    """The raw body, at most [tracker] max_body_size bytes (a larger one is recorded)."""
    limit = request.app[SETTINGS].tracker.max_body_size
    parts, size = [], 0
    if request.content_length is None or request.content_length <= limit:
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                break
            parts.append(chunk)
    if size > limit or (request.content_length or 0) > limit:
        await intake.record_failure(hub, kind, b"", f"the body is over {limit} bytes")  # type: ignore[arg-type]
        raise BadRequest(N_("The body is over {limit} bytes."), code="body_too_large", limit=limit)
    return b"".join(parts)


@router.put(
    "/hubs/{hub}/trackers/{kind}",
    body=ConnectionInput,
    response=ConnectionView,
    errors=(401, 403, 404, 422),
    auth=True,
    permission=MANAGE,
    description=(
        "Needs manage_tracker. Connect the tracker with the secret it shows (TrackSim,"
        " Trucky), or give it a new one: the previous secret keeps working for"
        " `previous_valid_hours`. Without `secret` a random one is made and shown once."
    ),
)
async def connect_tracker(request: web.Request) -> web.Response:
    """Connect a tracker."""
    actor, hub = await actor_of(request), await hub_of(request)
    kind = request.match_info["kind"]
    body = await read_json(request, ConnectionInput)
    return json_response(await ops.connect(actor, hub, kind, body, base_url=_base(request)))


@router.delete(
    "/hubs/{hub}/trackers/{kind}",
    status=204,
    errors=(401, 403, 404),
    auth=True,
    permission=MANAGE,
    description="Needs manage_tracker. Its webhooks are refused from now on (404).",
)
async def disconnect_tracker(request: web.Request) -> web.Response:
    """Disconnect a tracker."""
    actor, hub = await actor_of(request), await hub_of(request)
    await ops.disconnect(actor, hub, request.match_info["kind"])
    return web.Response(status=204)


# Jobs


@router.get(
    "/hubs/{hub}/jobs",
    query=JobQuery,
    response=Page[JobView],
    errors=(401, 403, 404, 422),
    auth=True,
    description=(
        "Newest first. Members see their own jobs; manage_tracker sees every job, and with"
        " `unmatched=true` those that count for no member yet (`unmatched` says why)."
    ),
)
async def list_jobs(request: web.Request) -> web.Response:
    """Jobs."""
    actor, hub = await actor_of(request), await hub_of(request)
    query = parse_query(request, JobQuery)
    return json_response(await ops.jobs(actor, hub, query))


@router.post(
    "/hubs/{hub}/jobs/{job}/assign",
    body=AssignInput,
    response=JobView,
    errors=(401, 403, 404, 409, 422),
    auth=True,
    permission=MANAGE,
    description="Needs manage_tracker. Count a job for a member (409 not_a_member).",
)
async def assign_job(request: web.Request) -> web.Response:
    """Assign a job."""
    actor, hub = await actor_of(request), await hub_of(request)
    job_id = path_id(request, "job", ops.job_not_found())
    body = await read_json(request, AssignInput)
    return json_response(await ops.assign(actor, hub, job_id, body))


# The driver's tracker


@router.get(
    "/hubs/{hub}/members/{member}/tracker",
    response=ChoiceView,
    errors=(401, 403, 404),
    auth=True,
    description="The tracker a member drives with (`@me` for yourself; others: manage_tracker).",
)
async def get_tracker_choice(request: web.Request) -> web.Response:
    """A member's tracker."""
    actor, hub = await actor_of(request), await hub_of(request)
    member_id = await member_id_of(request, hub)
    return json_response(await ops.choice(actor, hub, member_id))


@router.put(
    "/hubs/{hub}/members/{member}/tracker",
    body=ChoiceInput,
    response=ChoiceView,
    errors=(401, 403, 404, 422),
    auth=True,
    description=(
        "Switch the tracker a member drives with (`@me`, or manage_tracker for others): jobs"
        " from another tracker do not count for them."
    ),
)
async def set_tracker_choice(request: web.Request) -> web.Response:
    """Switch a member's tracker."""
    actor, hub = await actor_of(request), await hub_of(request)
    member_id = await member_id_of(request, hub)
    body = await read_json(request, ChoiceInput)
    return json_response(await ops.choose(actor, hub, member_id, body))
