"""The points package's per-hub settings (no project imports: the registry reads it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PointsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    negative_totals: bool = Field(
        default=False, description="Corrections may take a member's total below zero."
    )
    ranks_never_down: bool = Field(
        default=False, description="A rank once reached is kept when points go down."
    )
    daily_bonus: bool = Field(default=False, description="Members claim a bonus once a day.")
    daily_bonus_amount: int = Field(
        default=10, ge=1, le=1_000_000, description="The bonus of members whose rank sets none."
    )
    streak_bonus: int = Field(
        default=0,
        ge=0,
        le=1_000_000,
        description="Added per day of an unbroken streak (day 2: once, day 3: twice...).",
    )
    max_streak_bonus: int = Field(default=0, ge=0, le=1_000_000, description="Cap; 0: none.")
