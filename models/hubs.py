"""Hubs: one virtual trucking company, one per Discord guild."""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache as memoize
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StrictBool, field_validator
from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import audit, plugins, sql
from models.actor import Actor, require_recent_login
from models.cache import cached, forget
from models.errors import Conflict, Forbidden, Invalid, NotFound
from models.i18n import LANGUAGES, N_
from models.members import Member, MemberState
from models.pagination import Page, PageQuery, paginate
from models.permissions import Permission
from models.text import Name, Text
from models.validation import Id, Patch, Problem, validate

DistanceUnit = Literal["km", "mi"]
Language = Literal["en", "de"]
assert set(Language.__args__) == set(LANGUAGES)  # type: ignore[attr-defined]

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# Hubs live at /<slug> on the website: these top-level names belong to its pages and the API.
RESERVED_SLUGS = frozenset(
    [
        "about",
        "account",
        "accounts",
        "admin",
        "api",
        "app",
        "assets",
        "auth",
        "callback",
        "confirm-email",
        "dashboard",
        "docs",
        "health",
        "help",
        "hubs",
        "login",
        "logout",
        "me",
        "metrics",
        "mfa",
        "new",
        "oauth",
        "password-reset",
        "plugins",
        "privacy",
        "profile",
        "ready",
        "register",
        "reset-password",
        "robots",
        "settings",
        "signin",
        "signup",
        "sitemap",
        "static",
        "status",
        "terms",
        "user",
        "users",
        "verify-email",
        "www",
    ]
)
HubName = Name(100)
Description = Text(1000)
VIEW_TTL = 60  # seconds; writes invalidate at once, the TTL bounds any missed invalidation


@memoize
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(value: str) -> str:
    if value not in _timezones():
        raise Problem(
            N_("unknown time zone {value} (use an IANA name such as Europe/Berlin)"),
            value=repr(value),
        )
    return value


def matching_timezones(text: str, limit: int = 25) -> list[str]:
    """Time zones containing `text`, for autocompletion."""
    needle = text.lower().replace(" ", "_")
    return sorted(tz for tz in _timezones() if needle in tz.lower())[:limit]


def all_plugins() -> list[str]:
    """A new hub starts with every installed plugin on; staff turn off what they do not use."""
    return plugins.default_plugins()


def _known_plugins(value: dict[str, bool] | None) -> dict[str, bool] | None:
    for key in sorted(set(value or {}) - set(plugins.plugin_keys())):
        package = plugins.get(key)
        if package is not None and package.core:
            raise Problem(N_("{key} is a core package: it is always on"), key=key)
        known = ", ".join(plugins.plugin_keys()) or "none"
        raise Problem(N_("unknown plugin {key} (installed: {known})"), key=repr(key), known=known)
    return value


class HubSettings(BaseModel):
    """Free-form per-hub settings, validated; plugins add their own fields here."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", max_length=1000)
    website: HttpUrl | None = None
    accent_color: int = Field(default=0x2B6CB0, ge=0, le=0xFFFFFF)
    audit_channel_id: int | None = Field(default=None, gt=0)
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Each package's own settings, by key."
    )


class HubSettingsPatch(BaseModel):
    """Settings to change; `website` and `audit_channel_id` may be null (cleared)."""

    model_config = ConfigDict(extra="forbid")

    description: Patch[Description] = None
    website: HttpUrl | None = None
    accent_color: Patch[int] = Field(default=None, ge=0, le=0xFFFFFF)
    audit_channel_id: Id | None = None


class HubUpdate(BaseModel):
    """A change to a hub's settings; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: Patch[HubName] = None
    public: Patch[bool] = None
    language: Patch[Language] = None
    distance_unit: Patch[DistanceUnit] = None
    timezone: Patch[str] = Field(default=None, examples=["Europe/Berlin"])
    plugins: Patch[dict[str, StrictBool]] = Field(
        default=None,
        description="Plugins to turn on (true) or off (false), by key (see GET /plugins).",
    )
    settings: Patch[HubSettingsPatch] = None
    plugin_settings: Patch[dict[str, dict[str, Any]]] = Field(
        default=None,
        description=(
            "Settings of the packages that have them, by key; each is checked against the"
            " package's own schema, and fields left out stay as they are."
        ),
    )

    @field_validator("plugin_settings")
    @classmethod
    def _plugin_settings(
        cls, value: dict[str, dict[str, Any]] | None
    ) -> dict[str, dict[str, Any]] | None:
        for key, patch in (value or {}).items():
            plugins.merge_settings(key, {}, patch)  # raises ValueError naming what is wrong
        return value

    @field_validator("plugins")
    @classmethod
    def _plugins(cls, value: dict[str, bool] | None) -> dict[str, bool] | None:
        return _known_plugins(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)


