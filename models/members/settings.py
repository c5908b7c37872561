"""The members package's per-hub settings (no project imports: the registry reads it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
