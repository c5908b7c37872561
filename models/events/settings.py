"""The events plugin's per-hub settings."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_OFFSET = 60 * 24 * 14  # two weeks


class EventsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reminder_offsets: list[Annotated[int, Field(ge=1, le=MAX_OFFSET)]] = Field(
        default_factory=lambda: [1440, 60],
        max_length=5,
        description="Minutes before meetup when those going are reminded (at most 5, each"
        " 1 to 20160: two weeks).",
    )
    mirror_members_only: bool = Field(
        default=False,
        description=(
            "Mirror members-only events to Discord scheduled events too (the whole server"
            " sees those)."
        ),
    )
    notify_all_on_new: bool = Field(
        default=False, description="Tell every member when an event is planned."
    )

    def offsets(self) -> list[int]:
        return sorted({m for m in self.reminder_offsets if 0 < m <= MAX_OFFSET}, reverse=True)
