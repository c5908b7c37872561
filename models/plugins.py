"""The package registry: every core package and plugin declares itself once, here.

A package is one feature with one name in every layer: `models/<key>/` (its domain),
`cogs/<key>.py` (Discord) and `web/<key>.py` (HTTP). Its `Package` says what it brings: label,
permissions, Tortoise model modules, per-hub settings, outbox templates, and its router and cog
by dotted path (so the domain never imports an adapter). Everything central (the plugin list,
the permission catalog, the model list, the routers, the cogs, the templates) is derived from
`packages()`, never edited by hand.

Core packages are always on; plugins are switched per hub. Installed distributions add
packages through the `drivershub.plugins` entry-point group (see docs/plugins.md).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel, Field, SecretStr, ValidationError

from models import APP_LABEL, PLATFORM_MODEL_MODULES, encryption
from models.actor import Actor, Scope, require_scope
from models.errors import PluginDisabled
from models.events.settings import EventsSettings
from models.i18n import N_, Lazy, add_catalog_dir, translate
from models.members.settings import MembersSettings
from models.outbox import OutboxKind
from models.points.settings import PointsSettings

if TYPE_CHECKING:
    from models.hubs import Hub
    from models.permissions import Grant

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "drivershub.plugins"
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


@dataclass(frozen=True)
class Template:
    """An outbox message, rendered in the recipient's language at send time."""

    kind: str  # an OutboxKind
    body: str  # N_ text with {placeholders}
    subject: str = ""  # e-mails only


# Where a person can be told something (notification preferences are per kind and channel).
CHANNELS: tuple[str, ...] = ("in_app", "discord", "email")


@dataclass(frozen=True)
class NotificationKind:
    """Something a person is told about, rendered in the recipient's language when it is read
    or sent (never when it is emitted): `title` and `body` are N_ texts whose {placeholders}
    are keys of the notification's data."""

    title: str
    body: str = ""
    # The channels it reaches unless the recipient chose otherwise.
    channels: tuple[str, ...] = ("in_app", "discord")
    # False: a security notice; it reaches its channels whatever the preferences say.
    mutable: bool = True
    label: str = ""  # N_ text naming the kind in the preferences (default: the title)


@dataclass(frozen=True)
class PostTrigger:
    """Something in a hub that staff can have posted in a Discord channel (a hub post),
    with the variables its templates may use and the default template."""

    label: str  # N_ text
    variables: Mapping[str, str]  # name -> N_ description
    content: str = ""  # the default message content, with {variables}
    title: str = ""  # the default embed title
    description: str = ""  # the default embed description


@dataclass(frozen=True)
class Package:
    """What one core package or plugin brings; declared once."""

    key: str
    label: str  # N_ text, shown in /hub settings and on the website
    core: bool = False  # always on; plugins (core=False) are switched per hub
    permissions: Mapping[str, str] = field(default_factory=dict)  # key -> N_ label
    models: tuple[str, ...] = ()  # Tortoise model modules
    # A Tortoise app of its own (external plugins, with their own migrations module);
    # None: the project's app and `migrations/`.
    app: str | None = None
    migrations: str | None = None
    settings: type[BaseModel] | None = None  # its per-hub settings
    templates: Mapping[str, Template] = field(default_factory=dict)
    # Notification kinds ("member.accepted") and hub-post triggers it emits, by name.
    notifications: Mapping[str, NotificationKind] = field(default_factory=dict)
    triggers: Mapping[str, PostTrigger] = field(default_factory=dict)
    router: str | None = None  # "web.events:router"
    cog: str | None = None  # "cogs.events", loaded as a discord.py extension
    locales: Path | None = None  # its own gettext catalogs (external plugins)
    default_on: bool = True  # new hubs start with the plugin on

    @property
    def app_label(self) -> str:
        return self.app or APP_LABEL


_EVENT_VARIABLES = {
    "hub": N_("the hub's name"),
    "title": N_("the event's title"),
    "when": N_("the meetup time, shown in each reader's time zone"),
    "route": N_("from where to where"),
    "link": N_("the event's link"),
    "points": N_("the points for attending"),
}

