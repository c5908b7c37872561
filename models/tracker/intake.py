"""Receiving a tracker's webhook: checked, stored, then acknowledged.

A delivery is verified over its raw bytes, parsed, and stored in `tracker_intake` before the
sender hears 2xx; the worker (models.tracker.processing) makes the job from the stored row,
so an acknowledged job survives a crash. The (hub, dedupe key) pair is unique: a retry, or
fifty copies sent at once, store one row and all answer 2xx.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from tortoise.exceptions import IntegrityError

from models import encryption, json_input, plugins
from models.auth import now
from models.errors import BadRequest, Forbidden, Invalid, NotFound, Unauthorized
from models.hubs import Hub
from models.i18n import N_
from models.tracker.formats import JobError, envelope, verified
from models.tracker.tables import (
    ERROR_LENGTH,
    IntakeState,
    TrackerConnection,
    TrackerIntake,
    TrackerKind,
)

KEY = "tracker"
# Set when a delivery is stored, so this process's worker starts at once.
stored = asyncio.Event()


def tracker_not_found() -> NotFound:
    return NotFound(N_("This hub has not connected that tracker."), code="tracker_not_connected")


@dataclass(frozen=True)
class Receipt:
    status: Literal["accepted", "duplicate", "ignored"]
    event: str
    intake_id: int | None = None


def kind_of(raw: str) -> TrackerKind:
    try:
        return TrackerKind(raw)
    except ValueError:
        raise tracker_not_found() from None


async def connection_of(hub: Hub, kind: TrackerKind) -> TrackerConnection:
    found = await TrackerConnection.get_or_none(hub_id=hub.id, kind=kind)
    if found is None:
        raise tracker_not_found()
    return found


def secrets_of(connection: TrackerConnection, current: datetime | None = None) -> list[str]:
    """The secrets a delivery may be signed with: the current one, and the previous one
    while a rotation is under way."""
    found = [encryption.unseal(connection.secret)]
    until = connection.previous_until
    if connection.previous_secret and until is not None and until > (current or now()):
        found.append(encryption.unseal(connection.previous_secret))
    return found


@dataclass(frozen=True)
class Door:
    """What checking a delivery needs of a connection: its secrets (unsealed) and addresses."""

    secrets: list[str]
    allowed_ips: list[str]
    until: float  # monotonic time this process stops trusting it


# Every delivery needs its connection's secrets: kept in the process for a few seconds
# instead of a query and an unsealing per webhook. A changed secret or address list
# applies here at once and in other processes within DOOR_TTL (the previous secret stays
# valid through a rotation anyway).
DOOR_TTL = 5.0
_doors: dict[tuple[int, str], Door] = {}


async def _door(hub: Hub, kind: TrackerKind) -> Door:
    key = (hub.id, kind.value)
    door = _doors.get(key)
    if door is not None and door.until > time.monotonic():
        return door
    connection = await connection_of(hub, kind)
    allowed = [str(net) for net in connection.allowed_ips or []]
    door = Door(secrets_of(connection), allowed, time.monotonic() + DOOR_TTL)
    if len(_doors) > 10_000:  # hubs that stopped sending
        _doors.clear()
    _doors[key] = door
    return door


def forget_door(hub: Hub, kind: TrackerKind) -> None:
    """The connection changed: this process reads it again at the next delivery."""
    _doors.pop((hub.id, kind.value), None)


def _allowed(allowed_ips: list[str], address: str) -> bool:
    if not allowed_ips:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in allowed_ips)


async def receive(
    hub: Hub, kind: TrackerKind, raw: bytes, headers: dict[str, str], *, address: str
) -> Receipt:
    """Verify, store and acknowledge one delivery (see the module's text).

    404 tracker_not_connected; 403 ip_not_allowed; 401 bad_signature (nothing stored); 400
    for a body that is not JSON or too deep, or a job event without a job id (recorded as a
    failed intake with the reason).
    """
    plugins.require_enabled(hub, KEY)
    door = await _door(hub, kind)
    if not _allowed(door.allowed_ips, address):
        raise Forbidden(N_("This address may not send tracker webhooks."), code="ip_not_allowed")
    if not verified(kind, raw, headers, door.secrets):
        raise Unauthorized(N_("The webhook signature is missing or wrong."), code="bad_signature")
    try:
        body = json_input.load(raw)
    except (BadRequest, Invalid) as exc:
        await record_failure(hub, kind, raw, str(exc))
        raise
    return await store(hub, kind, raw, body, headers)


async def store(
    hub: Hub, kind: TrackerKind, raw: bytes, body: object, headers: dict[str, str]
) -> Receipt:
    """Store a verified, parsed delivery once (a duplicate is answered, not stored)."""
    try:
        found = envelope(kind, body, headers)
    except JobError as exc:
        await record_failure(hub, kind, raw, str(exc))
        raise BadRequest(N_("The delivery cannot be read: {reason}"), reason=str(exc)) from None
    if found.dedupe_key is None:
        return Receipt("ignored", found.event)  # acknowledged: no job, no plugin needs it
    try:
        row = await TrackerIntake.create(
            hub_id=hub.id,
            kind=kind,
            event=found.event[:64],
            dedupe_key=found.dedupe_key,
            payload=raw.decode("utf-8", "replace"),
            state=IntakeState.PENDING if found.job else IntakeState.IGNORED,
        )
    except IntegrityError:
        return Receipt("duplicate", found.event)  # a retry: the first copy is stored
    if found.job:
        stored.set()
    return Receipt("accepted", found.event, row.id)


async def record_failure(hub: Hub, kind: TrackerKind, raw: bytes, reason: str) -> None:
    """A delivery the door refused after its signature checked out (or before it could be
    read at all): kept failed, with why, for staff to see."""
    await TrackerIntake.create(
        hub_id=hub.id,
        kind=kind,
        payload=raw.decode("utf-8", "replace"),
        state=IntakeState.FAILED,
        error=reason[:ERROR_LENGTH],
    )


__all__ = [
    "KEY",
    "Receipt",
    "connection_of",
    "forget_door",
    "kind_of",
    "receive",
    "record_failure",
    "secrets_of",
    "store",
    "stored",
    "tracker_not_found",
]
