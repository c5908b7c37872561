"""Inputs and views of the tracker package."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from models.i18n import N_
from models.pagination import PageQuery
from models.tracker.tables import IntakeState, JobStatus, TrackerKind
from models.validation import Id, Problem

MAX_IPS = 20
Network = Annotated[str, Field(max_length=64)]


def _networks(values: list[str]) -> list[str]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise Problem(N_("must be IP addresses or networks")) from None
    return values


class ConnectionInput(BaseModel):
    """Connect a tracker, or give it a new secret."""

    model_config = ConfigDict(extra="forbid")
    secret: SecretStr | None = Field(
        default=None,
        min_length=8,
        max_length=200,
        description=(
            "The secret the tracker shows for its webhook (TrackSim, Trucky). Left out: a new"
            " random one is made and shown once in the answer (for your own sender)."
        ),
    )
    allowed_ips: list[Network] = Field(
        default_factory=list,
        max_length=MAX_IPS,
        description="Only these sender addresses or networks; empty: any.",
    )
    previous_valid_hours: int = Field(
        default=24,
        ge=0,
        le=24 * 14,
        description="On a new secret: how long the old one keeps working (0: not at all).",
    )

    _ips = field_validator("allowed_ips")(_networks)


class ConnectionView(BaseModel):
    kind: TrackerKind
    webhook_path: str = Field(description="Paste this (with the API's address) in the tracker.")
    webhook_url: str
    allowed_ips: list[str]
    previous_valid_until: datetime | None = Field(
        description="While set and in the future, the previous secret still works too."
    )
    secret: str | None = Field(
        default=None, description="Only in the answer that made a new random secret."
    )
    updated_at: datetime


class ConnectionList(BaseModel):
    items: list[ConnectionView]


class IntakeQuery(PageQuery):
    state: IntakeState | None = Field(default=None, description="Only rows in this state.")
    kind: TrackerKind | None = None


class IntakeView(BaseModel):
    id: int
    kind: TrackerKind
    event: str
    state: IntakeState
    error: str
    attempts: int
    received_at: datetime
    processed_at: datetime | None
    job_id: int | None = None


class JobQuery(PageQuery):
    unmatched: bool | None = Field(
        default=None, description="true: only jobs that count for no member yet."
    )
    member: Id | None = Field(default=None, description="Only this member's jobs.")


class JobView(BaseModel):
    id: int
    tracker: TrackerKind
    tracker_job_id: str
    status: JobStatus
    member_id: int | None
    user_id: int | None
    steam_id: str | None
    driver_name: str
    unmatched: str = Field(description="Why it counts for no member: empty when it does.")
    game: str
    currency: str
    market: str
    multiplayer: str
    server: str
    truck: str
    trailer: str
    cargo: str
    cargo_mass_kg: float
    source_city: str
    source_company: str
    destination_city: str
    destination_company: str
    planned_km: float
    driven_km: float
    revenue: float
    penalty: float
    fuel_l: float
    damage: float
    top_speed_kmh: float
    fines: float
    tolls: float
    ferries: float
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime


class AssignInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: Id = Field(description="The member the job counts for.")


class ChoiceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tracker: Literal["tracksim", "trucky", "custom"] = Field(
        description="The tracker you drive with; jobs from another one do not count."
    )


class ChoiceView(BaseModel):
    tracker: TrackerKind | None = Field(
        description="null: not chosen yet (your first counted job chooses)."
    )


__all__ = [
    "AssignInput",
    "ChoiceInput",
    "ChoiceView",
    "ConnectionInput",
    "ConnectionList",
    "ConnectionView",
    "IntakeQuery",
    "IntakeView",
    "JobQuery",
    "JobView",
]
