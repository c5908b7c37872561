"""Inputs and views of hub posts: the API reads and answers these, the bot builds them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from models.i18n import N_
from models.posts import templates
from models.text import Text
from models.validation import Id, Patch, Problem

AudienceName = Literal["public", "members"]
# Discord's webhook URLs; the id and token are all we keep from it (the host is Discord's).
WEBHOOK_URL = re.compile(
    r"^https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api(?:/v[0-9]{1,2})?"
    r"/webhooks/(?P<id>[0-9]{15,21})/(?P<token>[A-Za-z0-9_.-]{20,120})/?$"
)
SAMPLE_LENGTH = 200  # a sample value given to a preview


def parse_webhook(url: str) -> tuple[int, str] | None:
    """The webhook's id and token, or None when `url` is not a Discord webhook URL."""
    match = WEBHOOK_URL.fullmatch(url.strip())
    return (int(match["id"]), match["token"]) if match else None


def _webhook(value: SecretStr | None) -> SecretStr | None:
    if value is not None and parse_webhook(value.get_secret_value()) is None:
        raise Problem(
            N_(
                "must be a Discord webhook URL: https://discord.com/api/webhooks/<id>/<token>,"
                " as Discord's channel settings copy it (Integrations, Webhooks)"
            )
        )
    return value


class EmbedTemplate(BaseModel):
    """The embed of a post; texts and URLs take the trigger's `{variables}`."""

    model_config = ConfigDict(extra="forbid")
    title: Text(templates.TITLE) = ""  # type: ignore[valid-type]
    description: Text(templates.DESCRIPTION) = ""  # type: ignore[valid-type]
    url: Text(templates.URL) = ""  # type: ignore[valid-type]
    color: int | None = Field(default=None, ge=0, le=0xFFFFFF)
    image_url: Text(templates.URL) = ""  # type: ignore[valid-type]
    thumbnail_url: Text(templates.URL) = ""  # type: ignore[valid-type]
    footer: Text(templates.FOOTER) = ""  # type: ignore[valid-type]


class DestinationInput(BaseModel):
    """A new destination: `channel_id` (the bot posts there) or `webhook_url`, not both."""

    model_config = ConfigDict(extra="forbid")
    trigger: str = Field(max_length=64, description="A trigger's key, e.g. member.accepted.")
    channel_id: Id | None = Field(default=None, description="A channel of the hub's server.")
    webhook_url: SecretStr | None = Field(
        default=None, description="A Discord webhook URL; never shown back (its id is)."
    )
    content: Text(templates.CONTENT) | None = Field(  # type: ignore[valid-type]
        default=None, description="Left out with `embed`: the trigger's default template."
    )
    embed: EmbedTemplate | None = None
    audience: AudienceName = Field(
        default="public", description="members: members-only items reach it too."
    )
    enabled: bool = True
    crosspost: bool = Field(
        default=False,
        strict=True,
        description=(
            "A channel destination in an announcement channel: publish each post to the"
            " servers following it (Discord allows 10 an hour per channel)."
        ),
    )

    _check_webhook = field_validator("webhook_url")(_webhook)


class DestinationUpdate(BaseModel):
    """Fields to change. A `channel_id` replaces a webhook and a `webhook_url` a channel."""

    model_config = ConfigDict(extra="forbid")
    channel_id: Patch[Id] = None
    webhook_url: Patch[SecretStr] = None
    content: Patch[Text(templates.CONTENT)] = None  # type: ignore[valid-type]
    embed: EmbedTemplate | None = Field(default=None, description="null: no embed.")
    audience: Patch[AudienceName] = None
    enabled: Patch[bool] = None
    crosspost: Patch[bool] = Field(default=None, strict=True)

    _check_webhook = field_validator("webhook_url")(_webhook)


class PreviewInput(BaseModel):
    """A stored destination's template (`destination`), or a draft for `trigger`."""

    model_config = ConfigDict(extra="forbid")
    destination: Id | None = None
    trigger: str | None = Field(default=None, max_length=64)
    content: Text(templates.CONTENT) | None = None  # type: ignore[valid-type]
    embed: EmbedTemplate | None = None
    variables: dict[str, str] = Field(
        default_factory=dict,
        max_length=50,
        description="Sample values; a variable left out shows as [its name].",
    )

    @field_validator("variables")
    @classmethod
    def _short(cls, values: dict[str, str]) -> dict[str, str]:
        if any(len(v) > SAMPLE_LENGTH or len(k) > 64 for k, v in values.items()):
            raise Problem(N_("a sample value is at most {limit} characters"), limit=SAMPLE_LENGTH)
        return values


class VariableView(BaseModel):
    name: str
    description: str


class TriggerView(BaseModel):
    key: str
    label: str
    package: str
    variables: list[VariableView]
    content: str = Field(description="The default template's content.")
    embed: EmbedTemplate = Field(description="The default template's embed.")


class Triggers(BaseModel):
    items: list[TriggerView]


class DestinationView(BaseModel):
    id: int
    trigger: str
    kind: Literal["channel", "webhook"]
    channel_id: str | None
    webhook_id: str | None = Field(description="The webhook's id; its URL is never shown.")
    content: str
    embed: EmbedTemplate | None
    audience: AudienceName
    enabled: bool
    crosspost: bool
    broken: bool = Field(description="The last post failed for good: see last_error.")
    last_error: str
    created_by: int | None
    created_at: datetime
    updated_at: datetime


class Destinations(BaseModel):
    items: list[DestinationView]


class RenderedEmbed(BaseModel):
    title: str = ""
    description: str = ""
    url: str = ""
    color: int | None = None
    image_url: str = ""
    thumbnail_url: str = ""
    footer: str = ""


class Rendered(BaseModel):
    """A post as Discord will show it."""

    content: str
    embed: RenderedEmbed | None

    @classmethod
    def of(cls, message: dict[str, Any]) -> Rendered:
        embed = message.get("embed")
        return cls(content=message["content"], embed=RenderedEmbed(**embed) if embed else None)


class TestResult(BaseModel):
    __test__ = False  # not a pytest class
    queued: bool = Field(description="The sample post is in the queue for the bot.")
    preview: Rendered


class TemplateForm(BaseModel):
    """A template as the bot's form asks for it (a modal holds five inputs at most)."""

    model_config = ConfigDict(extra="forbid")
    content: Text(templates.CONTENT) = ""  # type: ignore[valid-type]
    title: Text(templates.TITLE) = ""  # type: ignore[valid-type]
    description: Text(templates.DESCRIPTION) = ""  # type: ignore[valid-type]
    footer: Text(templates.FOOTER) = ""  # type: ignore[valid-type]

    def embed(self) -> EmbedTemplate | None:
        texts = {"title": self.title, "description": self.description, "footer": self.footer}
        kept = {key: value for key, value in texts.items() if value}
        return EmbedTemplate(**kept) if kept else None