# Built-in packages. Adding one: its package under models/, its cog and router, one entry here.
BUILTIN: tuple[Package, ...] = (
    Package(
        key="members",
        label=N_("Members"),
        core=True,
        permissions={
            "manage_members": N_("Manage members"),
            "ban_members": N_("Ban and unban"),
            "manage_roles": N_("Manage roles"),
            "driver": N_("Driver: log jobs and join events"),
        },
        models=("models.members",),
        settings=MembersSettings,
        notifications={
            "member.accepted": NotificationKind(
                N_("Welcome to {hub}"),
                N_("You are now member #{number} of {hub}."),
                label=N_("Accepted into a hub"),
            ),
            "member.dismissed": NotificationKind(
                N_("You are no longer a member of {hub}"),
                N_("Reason: {reason}"),
                label=N_("Dismissed from a hub"),
            ),
            "member.resigned": NotificationKind(
                N_("You left {hub}"),
                N_("Your hub roles were taken away."),
                channels=("in_app",),
                label=N_("Leaving a hub"),
            ),
            "member.banned": NotificationKind(
                N_("You were banned from {hub}"),
                N_("Reason: {reason}"),
                label=N_("Banned from a hub"),
            ),
            "member.roles_changed": NotificationKind(
                N_("Your roles in {hub} changed"),
                N_("Added: {added}. Removed: {removed}."),
                channels=("in_app",),
                label=N_("Role changes"),
            ),
        },
        triggers={
            "member.accepted": PostTrigger(
                N_("A member was accepted"),
                {
                    "hub": N_("the hub's name"),
                    "member": N_("the member's name"),
                    "mention": N_("a mention of the member in Discord"),
                    "number": N_("the member's number"),
                },
                content=N_("Welcome {mention}, our driver #{number}!"),
            ),
            "member.left": PostTrigger(
                N_("A member left or was dismissed"),
                {
                    "hub": N_("the hub's name"),
                    "member": N_("the member's name"),
                    "mention": N_("a mention of the member in Discord"),
                    "number": N_("the member's number"),
                },
                content=N_("{member} is no longer with us."),
            ),
        },
        cog="cogs.members",
        router="web.members:router",
    ),
    Package(
        key="points",
        label=N_("Points and ranks"),
        core=True,
        permissions={
            "manage_points": N_("Grant and correct points"),
            "manage_ranks": N_("Manage the rank ladder"),
        },
        models=("models.points",),
        settings=PointsSettings,
        notifications={
            "member.rank_changed": NotificationKind(
                N_("Your rank in {hub} is now {rank}"),
                N_("Previous rank: {previous}."),
                label=N_("Rank changes"),
            ),
        },
        triggers={
            "member.rank_up": PostTrigger(
                N_("A member reached a higher rank"),
                {
                    "hub": N_("the hub's name"),
                    "member": N_("the member's name"),
                    "mention": N_("a mention of the member in Discord"),
                    "rank": N_("the new rank"),
                    "previous": N_("the rank before"),
                    "points": N_("the member's points"),
                },
                content=N_("{mention} is now {rank}!"),
            ),
        },
        cog="cogs.points",
        router="web.points:router",
    ),
    Package(
        key="notifications",
        label=N_("Notifications"),
        core=True,
        permissions={"send_notices": N_("Send notices to all members")},
        models=("models.notifications",),
        templates={
            "notifications.email": Template(
                "email",
                body=N_("{body}\n\n{footer}"),
                subject=N_("{title}"),
            ),
        },
        notifications={
            # Security notices: no hub, cannot be muted.
            "account.new_login": NotificationKind(
                N_("New sign-in to your account"),
                N_("Signed in with {method} from {ip}. If this was not you, change your password."),
                channels=("in_app", "email"),
                mutable=False,
            ),
            "account.mfa_changed": NotificationKind(
                N_("Two-factor authentication was {state}"),
                N_("If this was not you, secure your account now."),
                channels=("in_app", "email"),
                mutable=False,
                label=N_("Two-factor authentication changes"),
            ),
            "account.password_changed": NotificationKind(
                N_("Your password was changed"),
                N_("If this was not you, reset your password now."),
                channels=("in_app", "email"),
                mutable=False,
            ),
            "hub.notice": NotificationKind(
                N_("{title}"),  # staff's own words, shown as written
                N_("{text}"),
                channels=("in_app",),  # a notice to thousands is not a DM storm
                label=N_("Notices from the hub's staff"),
            ),
            "notifications.dm_blocked": NotificationKind(
                N_("We cannot send you direct messages"),
                N_(
                    "Discord refused our direct message, so they are off for you now. Allow"
                    " direct messages from the server's members, then turn them on again in"
                    " your notification settings."
                ),
                channels=("in_app",),
                mutable=False,
            ),
        },
        router="web.notifications:router",
        cog="cogs.notifications",
    ),
    Package(
        key="posts",
        label=N_("Hub posts"),
        core=True,
        permissions={"manage_posts": N_("Manage hub posts")},
        models=("models.posts",),
        router="web.posts:router",
        cog="cogs.posts",
    ),
    Package(
        key="applications",
        label=N_("Applications"),
        permissions={
            "manage_applications": N_("Manage application types and forms"),
            "review_applications": N_("Review applications"),
        },
        models=("models.applications",),
        notifications={
            "application.received": NotificationKind(
                N_("New {type} application in {hub}"),
                N_("{applicant} applied."),
                label=N_("New applications to review"),
            ),
            "application.decided": NotificationKind(
                N_("Your {type} application in {hub} was {decision}"),
                N_("Reason: {reason}"),
                label=N_("Decisions on your applications"),
            ),
            "application.message": NotificationKind(
                N_("New message about your {type} application"),
                N_("{text}"),
                label=N_("Messages about your applications"),
            ),
            "application.reply": NotificationKind(
                N_("{applicant} replied about their {type} application"),
                N_("{text}"),
                label=N_("Replies from applicants"),
            ),
            "application.assigned": NotificationKind(
                N_("You were given {applicant}'s {type} application to review"),
                channels=("in_app",),
                label=N_("Applications given to you"),
            ),
        },
        triggers={
            "application.received": PostTrigger(
                N_("An application was submitted"),
                {
                    "hub": N_("the hub's name"),
                    "type": N_("the application type"),
                    "applicant": N_("the applicant's name"),
                    "mention": N_("a mention of the applicant in Discord"),
                    "application": N_("the application's number"),
                },
                content=N_("New {type} application from {mention}."),
            ),
            "application.decided": PostTrigger(
                N_("An application was decided"),
                {
                    "hub": N_("the hub's name"),
                    "type": N_("the application type"),
                    "applicant": N_("the applicant's name"),
                    "mention": N_("a mention of the applicant in Discord"),
                    "application": N_("the application's number"),
                    "decision": N_("accepted or declined"),
                    "reason": N_("the reason given"),
                },
                content=N_("{mention}'s {type} application was {decision}."),
            ),
        },
        router="web.applications:router",
        cog="cogs.applications",
    ),
    Package(
        key="announcements",
        label=N_("Announcements"),
        permissions={
            "manage_announcements": N_("Manage announcement types and publish every type")
        },
        models=("models.announcements",),
        notifications={
            "announcement.published": NotificationKind(
                N_("{type}: {title}"),
                N_("A new announcement in {hub}."),
                channels=("in_app",),
                label=N_("New announcements"),
            ),
        },
        triggers={
            "announcement.published": PostTrigger(
                N_("An announcement was published"),
                {
                    "hub": N_("the hub's name"),
                    "title": N_("the announcement's title"),
                    "body": N_("its text (a longer text goes on in more messages)"),
                    "type": N_("its type"),
                    "author": N_("who published it"),
                    "image": N_("its image address"),
                    "mention": N_("a mention of the role it pings"),
                },
                content=N_("{mention}"),
                title=N_("{title}"),
                description=N_("{body}"),
            ),
        },
        router="web.announcements:router",
        cog="cogs.announcements",
    ),
    Package(
        key="downloads",
        label=N_("Downloads"),
        permissions={"manage_downloads": N_("Manage downloads and see their counts")},
        models=("models.downloads",),
        router="web.downloads:router",
        cog="cogs.downloads",
    ),
    Package(
        key="tracker",
        label=N_("Tracker (job logging)"),
        permissions={"manage_tracker": N_("Connect trackers and manage jobs")},
        models=("models.tracker",),
        router="web.tracker:router",
        cog="cogs.tracker",
    ),
    Package(
        key="events",
        label=N_("Events"),
        permissions={"manage_events": N_("Plan events and confirm attendance")},
        models=("models.events",),
        settings=EventsSettings,
        notifications={
            "event.reminder": NotificationKind(
                N_("{title} starts in {lead}"),
                N_("Meetup at {meetup}."),
                label=N_("Reminders of events you are going to"),
            ),
            "event.created": NotificationKind(
                N_("New event in {hub}: {title}"),
                N_("Meetup at {meetup}."),
                channels=("in_app",),
                label=N_("New events"),
            ),
            "event.cancelled": NotificationKind(
                N_("{title} was cancelled"),
                N_("Reason: {reason}"),
                label=N_("Cancelled events you answered"),
            ),
            "event.changed": NotificationKind(
                N_("{title} moved"),
                N_("Meetup is now at {meetup}."),
                label=N_("Changed events you answered"),
            ),
        },
        triggers={
            "event.created": PostTrigger(
                N_("An event was planned"),
                _EVENT_VARIABLES,
                content=N_("New convoy: {title}, {when}"),
            ),
            "event.starting": PostTrigger(
                N_("An event starts soon"),
                {**_EVENT_VARIABLES, "lead": N_("how soon")},
                content=N_("{title} starts in {lead}!"),
            ),
            "event.cancelled": PostTrigger(
                N_("An event was cancelled"),
                {**_EVENT_VARIABLES, "reason": N_("the reason given")},
                content=N_("{title} was cancelled."),
            ),
        },
        router="web.events:router",
        cog="cogs.events",
    ),
)