class HubView(BaseModel):
    """What anyone may see of a hub."""

    slug: str
    name: str
    language: Language
    distance_unit: DistanceUnit
    timezone: str
    plugins: list[str] = Field(description="The plugins turned on, by key.")
    members: int
    description: str
    website: str | None
    accent_color: int
    created_at: datetime


class Hub(Model):
    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField(null=True, unique=True)
    slug = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=100)
    active = fields.BooleanField(default=True, db_index=True)
    public = fields.BooleanField(default=True)
    language = fields.CharField(max_length=8, default="en")
    distance_unit = fields.CharField(max_length=2, default="km")
    timezone = fields.CharField(max_length=64, default="UTC")
    plugins = fields.JSONField(default=all_plugins)
    settings = fields.JSONField(default=dict)
    owner_discord_id = fields.BigIntField(null=True)
    # The last member number given: numbers come from this counter, so none is reused.
    member_numbers = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "hubs"

    def __str__(self) -> str:
        return self.slug

    @property
    def hub_settings(self) -> HubSettings:
        return HubSettings.model_validate(self.settings or {})

    def has_plugin(self, key: str) -> bool:
        return plugins.is_enabled(self, key)


def slugify(name: str, fallback: str) -> str:
    """A URL slug from a guild name: ASCII, lowercase, dashes; `fallback` if nothing is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:48].strip("-")
    return slug or fallback


async def _create_with_unique_slug(base: str, *, suffix: bool = True, **values: Any) -> Hub:
    """Create a hub at `base`, or (with `suffix`) at the first free `base-N`.

    Guild hubs take a suffix: two servers may share a name and nobody is there to choose.
    An operator naming a hub is there to choose, so without `suffix` a taken slug is refused
    rather than silently becoming a slug the operator never typed.
    """
    if base in RESERVED_SLUGS:
        base = f"{base}-hub"  # reads as a name, where "api-2" would look like a second API
    if not suffix:
        return await _create_at_slug(base, **values)
    for attempt in range(1, 1000):
        slug = base if attempt == 1 else f"{base}-{attempt}"
        if slug in RESERVED_SLUGS or await Hub.filter(slug=slug).exists():
            continue
        try:
            return await Hub.create(slug=slug, **values)
        except IntegrityError:
            if "guild_id" in values and await Hub.filter(guild_id=values["guild_id"]).exists():
                raise
    raise Conflict(N_("No free slug for {name}."), name=base)


def _slug_taken(slug: str) -> Conflict:
    return Conflict(N_("The slug {slug} is taken."), code="slug_taken", slug=slug)


async def _create_at_slug(slug: str, **values: Any) -> Hub:
    if await Hub.filter(slug=slug).exists():
        raise _slug_taken(slug)
    try:
        return await Hub.create(slug=slug, **values)
    except IntegrityError:  # taken by a concurrent create between the check and the insert
        raise _slug_taken(slug) from None


async def ensure_hub_for_guild(
    guild_id: int, name: str, owner_discord_id: int | None, locale: str | None = None
) -> Hub:
    """The guild's hub: created on first join, reactivated on rejoin, renamed with the guild."""
    hub = await Hub.get_or_none(guild_id=guild_id)
    if hub is None:
        language = (locale or "en").split("-")[0]
        try:
            return await _create_with_unique_slug(
                slugify(name, f"hub-{guild_id}"),
                guild_id=guild_id,
                name=name[:100],
                owner_discord_id=owner_discord_id,
                language=language if language in LANGUAGES else "en",
            )
        except IntegrityError:  # the same guild, created by a concurrent event
            hub = await Hub.get(guild_id=guild_id)
    changes = {"active": True, "name": name[:100], "owner_discord_id": owner_discord_id}
    if any(getattr(hub, key) != value for key, value in changes.items()):
        hub.update_from_dict(changes)
        await hub.save(update_fields=[*changes, "updated_at"])
        await invalidate_view(hub.slug)
    return hub


async def deactivate_guild(guild_id: int) -> None:
    """The bot left the guild: the hub goes inactive and keeps all its data."""
    hub = await Hub.get_or_none(guild_id=guild_id, active=True)
    if hub is not None:
        hub.active = False
        await hub.save(update_fields=["active", "updated_at"])
        await invalidate_view(hub.slug)


