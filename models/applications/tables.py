"""The applications package's tables: application types (with their forms), applications,
their conversations, and the answers kept between the steps of a Discord form."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

NAME_LENGTH = 100
DESCRIPTION_LENGTH = 2000
REASON_LENGTH = 1000
MESSAGE_LENGTH = 2000


class ApplicationState(StrEnum):
    PENDING = "pending"  # waiting for a decision
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"  # by the applicant, before a decision


class MemberRule(StrEnum):
    """Who may apply, by membership state."""

    ANY = "any"
    MEMBER = "member"  # members only (a staff application)
    NOT_MEMBER = "not_member"  # everyone but members (a driver application)


class ApplicationType(Model):
    """Something people apply for in a hub (driver, staff, event team...), with its form,
    who may apply, who reviews, and what a submission and an acceptance change."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="application_types")
    name = fields.CharField(max_length=NAME_LENGTH)
    description = fields.TextField(default="")
    active = fields.BooleanField(default=True)
    position = fields.IntField(default=0)  # order in lists: lower first
    allow_several_pending = fields.BooleanField(default=False)
    cooldown_days = fields.IntField(default=0)  # after a decline
    # Hub roles whose holders review this type (and are told of new applications).
    reviewer_role_ids = fields.JSONField(default=list)
    # A text channel (the review message) or a forum channel (one post per application).
    review_channel_id = fields.BigIntField(null=True)
    # Accept actions
    make_member = fields.BooleanField(default=False)
    give_role_ids = fields.JSONField(default=list)  # hub roles
    remove_role_ids = fields.JSONField(default=list)
    # Submit actions (hub roles; their Discord roles follow through the outbox)
    submit_give_role_ids = fields.JSONField(default=list)
    submit_remove_role_ids = fields.JSONField(default=list)
    # Eligibility
    require_steam = fields.BooleanField(default=False)
    require_verified_email = fields.BooleanField(default=False)
    member_state = fields.CharEnumField(MemberRule, default=MemberRule.ANY, max_length=16)
    any_of_role_ids = fields.JSONField(default=list)
    forbidden_role_ids = fields.JSONField(default=list)
    require_in_guild = fields.BooleanField(default=False)
    form = fields.JSONField()  # models.applications.forms.Form
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "application_types"
        indexes = (("hub_id", "position"),)


class Application(Model):
    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="applications")
    type = fields.ForeignKeyField(
        "drivershub.ApplicationType", related_name="applications", on_delete=fields.CASCADE
    )
    applicant = fields.ForeignKeyField("drivershub.User", related_name="applications")
    answers = fields.JSONField(default=dict)
    state = fields.CharEnumField(ApplicationState, default=ApplicationState.PENDING, max_length=16)
    claimed_by = fields.ForeignKeyField(
        "drivershub.User",
        related_name="applications_claimed",
        null=True,
        on_delete=fields.SET_NULL,
    )
    decided_by = fields.ForeignKeyField(
        "drivershub.User",
        related_name="applications_decided",
        null=True,
        on_delete=fields.SET_NULL,
    )
    decided_at = fields.DatetimeField(null=True)
    decision_reason = fields.CharField(max_length=REASON_LENGTH, default="")
    # What the acceptance changed, so a changed decision reverts exactly that:
    # {"made_member": bool, "given": [role ids], "removed": [role ids]}.
    effects = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Where the bot posted it for review (recorded by the bot after posting).
    review_channel_id = fields.BigIntField(null=True)
    review_message_id = fields.BigIntField(null=True)
    review_thread_id = fields.BigIntField(null=True)

    class Meta:
        table = "applications"
        # The staff list pages newest first (by id) within one hub, filtered by state,
        # type, applicant or reviewer; the date range reads created_at.
        indexes = (
            ("hub_id", "id"),
            ("hub_id", "state", "id"),
            ("hub_id", "type_id", "id"),
            ("hub_id", "applicant_id", "id"),
            ("hub_id", "claimed_by_id", "id"),
            ("hub_id", "decided_by_id", "id"),
            ("hub_id", "created_at", "id"),
        )


class ApplicationMessage(Model):
    """One message of an application's conversation between the applicant and staff."""

    id = fields.BigIntField(primary_key=True)
    application = fields.ForeignKeyField(
        "drivershub.Application", related_name="messages", on_delete=fields.CASCADE
    )
    author = fields.ForeignKeyField(
        "drivershub.User",
        related_name="application_messages",
        null=True,
        on_delete=fields.SET_NULL,
    )
    from_staff = fields.BooleanField()
    text = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "application_messages"
        indexes = (("application_id", "id"),)


class ApplicationDraft(Model):
    """Answers of a Discord form kept between its modals, until submitted or expired."""

    id = fields.BigIntField(primary_key=True)
    hub = fields.ForeignKeyField("drivershub.Hub", related_name="application_drafts")
    type = fields.ForeignKeyField(
        "drivershub.ApplicationType", related_name="drafts", on_delete=fields.CASCADE
    )
    user = fields.ForeignKeyField("drivershub.User", related_name="application_drafts")
    answers = fields.JSONField(default=dict)
    step = fields.IntField(default=0)  # the next step to answer (0-based)
    expires_at = fields.DatetimeField(db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "application_drafts"
        indexes = (("user_id", "type_id"),)