class PackageError(ValueError):
    """A package declaration that cannot be registered (named in the message)."""


_registry: dict[str, Package] | None = None


def _check(package: Package, known: Mapping[str, Package]) -> None:
    if not KEY_PATTERN.fullmatch(package.key):
        raise PackageError(f"{package.key!r}: a key is 2-32 of a-z, 0-9 and _")
    if package.key in known:
        raise PackageError(f"{package.key!r} is declared twice")
    taken = {p for other in known.values() for p in other.permissions} | _platform_keys()
    clash = taken & set(package.permissions)
    if clash:
        raise PackageError(f"{package.key!r}: permission {sorted(clash)[0]!r} is taken")
    if package.app is not None and (package.app == APP_LABEL or not package.migrations):
        raise PackageError(f"{package.key!r}: an own Tortoise app needs its own migrations")
    if package.settings is not None:
        try:
            package.settings()
        except ValidationError:
            raise PackageError(f"{package.key!r}: every setting needs a default") from None
    names = {name for other in known.values() for name in other.templates}
    for name, template in package.templates.items():
        if template.kind not in set(OutboxKind):
            raise PackageError(f"{package.key!r}: template {name!r} has kind {template.kind!r}")
        if name in names:
            raise PackageError(f"{package.key!r}: template name {name!r} is taken")
    kinds = {name for other in known.values() for name in other.notifications}
    for name, kind in package.notifications.items():
        if name in kinds:
            raise PackageError(f"{package.key!r}: notification kind {name!r} is taken")
        if not kind.channels or set(kind.channels) - set(CHANNELS):
            raise PackageError(f"{package.key!r}: notification kind {name!r}: bad channels")
    triggers = {name for other in known.values() for name in other.triggers}
    for name in package.triggers:
        if name in triggers:
            raise PackageError(f"{package.key!r}: post trigger {name!r} is taken")


