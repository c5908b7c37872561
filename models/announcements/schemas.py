"""Inputs and views of the announcements package."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from models.announcements.tables import (
    BODY_LENGTH,
    IMAGE_URL_LENGTH,
    KEY_LENGTH,
    TITLE_LENGTH,
    TYPE_NAME_LENGTH,
    Visibility,
)
from models.pagination import PageQuery
from models.text import Name, Text
from models.validation import Id, Patch, http_url

MAX_ROLES = 25
RoleIds = Annotated[list[Id], Field(max_length=MAX_ROLES)]
TypeKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=KEY_LENGTH)]


class AnnouncementTypeInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: TypeKey = Field(description="Short name used in commands and filters: news, event...")
    name: Name(TYPE_NAME_LENGTH)  # type: ignore[valid-type]
    publisher_role_ids: RoleIds = Field(
        default_factory=list,
        description=(
            "Hub roles whose holders may publish this type (holders of manage_announcements"
            " publish every type). Hub role ids, not Discord ids."
        ),
    )


class AnnouncementTypeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Patch[Name(TYPE_NAME_LENGTH)] = None  # type: ignore[valid-type]
    publisher_role_ids: Patch[RoleIds] = None


class AnnouncementTypeView(BaseModel):
    id: int
    key: str
    name: str
    publisher_role_ids: list[int]
    may_publish: bool = Field(description="Whether you may publish this type.")


class AnnouncementTypeList(BaseModel):
    items: list[AnnouncementTypeView]


class AnnouncementInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: TypeKey = Field(description="The key of one of the hub's announcement types.")
    title: Name(TITLE_LENGTH)  # type: ignore[valid-type]
    body: Text(BODY_LENGTH) = Field(min_length=1, description="Markdown.")  # type: ignore[valid-type]
    visibility: Visibility = Visibility.PUBLIC
    pinned: bool = Field(default=False, strict=True)
    image_url: str = Field(default="", max_length=IMAGE_URL_LENGTH)
    ping_role_id: Id | None = Field(
        default=None,
        description="A hub role linked to a Discord role, mentioned in the Discord posts.",
    )
    publish_at: AwareDatetime | None = Field(
        default=None, description="When it goes out (in the future); now if left out."
    )

    _image = field_validator("image_url")(http_url)


class AnnouncementUpdate(BaseModel):
    """Fields left out stay; `ping_role_id` takes null to clear it."""

    model_config = ConfigDict(extra="forbid")
    title: Patch[Name(TITLE_LENGTH)] = None  # type: ignore[valid-type]
    body: Patch[Text(BODY_LENGTH)] = Field(default=None, min_length=1)  # type: ignore[valid-type]
    visibility: Patch[Visibility] = None
    pinned: Patch[bool] = Field(default=None, strict=True)
    image_url: Patch[str] = Field(default=None, max_length=IMAGE_URL_LENGTH)
    ping_role_id: Id | None = None
    publish_at: Patch[AwareDatetime] = Field(
        default=None, description="Only while it has not gone out yet."
    )

    _image = field_validator("image_url")(http_url)


class AnnouncementQuery(PageQuery):
    type: TypeKey | None = Field(default=None, description="Only this type.")
    author: Id | None = Field(default=None, description="Only by this user.")
    since: AwareDatetime | None = Field(default=None, description="Published at or after.")
    until: AwareDatetime | None = Field(default=None, description="Published before.")
    scheduled: bool = Field(
        default=False,
        description="Those waiting for their time instead: your own (staff: all).",
    )


class AnnouncementView(BaseModel):
    id: int
    type: str
    type_name: str
    title: str
    body: str = Field(description="Markdown, as written.")
    html: str = Field(description="The body as HTML, cleaned for a web page.")
    visibility: Visibility
    pinned: bool
    image_url: str
    ping_role_id: int | None
    publish_at: datetime
    published: bool
    author_id: int | None
    author_name: str | None
    updated_at: datetime


__all__ = [
    "AnnouncementInput",
    "AnnouncementQuery",
    "AnnouncementTypeInput",
    "AnnouncementTypeList",
    "AnnouncementTypeUpdate",
    "AnnouncementTypeView",
    "AnnouncementUpdate",
    "AnnouncementView",
]
