"""Inputs and views of the applications package: the API and the bot use the same ones."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from models.applications.forms import MAX_FIELDS, Form
from models.applications.tables import (
    DESCRIPTION_LENGTH,
    MESSAGE_LENGTH,
    NAME_LENGTH,
    REASON_LENGTH,
    ApplicationState,
    MemberRule,
)
from models.members.directory import as_utc
from models.pagination import PageQuery
from models.text import Name, Text
from models.validation import Id, Patch

MAX_ROLES = 25  # role ids per list: more would be a misconfiguration
MAX_COOLDOWN_DAYS = 365
RoleIds = Annotated[list[Id], Field(max_length=MAX_ROLES)]
ROLE_IDS = "Hub role ids (not Discord ids)."


class TypeInput(BaseModel):
    """A new application type."""

    model_config = ConfigDict(extra="forbid")
    name: Name(NAME_LENGTH)  # type: ignore[valid-type]
    description: Text(DESCRIPTION_LENGTH) = ""  # type: ignore[valid-type]
    active: bool = True
    position: int = Field(default=0, ge=0, le=1000, description="Lower is listed first.")
    allow_several_pending: bool = Field(
        default=False, description="Several pending applications of this type per person."
    )
    cooldown_days: int = Field(
        default=0, ge=0, le=MAX_COOLDOWN_DAYS, description="Days to wait after a decline."
    )
    reviewer_role_ids: RoleIds = Field(
        default_factory=list,
        description=(
            "Hub roles whose holders review this type and are told of new applications"
            " (holders of review_applications review every type)."
        ),
    )
    review_channel_id: Id | None = Field(
        default=None,
        description="Discord text channel (a message) or forum channel (a post) for reviews.",
    )
    make_member: bool = Field(default=False, description="Accepting makes the applicant a member.")
    give_role_ids: RoleIds = Field(
        default_factory=list, description="Given on acceptance. " + ROLE_IDS
    )
    remove_role_ids: RoleIds = Field(
        default_factory=list, description="Taken on acceptance. " + ROLE_IDS
    )
    submit_give_role_ids: RoleIds = Field(
        default_factory=list, description="Given on submission (e.g. Applicant). " + ROLE_IDS
    )
    submit_remove_role_ids: RoleIds = Field(
        default_factory=list, description="Taken on submission (e.g. Visitor). " + ROLE_IDS
    )
    require_steam: bool = False
    require_verified_email: bool = False
    member_state: MemberRule = Field(
        default=MemberRule.ANY, description="any, member (members only), not_member."
    )
    any_of_role_ids: RoleIds = Field(
        default_factory=list, description="The applicant needs one of these. " + ROLE_IDS
    )
    forbidden_role_ids: RoleIds = Field(
        default_factory=list, description="The applicant must hold none of these. " + ROLE_IDS
    )
    require_in_guild: bool = Field(default=False, description="Must be in the Discord server.")
    form: Form


class TypeUpdate(BaseModel):
    """Fields to change; `review_channel_id: null` removes the review channel."""

    model_config = ConfigDict(extra="forbid")
    name: Patch[Name(NAME_LENGTH)] = None  # type: ignore[valid-type]
    description: Patch[Text(DESCRIPTION_LENGTH)] = None  # type: ignore[valid-type]
    active: Patch[bool] = None
    position: Patch[int] = Field(default=None, ge=0, le=1000)
    allow_several_pending: Patch[bool] = None
    cooldown_days: Patch[int] = Field(default=None, ge=0, le=MAX_COOLDOWN_DAYS)
    reviewer_role_ids: Patch[RoleIds] = None
    review_channel_id: Id | None = None
    make_member: Patch[bool] = None
    give_role_ids: Patch[RoleIds] = None
    remove_role_ids: Patch[RoleIds] = None
    submit_give_role_ids: Patch[RoleIds] = None
    submit_remove_role_ids: Patch[RoleIds] = None
    require_steam: Patch[bool] = None
    require_verified_email: Patch[bool] = None
    member_state: Patch[MemberRule] = None
    any_of_role_ids: Patch[RoleIds] = None
    forbidden_role_ids: Patch[RoleIds] = None
    require_in_guild: Patch[bool] = None
    form: Patch[Form] = None


ROLE_FIELDS = (
    "reviewer_role_ids",
    "give_role_ids",
    "remove_role_ids",
    "submit_give_role_ids",
    "submit_remove_role_ids",
    "any_of_role_ids",
    "forbidden_role_ids",
)


class TypeView(BaseModel):
    """An application type as staff manage it."""

    id: int
    name: str
    description: str
    active: bool
    position: int
    allow_several_pending: bool
    cooldown_days: int
    reviewer_role_ids: list[int]
    review_channel_id: str | None
    make_member: bool
    give_role_ids: list[int]
    remove_role_ids: list[int]
    submit_give_role_ids: list[int]
    submit_remove_role_ids: list[int]
    require_steam: bool
    require_verified_email: bool
    member_state: MemberRule
    any_of_role_ids: list[int]
    forbidden_role_ids: list[int]
    require_in_guild: bool
    form: Form
    created_at: datetime
    updated_at: datetime


class OpenTypeView(BaseModel):
    """A type someone can apply for, with its form."""

    id: int
    name: str
    description: str
    form: Form
    steps: int = Field(description="Discord modals the form takes (five fields each).")


class OpenTypes(BaseModel):
    items: list[OpenTypeView]


class Types(BaseModel):
    items: list[TypeView]


class SubmitInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type_id: Id
    answers: dict[str, Any] = Field(
        description="Answer per field key: text, a number, true/false (yes_no), a choice, a"
        " list of choices (multi_choice), YYYY-MM-DD (date), a URL, a Steam or TruckersMP"
        " profile link or id.",
    )

    @field_validator("answers")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > MAX_FIELDS:
            raise ValueError(f"at most {MAX_FIELDS} answers")
        return value


class DecisionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accept: StrictBool  # "yes" must not accept anyone
    reason: Text(REASON_LENGTH) = ""  # type: ignore[valid-type]


class ChangeInput(BaseModel):
    """A later change of a decision: always with a reason (the applicant is told)."""

    model_config = ConfigDict(extra="forbid")
    accept: StrictBool
    reason: Text(REASON_LENGTH) = Field(min_length=1)  # type: ignore[valid-type]


class AssignInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reviewer_user_id: Id | None = Field(description="A user id; null takes the claim back.")


class MessageInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text(MESSAGE_LENGTH) = Field(min_length=1)  # type: ignore[valid-type]


class ApplicationQuery(PageQuery):
    type: Id | None = Field(default=None, description="One type's applications.")
    state: ApplicationState | None = None
    applicant: Id | None = Field(default=None, description="One applicant's (a user id).")
    reviewer: Id | None = Field(
        default=None, description="Claimed or decided by this user (a user id)."
    )
    since: datetime | None = Field(default=None, description="Submitted at or after.")
    until: datetime | None = Field(default=None, description="Submitted before.")

    _aware = field_validator("since", "until")(as_utc)


class MineQuery(PageQuery):
    state: ApplicationState | None = None


class Person(BaseModel):
    id: int
    name: str
    discord_id: str | None


class ApplicationView(BaseModel):
    id: int
    type_id: int
    type_name: str
    applicant: Person
    answers: dict[str, Any]
    state: ApplicationState
    claimed_by: Person | None
    decided_by: Person | None
    decided_at: datetime | None
    decision_reason: str
    created_at: datetime
    review_channel_id: str | None
    review_message_id: str | None
    review_thread_id: str | None


class MessageView(BaseModel):
    id: int
    application_id: int
    author: Person | None
    from_staff: bool
    text: str
    created_at: datetime


class Messages(BaseModel):
    items: list[MessageView] = Field(description="Oldest first.")


class DraftView(BaseModel):
    id: int
    type_id: int
    step: int = Field(description="The next step to answer, from 0.")
    steps: int
    answers: dict[str, Any]
    expires_at: datetime


class StatsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(default=90, ge=1, le=366, description="The period: the last N days.")


class TypeCount(BaseModel):
    type_id: int
    name: str
    counts: dict[str, int] = Field(description="Applications per state.")


class Week(BaseModel):
    start: str = Field(description="Monday of the week, YYYY-MM-DD (UTC).")
    received: int
    accepted: int
    declined: int


class ReviewerStats(BaseModel):
    user_id: int
    name: str
    accepted: int
    declined: int
    median_hours: float | None


class Statistics(BaseModel):
    days: int
    counts: dict[str, int] = Field(description="Applications per state, every type.")
    types: list[TypeCount]
    median_hours_to_decision: float | None
    weeks: list[Week] = Field(description="Oldest first.")
    reviewers: list[ReviewerStats] = Field(description="Most decisions first.")