def _platform_keys() -> set[str]:
    from models.permissions import PLATFORM_PERMISSIONS

    return set(PLATFORM_PERMISSIONS)


def _add(registry: dict[str, Package], package: Package) -> None:
    _check(package, registry)
    registry[package.key] = package
    if package.locales is not None:
        add_catalog_dir(package.locales)


def _external() -> Iterable[Package]:
    """Packages of installed distributions; a broken one is skipped with one log line."""
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            package = entry.load()
            if not isinstance(package, Package):
                raise PackageError(f"{entry.value} is not a Package")
            if package.key != entry.name:
                raise PackageError(f"entry point {entry.name!r} declares {package.key!r}")
            for module in package.models:  # Tortoise would refuse to start without them
                import_module(module)
        except Exception as exc:  # a broken plugin must not stop the hub
            log.error("plugin %s skipped: %s: %s", entry.name, type(exc).__name__, exc)
            continue
        yield package


def _load() -> dict[str, Package]:
    registry: dict[str, Package] = {}
    for package in BUILTIN:
        _add(registry, package)
    for package in _external():
        try:
            _add(registry, package)
        except PackageError as exc:
            log.error("plugin %s skipped: %s", package.key, exc)
    return registry


def _packages() -> dict[str, Package]:
    global _registry
    if _registry is None:
        _registry = _load()
    return _registry


