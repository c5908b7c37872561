"""The shoutbox's inputs and outputs: the API and the cog use the same ones."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from drivershub_shoutbox.tables import Shout


class ShoutInput(BaseModel):
    text: str = Field(description="What to say: 1 to 200 characters.")


class ShoutView(BaseModel):
    id: int
    author_id: int | None = Field(description="The user who posted it; null once deleted.")
    text: str
    created_at: datetime

    @classmethod
    def of(cls, shout: Shout) -> ShoutView:
        return cls(
            id=shout.id, author_id=shout.author_id, text=shout.text, created_at=shout.created_at
        )
