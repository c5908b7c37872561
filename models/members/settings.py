"""The members package's per-hub settings (no project imports: the registry reads it)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# The audit log's categories: the first part of an entry's action ("members.accepted").
AUDIT_CATEGORIES = ("members", "roles", "hub", "discord")
ChannelId = Annotated[int, Field(gt=0, lt=2**63)]


class MembersSettings(BaseModel):
    """The members package's per-hub settings."""

    model_config = ConfigDict(extra="forbid")
    required_connections: list[Literal["steam", "email"]] = Field(
        default_factory=list,
        description="What someone needs before staff can accept them: steam, email (verified).",
    )
    leaving_ends_membership: bool = Field(
        default=False, description="Leaving the Discord server ends a membership (state left)."
    )
    discord_roles: Literal["two_way", "hub_to_discord"] = Field(
        default="two_way",
        description=(
            "Linked Discord roles given or taken by hand in Discord: two_way gives or takes"
            " the hub role too; hub_to_discord puts the Discord role back as the hub has it."
        ),
    )
    audit_channels: dict[Literal["members", "roles", "hub", "discord"], ChannelId] = Field(
        default_factory=dict,
        description=(
            "Discord channel per audit category (members, roles, hub, discord) that receives"
            " its entries; the hub's audit_channel_id receives the categories not listed."
        ),
    )