def register(package: Package) -> Package:
    """Add a package declared outside `BUILTIN` (tests, development); before start-up."""
    _add(_packages(), package)
    return package


def unregister(key: str) -> None:
    _packages().pop(key, None)


def packages() -> tuple[Package, ...]:
    return tuple(_packages().values())


def get(key: str) -> Package | None:
    return _packages().get(key)


def plugin_keys() -> list[str]:
    """Every plugin a hub can switch, in declaration order."""
    return [p.key for p in packages() if not p.core]


def enabled_plugins(hub: Hub) -> list[str]:
    """The installed plugins the hub has on, in declaration order (unknown keys left out)."""
    return [key for key in plugin_keys() if key in hub.plugins]


def default_plugins() -> list[str]:
    """A new hub starts with these plugins on; staff turn off what they do not use."""
    return [p.key for p in packages() if not p.core and p.default_on]


def package_permissions() -> dict[str, str]:
    """Every package's permissions with their labels (the platform's are in permissions.py)."""
    return {key: label for p in packages() for key, label in p.permissions.items()}


def model_apps() -> dict[str, dict[str, Any]]:
    """The Tortoise apps: the project's (`migrations/`) and one per package that has its own."""
    apps: dict[str, dict[str, Any]] = {
        APP_LABEL: {"models": list(PLATFORM_MODEL_MODULES), "migrations": "migrations"}
    }
    for package in packages():
        if not package.models:
            continue
        app = apps.setdefault(package.app_label, {"models": [], "migrations": package.migrations})
        app["models"].extend(package.models)
    return apps


def templates(kind: str) -> dict[str, Template]:
    """Every package's outbox templates of one kind, by name."""
    return {
        name: template
        for package in packages()
        for name, template in package.templates.items()
        if template.kind == kind
    }


def notification_kinds() -> dict[str, NotificationKind]:
    """Every package's notification kinds, by name."""
    return {name: kind for p in packages() for name, kind in p.notifications.items()}


def post_triggers() -> dict[str, PostTrigger]:
    """Every package's hub-post triggers, by name."""
    return {name: trigger for p in packages() for name, trigger in p.triggers.items()}


def routers() -> list[str]:
    return [p.router for p in packages() if p.router]


def cogs() -> list[str]:
    return [p.cog for p in packages() if p.cog]


def load_object(path: str) -> Any:
    """`module:attribute` (or a bare module) by dotted path; adapters call this, not models."""
    module, _, attribute = path.partition(":")
    loaded = import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


class PermissionView(BaseModel):
    key: str
    label: str


class PackageView(BaseModel):
    """An installed package as the website shows it (labels in the reader's language)."""

    key: str
    label: str
    core: bool = Field(description="Always on; plugins (false) are switched per hub.")
    default_on: bool = Field(description="Whether new hubs start with it on.")
    permissions: list[PermissionView]


class Catalog(BaseModel):
    packages: list[PackageView]
    permissions: list[PermissionView] = Field(
        description="Every permission a role can hold: the platform's and every package's."
    )


def catalog_view(locale: str | None) -> Catalog:
    """What is installed, translated for `locale` (the role editor and plugin switches)."""
    from models.permissions import permission_catalog

    def permissions(items: Mapping[str, str]) -> list[PermissionView]:
        return [PermissionView(key=k, label=translate(v, locale)) for k, v in items.items()]

    views = [
        PackageView(
            key=p.key,
            label=translate(p.label, locale),
            core=p.core,
            default_on=p.default_on,
            permissions=permissions(p.permissions),
        )
        for p in packages()
    ]
    return Catalog(packages=views, permissions=permissions(permission_catalog()))


# Gates: every operation of a package starts here.


def is_enabled(hub: Hub, key: str) -> bool:
    """Core packages are always on; a plugin when the hub turned it on and it is installed."""
    package = get(key)
    return package is not None and (package.core or key in hub.plugins)