async def reconcile_guilds(present: Iterable[int], mine: Callable[[int], bool]) -> int:
    """Deactivate hubs of guilds this process serves (`mine`) that are gone; return how many."""
    present_ids = set(present)
    stale = [
        guild_id
        for guild_id in await Hub.filter(active=True, guild_id__not_isnull=True).values_list(
            "guild_id", flat=True
        )
        if mine(guild_id) and guild_id not in present_ids
    ]
    for guild_id in stale:
        await deactivate_guild(guild_id)
    return len(stale)


class HubCreate(BaseModel):
    name: HubName


async def create_hub(actor: Actor, name: str, slug: str | None = None) -> Hub:
    """Create a hub without a Discord guild (operators; superusers only)."""
    if not actor.is_superuser:
        raise Forbidden()
    name = validate(HubCreate, {"name": name}).name  # the CLI passes what was typed
    if slug is not None and not SLUG_PATTERN.fullmatch(slug):
        raise Invalid(N_("A slug uses lowercase letters, digits and dashes."), code="bad_slug")
    if slug in RESERVED_SLUGS:
        raise Invalid(
            N_("The slug {slug} is reserved for the website."), code="reserved_slug", slug=slug
        )
    if slug is not None and await Hub.filter(slug=slug).exists():
        raise Conflict(N_("The slug {slug} is taken."), code="slug_taken", slug=slug)
    async with in_transaction():
        hub = await _create_with_unique_slug(
            slug or slugify(name, "hub"), suffix=False, name=name[:100]
        )
        await audit.record(actor, "hub.create", hub=hub, target=hub.slug)
    return hub


async def get_hub(slug: str) -> Hub:
    """An active hub by slug, or `NotFound`."""
    hub = None
    if SLUG_PATTERN.fullmatch(slug):  # every hub route asks: written out (models.sql)
        found = await sql.instances(Hub, "SELECT * FROM hubs WHERE slug = ? AND active", [slug])
        hub = found[0] if found else None
    if hub is None:
        raise NotFound(N_("There is no hub called {slug}."), code="hub_not_found", slug=slug)
    return hub


async def get_hub_for_guild(guild_id: int) -> Hub:
    hub = await Hub.get_or_none(guild_id=guild_id, active=True)
    if hub is None:
        raise NotFound(N_("This server has no hub yet."), code="hub_not_found")
    return hub


async def member_count(hub: Hub) -> int:
    return await Member.filter(hub_id=hub.id, state=MemberState.MEMBER).count()


async def _view(hub: Hub) -> HubView:
    settings = hub.hub_settings
    return HubView(
        slug=hub.slug,
        name=hub.name,
        language=hub.language,  # type: ignore[arg-type]
        distance_unit=hub.distance_unit,  # type: ignore[arg-type]
        timezone=hub.timezone,
        plugins=plugins.enabled_plugins(hub),
        members=await member_count(hub),
        description=settings.description,
        website=str(settings.website) if settings.website else None,
        accent_color=settings.accent_color,
        created_at=hub.created_at,
    )


def _view_key(slug: str) -> str:
    return f"hub-view:{slug}"


async def hub_view(slug: str) -> dict[str, Any]:
    """The public view of an active hub as JSON-ready data, cached (the hottest read)."""

    async def load() -> dict[str, Any]:
        return (await _view(await get_hub(slug))).model_dump(mode="json")

    return await cached(_view_key(slug), VIEW_TTL, load)


async def invalidate_view(slug: str) -> None:
    """Drop the cached view after a committed change (never fails the change)."""
    await forget(_view_key(slug))


async def list_public_hubs(query: PageQuery) -> Page[HubView]:
    """Active public hubs by name (the id breaks ties between equal names)."""
    return await paginate(Hub.filter(active=True, public=True), query, ("name", "id"), _view)


def _snapshot(hub: Hub) -> dict[str, Any]:
    keys = ("name", "public", "language", "distance_unit", "timezone", "plugins", "settings")
    return {key: getattr(hub, key) for key in keys}


