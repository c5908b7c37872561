"""Inputs and views of the downloads package."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.downloads.tables import DESCRIPTION_LENGTH, TITLE_LENGTH, URL_LENGTH
from models.pagination import PageQuery
from models.text import Name, Text
from models.validation import Id, Patch, http_url

MAX_ROLES = 25
RoleIds = Annotated[list[Id], Field(max_length=MAX_ROLES)]
Position = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]


class DownloadInput(BaseModel):
    """A new item. With `url` it is a link; without, upload its file next (until then only
    staff see it)."""

    model_config = ConfigDict(extra="forbid")
    title: Name(TITLE_LENGTH)  # type: ignore[valid-type]
    description: Text(DESCRIPTION_LENGTH) = Field(default="", description="Markdown.")  # type: ignore[valid-type]
    url: str = Field(
        default="",
        max_length=URL_LENGTH,
        description="An external http(s) address; members never see it, only their links.",
    )
    role_ids: RoleIds = Field(
        default_factory=list,
        description="Hub roles whose holders see it; empty: every member.",
    )
    pinned: bool = Field(default=False, strict=True)
    position: Position = Field(default=0, description="The staff's order: smaller first.")

    _url = field_validator("url")(http_url)


class DownloadUpdate(BaseModel):
    """Fields left out stay. A `url` turns a file item into a link (its file is deleted)."""

    model_config = ConfigDict(extra="forbid")
    title: Patch[Name(TITLE_LENGTH)] = None  # type: ignore[valid-type]
    description: Patch[Text(DESCRIPTION_LENGTH)] = None  # type: ignore[valid-type]
    url: Patch[str] = Field(default=None, min_length=1, max_length=URL_LENGTH)
    role_ids: Patch[RoleIds] = None
    pinned: Patch[bool] = Field(default=None, strict=True)
    position: Patch[Position] = None

    _url = field_validator("url")(http_url)


class DownloadQuery(PageQuery):
    sort: Literal["position", "clicks", "newest"] = Field(
        default="position",
        description=(
            "Pinned first, then by the staff's order, by downloads (staff only), or newest."
        ),
    )
    min_clicks: int | None = Field(
        default=None, ge=0, description="Only items downloaded at least this often (staff)."
    )


class DownloadView(BaseModel):
    id: int
    title: str
    description: str = Field(description="Markdown, as written.")
    html: str = Field(description="The description as HTML, cleaned for a web page.")
    kind: Literal["link", "file", "empty"] = Field(
        description="An external link, an uploaded file, or a file not uploaded yet (staff)."
    )
    file_name: str | None
    file_size: int | None
    pinned: bool
    position: int
    role_ids: list[int]
    url: str | None = Field(description="The external address: staff only (null for others).")
    clicks: int | None = Field(description="Downloads so far: staff only (null for others).")
    created_at: datetime
    updated_at: datetime


class LinkView(BaseModel):
    """Your personal link: anyone holding it can download until it expires, so do not share it."""

    path: str = Field(description="The link, relative to the API's address.")
    url: str = Field(description="The whole link.")
    expires_at: datetime


class UploadQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(
        min_length=1,
        max_length=1000,
        description="The file's name, as members save it (path parts are dropped).",
    )


__all__ = [
    "DownloadInput",
    "DownloadQuery",
    "DownloadUpdate",
    "DownloadView",
    "LinkView",
    "UploadQuery",
]