def require_enabled(hub: Hub, key: str) -> Package:
    package = get(key)
    if package is None or not is_enabled(hub, key):
        label = Lazy(package.label) if package is not None else key
        raise PluginDisabled(plugin=key, plugin_label=label)
    return package


# What the current request or interaction was let into already (see `entry_memo`).
_entered: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar("entered", default=None)


@contextmanager
def entry_memo() -> Iterator[None]:
    """Within this block `enter` remembers what it admitted: adapters open one per request
    or interaction, so the operation's own gate after the adapter's costs no query."""
    token = _entered.set({})
    try:
        yield
    finally:
        _entered.reset(token)


def entry_memo_for_task() -> None:
    """`entry_memo` for the rest of the current task: discord.py runs each slash command
    in a task of its own, from the tree's check to the command's end."""
    _entered.set({})


async def enter(
    actor: Actor, hub: Hub, key: str | None, permission: str | None, *, write: bool
) -> Grant | None:
    """The gate of every operation: plugin on -> token scope -> not banned -> permission.

    Routes call it before they read a body and operations call it again (so no adapter can
    forget a check, and an unauthorized caller learns nothing from a 422). Inside an
    `entry_memo` block the repeat reuses the first answer: the ban check, the last-seen
    touch and the permission queries run once per request.
    """
    if key is not None:
        require_enabled(hub, key)
    require_scope(actor, Scope.WRITE if write else Scope.READ)
    memo = _entered.get()
    admitted = (actor, hub.id)
    if memo is None or admitted not in memo:
        await _admit(actor, hub)
        if memo is not None:
            memo[admitted] = None
    if permission is None:
        return None
    asked = (actor, hub.id, permission)
    if memo is not None and asked in memo:
        return memo[asked]
    from models.permissions import authorize

    grant = await authorize(actor, hub, permission)
    if memo is not None:
        memo[asked] = grant
    return grant


async def _admit(actor: Actor, hub: Hub) -> None:
    """Not banned from the hub; the visit counts for last seen."""
    from models.members.bans import refuse_banned_actor

    await refuse_banned_actor(actor, hub)
    if actor.user_id is not None:
        from models.members.presence import touch

        # Superusers looking after a hub do not become its visitors.
        await touch(hub.id, actor.user_id, visit=not actor.is_superuser)


def merge_settings(key: str, stored: Mapping[str, Any], patch: Mapping[str, Any]) -> dict:
    """`stored` settings of package `key` with `patch` applied, validated; ValueError if not."""
    package = get(key)
    if package is None or package.settings is None:
        raise ValueError(f"{key!r} is not an installed package with settings")
    try:
        merged = package.settings.model_validate({**_unsealed(package.settings, stored), **patch})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in (key, *first["loc"]))
        raise ValueError(f"{where}: {first['msg']}") from None
    return _sealed(merged)


def _secret_fields(model: type[BaseModel]) -> set[str]:
    """Fields typed SecretStr (or SecretStr | None): stored encrypted, never shown."""
    return {
        name
        for name, info in model.model_fields.items()
        if info.annotation is SecretStr or SecretStr in get_args(info.annotation)
    }


def _sealed(settings: BaseModel) -> dict[str, Any]:
    data = settings.model_dump(mode="json")
    for name in _secret_fields(type(settings)):
        value = getattr(settings, name)
        data[name] = None if value is None else encryption.seal(value.get_secret_value())
    return data


def _unsealed(model: type[BaseModel], stored: Mapping[str, Any]) -> dict[str, Any]:
    data = dict(stored)
    for name in _secret_fields(model):
        if data.get(name):
            data[name] = encryption.unseal(data[name])
    return data


def masked_settings(key: str, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Stored settings for staff to read: a set secret shows as "********", never its value."""
    package = get(key)
    secret = _secret_fields(package.settings) if package and package.settings else set()
    return {name: ("********" if name in secret and v else v) for name, v in stored.items()}


def settings_of(hub: Hub, key: str) -> BaseModel | None:
    """A package's per-hub settings, defaults filled in (None if it declares none)."""
    package = get(key)
    if package is None or package.settings is None:
        return None
    stored = (hub.settings or {}).get("plugins", {}).get(key, {})
    return package.settings.model_validate(_unsealed(package.settings, stored))