def _apply(hub: Hub, change: HubUpdate) -> None:
    values = change.model_dump(
        exclude_unset=True, exclude={"plugins", "settings", "plugin_settings"}
    )
    hub.update_from_dict({k: v for k, v in values.items() if v is not None})
    if change.plugins:
        # Keys of plugins that are not installed (any more) stay as they are, unused.
        enabled = set(hub.plugins)
        enabled |= {key for key, on in change.plugins.items() if on}
        enabled -= {key for key, on in change.plugins.items() if not on}
        hub.plugins = sorted(enabled)
    if change.plugin_settings:
        stored = dict((hub.settings or {}).get("plugins", {}))
        for key, patch in change.plugin_settings.items():
            stored[key] = plugins.merge_settings(key, stored.get(key, {}), patch)
        hub.settings = {**hub.settings, "plugins": stored}
    if change.settings is not None:
        patch = change.settings.model_dump(mode="json", exclude_unset=True)
        # validate(): a stored value that no longer passes is a 422 naming it, not a 500.
        hub.settings = validate(HubSettings, {**hub.settings, **patch}).model_dump(mode="json")


async def update_hub(actor: Actor, hub: Hub, change: HubUpdate) -> Hub:
    """Change a hub's settings (needs manage_hub); the audit log keeps before and after.

    Turning plugins off hides their data from members: it needs a recent login.
    """
    await plugins.enter(actor, hub, None, Permission.MANAGE_HUB, write=True)
    before = _snapshot(hub)
    _apply(hub, change)
    await _save_audited(actor, hub, "hub.update", before)
    return hub


async def _save_audited(actor: Actor, hub: Hub, action: str, before: dict[str, Any]) -> None:
    """Save what changed since `before`, with its before/after values in the audit log.

    Turning plugins off hides their data from members: that needs a recent login, whether
    it comes from a change or from a revert.
    """
    if set(before["plugins"]) - set(hub.plugins):
        require_recent_login(actor)
    after = _snapshot(hub)
    diff = {k: {"before": before[k], "after": after[k]} for k in after if after[k] != before[k]}
    if not diff:
        return
    async with in_transaction():
        await hub.save()
        await audit.record(actor, action, hub=hub, target=hub.slug, details=diff)
    await invalidate_view(hub.slug)


class SettingsChange(BaseModel):
    """One entry of a hub's settings history: what changed, from what, to what."""

    id: int
    action: str
    actor_id: int | None
    changes: dict[str, dict[str, Any]]
    created_at: datetime


SETTINGS_ACTIONS = ("hub.update", "hub.revert")


async def settings_history(actor: Actor, hub: Hub, query: PageQuery) -> Page[SettingsChange]:
    """The hub's settings changes, newest first (needs view_audit_log)."""
    await plugins.enter(actor, hub, None, Permission.VIEW_AUDIT_LOG, write=False)
    entries = audit.AuditLog.filter(hub_id=hub.id, action__in=SETTINGS_ACTIONS)

    def change(row: audit.AuditLog) -> SettingsChange:
        return SettingsChange(
            id=row.id,
            action=row.action,
            actor_id=row.actor_id,
            changes=row.details,
            created_at=row.created_at,
        )

    # Ids grow with time, so "-id" is newest first with a unique key (created_at may tie).
    return await paginate(entries, query, ("-id",), change)


async def revert_settings(actor: Actor, hub: Hub, entry_id: int) -> Hub:
    """Put back the values a settings change replaced (needs manage_hub); itself audited."""
    await plugins.enter(actor, hub, None, Permission.MANAGE_HUB, write=True)
    entry = await audit.AuditLog.get_or_none(
        id=entry_id, hub_id=hub.id, action__in=SETTINGS_ACTIONS
    )
    if entry is None:
        raise NotFound(N_("That settings change does not exist."), code="change_not_found")
    restored = {key: change["before"] for key, change in entry.details.items()}
    before = _snapshot(hub)
    hub.update_from_dict(restored)
    await _save_audited(actor, hub, "hub.revert", before)
    return hub


async def hub_settings(actor: Actor, hub: Hub) -> HubSettings:
    """Every setting of the hub, plugins' included (needs manage_hub)."""
    await plugins.enter(actor, hub, None, Permission.MANAGE_HUB, write=False)
    settings = hub.hub_settings
    # Secret settings are write-only: staff see that one is set, never its value.
    settings.plugins = {
        key: plugins.masked_settings(key, stored) for key, stored in settings.plugins.items()
    }
    return settings


async def hub_info(hub: Hub) -> HubView:
    """The public view of a hub, fresh from the database (after a change, for operators)."""
    return await _view(hub)


async def cached_hub_info(hub: Hub) -> HubView:
    """The public view of an active hub from the cache the API's hub page uses.

    /hub info is the bot's hottest command: the cache saves the member count query, and
    every settings change invalidates it (the count may lag by up to VIEW_TTL).
    """
    return HubView.model_validate(await hub_view(hub.slug))
