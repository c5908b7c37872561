"""The notification center: `notify` (what every package calls, inside its transaction), the
in-app list, unread count, read marks, deletion, preferences and the retention purge.

A notification is stored as its kind and data; its text is rendered in the reader's language
whenever it is shown or sent, so a German reader reads German even for something emitted by
an English staff member's action, and a language change applies to old notifications too.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from models import outbox, plugins, sql
from models.actor import Actor, Scope, require_scope
from models.auth import now
from models.commit import after_commit
from models.errors import Conflict, Invalid, NotFound, Unauthorized
from models.hubs import Hub
from models.i18n import N_, translate
from models.members.tables import Member
from models.notifications import live
from models.notifications.tables import DmState, Notification, NotificationPreference
from models.outbox import OutboxItem, OutboxKind, OutboxStatus
from models.pagination import Page, PageQuery, paginate
from models.users import User

log = logging.getLogger(__name__)

KEY = "notifications"
EVERY_KIND = "*"  # a preference for every kind (the discord one is "DMs on/off")
DIGEST = "notifications.digest"  # the DM outbox template carrying waiting notifications
EMAIL = "notifications.email"  # the e-mail outbox template carrying one notification
Channel = Literal["in_app", "discord", "email"]


class Limits:
    """Settings the runtime applies from config.toml `[notifications]` (see configure)."""

    dm_window = timedelta(seconds=30)
    retention = timedelta(days=90)


def configure(*, dm_window_seconds: float, retention_days: int) -> None:
    Limits.dm_window = timedelta(seconds=dm_window_seconds)
    Limits.retention = timedelta(days=retention_days)


# Rendering


class _Blank(dict[str, Any]):
    """Placeholders the data lacks render empty (an older notification, a renamed field)."""

    def __missing__(self, key: str) -> str:
        return ""


def _value(value: Any, locale: str | None) -> Any:
    # {"t": "N_ text"} in the data is a text to translate for the reader (e.g. "enabled").
    if isinstance(value, Mapping) and set(value) == {"t"}:
        return translate(str(value["t"]), locale)
    return value


def render_text(message: str, data: Mapping[str, Any], locale: str | None) -> str:
    if not message:
        return ""
    values = _Blank({key: _value(value, locale) for key, value in data.items()})
    try:
        return string.Formatter().vformat(translate(message, locale), (), values)
    except (ValueError, IndexError, AttributeError):  # a broken translation: show the English
        return string.Formatter().vformat(message, (), values)


def render(kind: str, data: Mapping[str, Any], locale: str | None) -> tuple[str, str]:
    """The title and body of a notification of `kind` for a reader of `locale`."""
    spec = plugins.notification_kinds().get(kind)
    if spec is None:  # its plugin was uninstalled: still listed, plainly
        return kind, ""
    return render_text(spec.title, data, locale), render_text(spec.body, data, locale)


# Emitting


def _wanted(
    spec: plugins.NotificationKind, chosen: Mapping[tuple[str, str], bool]
) -> dict[str, bool]:
    """The channels one recipient gets a kind on: the kind's defaults, then their choices
    (for every kind, then for this kind); a security notice ignores the choices."""
    wanted = {channel: channel in spec.channels for channel in plugins.CHANNELS}
    if not spec.mutable:
        return wanted
    for channel in plugins.CHANNELS:
        # "*" on discord is the DMs on/off switch, not a choice for each kind: turning DMs
        # back on must not send DMs of kinds that are in-app only unless chosen.
        keys = ("kind",) if channel == "discord" else (EVERY_KIND, "kind")
        for key in keys:
            choice = chosen.get((key, channel))
            if choice is not None:
                wanted[channel] = choice
    # DMs switched off as a whole (by the user, or after Discord refused one) stay off.
    if chosen.get((EVERY_KIND, "discord")) is False:
        wanted["discord"] = False
    return wanted


async def choices(user_ids: list[int], kind: str) -> dict[int, dict[tuple[str, str], bool]]:
    """Each user's stored choices for `kind` and for every kind, as `_wanted` reads them."""
    rows = await NotificationPreference.filter(
        user_id__in=user_ids, kind__in=[kind, EVERY_KIND]
    ).values("user_id", "kind", "channel", "enabled")
    chosen: dict[int, dict[tuple[str, str], bool]] = {}
    for row in rows:
        key = EVERY_KIND if row["kind"] == EVERY_KIND else "kind"
        chosen.setdefault(row["user_id"], {})[(key, row["channel"])] = row["enabled"]
    return chosen


async def notify(
    recipients: Iterable[int],
    kind: str,
    data: Mapping[str, Any] | None = None,
    *,
    hub: Hub | int | None = None,
) -> list[Notification]:
    """Tell users (ids) about something of `kind`; call inside the transaction of the change.

    With a hub, only people with a member row there (any state: a dismissed member is told
    so) are told: a notification never reaches a user of another hub. Each recipient gets
    it in-app, by DM and by e-mail as their preferences say; DMs wait `Limits.dm_window` so a
    burst becomes one message. Returns the notifications written.
    """
    spec = plugins.notification_kinds().get(kind)
    if spec is None:
        raise ValueError(f"no package declares the notification kind {kind!r}")
    hub_id = hub.id if isinstance(hub, Hub) else hub
    users = list(dict.fromkeys(int(u) for u in recipients))
    if hub_id is not None and users:
        members = await Member.filter(hub_id=hub_id, user_id__in=users).values_list(
            "user_id", flat=True
        )
        outsiders = set(users) - set(members)
        if outsiders:
            log.warning("notification %s: %d users are not of hub %s", kind, len(outsiders), hub_id)
        users = [u for u in users if u not in outsiders]
    if not users:
        return []
    people = {
        row["id"]: row
        for row in await User.filter(id__in=users, is_active=True).values(
            "id", "discord_id", "email", "is_verified"
        )
    }
    chosen = await choices(list(people), kind)
    payload = dict(data or {})
    written, live_users = [], []
    for user_id, person in people.items():
        wanted = _wanted(spec, chosen.get(user_id, {}))
        dm = wanted["discord"] and person["discord_id"] is not None
        mail = wanted["email"] and bool(person["email"]) and person["is_verified"]
        if not (wanted["in_app"] or dm or mail):
            continue
        note = await Notification.create(
            user_id=user_id,
            hub_id=hub_id,
            kind=kind,
            data=payload,
            in_app=wanted["in_app"],
            dm_state=DmState.WAITING if dm else DmState.NONE,
        )
        written.append(note)
        if wanted["in_app"]:
            live_users.append(user_id)
        if dm:
            await digest_for(user_id, str(person["discord_id"]))
        if mail:
            await outbox.enqueue(
                OutboxKind.EMAIL,
                EMAIL,
                params={"notification_id": note.id},
                user_id=user_id,
                address=person["email"],
            )
    if live_users:
        after_commit(lambda: live.wake(live_users))
    return written


def untried_digests(user_ids: list[int], exclude: int | None = None) -> QuerySet[OutboxItem]:
    """DM items of these users not tried yet (nor being tried): each will take every
    notification waiting when it is sent, so a new one needs no item of its own."""
    return OutboxItem.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now()),
        ~Q(id=exclude or 0),
        kind=OutboxKind.DISCORD_DM,
        template=DIGEST,
        user_id__in=user_ids,
        status=OutboxStatus.PENDING,
        attempts=0,
    )


async def digest_for(user_id: int, address: str, exclude: int | None = None) -> None:
    """A DM outbox item that will carry this user's waiting notifications, unless one that
    has not been tried yet already will (it takes every waiting one when it is sent);
    `exclude`: an item being sent now, which takes no more."""
    if not await untried_digests([user_id], exclude=exclude).exists():
        await outbox.enqueue(
            OutboxKind.DISCORD_DM, DIGEST, user_id=user_id, address=address, delay=Limits.dm_window
        )


async def email_params(item: OutboxItem, locale: str | None) -> dict[str, str]:
    """Subject and text of a notification's e-mail, in the reader's language, at send time."""
    note = await Notification.get_or_none(id=item.params.get("notification_id"))
    if note is None:
        raise outbox.Undeliverable("the notification was deleted before it was sent")
    title, body = render(note.kind, note.data, locale)
    spec = plugins.notification_kinds().get(note.kind)
    footer = (
        N_(
            "You get this e-mail because of your notification settings; change them on the"
            " website or with /notifications in Discord."
        )
        if spec is None or spec.mutable
        else N_("This is a security notice about your account: it is always sent.")
    )
    return {"title": title, "body": body, "footer": translate(footer, locale)}


# The in-app center


class NotificationView(BaseModel):
    id: int
    kind: str
    hub_id: int | None = Field(description="Null for notices about the account itself.")
    title: str = Field(description="In the reader's language.")
    body: str
    data: dict[str, Any]
    read: bool
    created_at: datetime


def view(note: Notification, locale: str | None) -> NotificationView:
    title, body = render(note.kind, note.data, locale)
    return NotificationView(
        id=note.id,
        kind=note.kind,
        hub_id=note.hub_id,
        title=title,
        body=body,
        data={key: _value(value, locale) for key, value in note.data.items()},
        read=note.read_at is not None,
        created_at=note.created_at,
    )


class NotificationQuery(PageQuery):
    model_config = ConfigDict(extra="forbid")
    unread: bool = Field(default=False, description="Only notifications not read yet.")


def _reader(actor: Actor, *, write: bool) -> int:
    """Notifications are a person's own: a user, within the credential's scope."""
    if actor.user_id is None:
        raise Unauthorized(N_("Log in to read your notifications."), code="not_logged_in")
    require_scope(actor, Scope.WRITE if write else Scope.READ)
    return actor.user_id


async def reader_locale(actor: Actor, fallback: str | None) -> str | None:
    """The language a user chose, else the one their client asks for."""
    if actor.user_id is None:
        return fallback
    chosen = await User.filter(id=actor.user_id).values_list("locale", flat=True)
    return (chosen[0] if chosen else None) or fallback


async def list_notifications(
    actor: Actor, query: NotificationQuery, locale: str | None
) -> Page[NotificationView]:
    user_id = _reader(actor, write=False)
    rows = Notification.filter(user_id=user_id, in_app=True)
    if query.unread:
        rows = rows.filter(read_at__isnull=True)
    return await paginate(rows, query, ("-id",), lambda note: view(note, locale))


UNREAD_SQL = (
    "SELECT COUNT(*) AS n FROM notifications WHERE user_id = ? AND in_app AND read_at IS NULL"
)


async def unread_count(actor: Actor) -> int:
    user_id = _reader(actor, write=False)
    rows = await sql.fetch(UNREAD_SQL, [user_id])
    return int(rows[0]["n"])


async def _own(actor: Actor, notification_id: int) -> int:
    user_id = _reader(actor, write=True)
    if not await Notification.filter(id=notification_id, user_id=user_id, in_app=True).exists():
        raise NotFound(N_("That notification does not exist."), code="notification_not_found")
    return user_id


async def mark_read(actor: Actor, notification_id: int, *, read: bool = True) -> None:
    """Mark one of the caller's notifications read (or unread again)."""
    user_id = await _own(actor, notification_id)
    await Notification.filter(id=notification_id, user_id=user_id).update(
        read_at=now() if read else None
    )


async def mark_all_read(actor: Actor) -> int:
    """Mark every unread notification of the caller read; how many there were."""
    user_id = _reader(actor, write=True)
    return await Notification.filter(user_id=user_id, in_app=True, read_at__isnull=True).update(
        read_at=now()
    )


async def delete(actor: Actor, notification_id: int) -> None:
    user_id = await _own(actor, notification_id)
    # A DM still waiting for it loses nothing else: the row is the DM's only content.
    await Notification.filter(id=notification_id, user_id=user_id).delete()


async def purge_expired() -> int:
    """Delete notifications older than the retention time (read or not); how many."""
    return await Notification.filter(created_at__lt=now() - Limits.retention).delete()


# Preferences


class ChannelChoice(BaseModel):
    in_app: bool
    discord: bool
    email: bool


class KindPreference(BaseModel):
    kind: str
    label: str = Field(description="In the reader's language.")
    mutable: bool = Field(description="False: a security notice, always sent.")
    channels: ChannelChoice = Field(description="Where it reaches you now.")


class Preferences(BaseModel):
    direct_messages: bool = Field(
        description="Discord DMs at all. Turned off by itself when Discord refuses one."
    )
    kinds: list[KindPreference]


class PreferenceChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=64, description='A notification kind, or "*" for all of them.')
    channel: Channel
    enabled: StrictBool  # "no" or 0 is not a choice anyone made


class PreferencesInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    changes: list[PreferenceChange] = Field(min_length=1, max_length=100)


async def preferences(actor: Actor, locale: str | None) -> Preferences:
    user_id = _reader(actor, write=False)
    rows = await NotificationPreference.filter(user_id=user_id).values("kind", "channel", "enabled")
    stored = {(row["kind"], row["channel"]): row["enabled"] for row in rows}
    kinds = []
    for name, spec in plugins.notification_kinds().items():
        chosen = {
            ("kind" if kind == name else EVERY_KIND, channel): enabled
            for (kind, channel), enabled in stored.items()
            if kind in (name, EVERY_KIND)
        }
        wanted = _wanted(spec, chosen)
        kinds.append(
            KindPreference(
                kind=name,
                label=translate(spec.label or spec.title, locale).replace("{", "").replace("}", ""),
                mutable=spec.mutable,
                channels=ChannelChoice(**wanted),
            )
        )
    return Preferences(direct_messages=stored.get((EVERY_KIND, "discord"), True), kinds=kinds)


async def set_preferences(actor: Actor, data: PreferencesInput, locale: str | None) -> Preferences:
    user_id = _reader(actor, write=True)
    kinds = plugins.notification_kinds()
    for change in data.changes:
        spec = kinds.get(change.kind)
        if change.kind != EVERY_KIND and spec is None:
            raise Invalid(
                N_("There is no notification kind {kind}."), code="unknown_kind", kind=change.kind
            )
        if spec is not None and not spec.mutable and not change.enabled:
            raise Conflict(
                N_("Security notices cannot be turned off."), code="not_mutable", kind=change.kind
            )
    for change in data.changes:
        spec = kinds.get(change.kind)
        if spec is not None and not spec.mutable:
            continue  # turning a security notice on: it is always on
        await NotificationPreference.update_or_create(
            {"enabled": change.enabled},
            user_id=user_id,
            kind=change.kind,
            channel=change.channel,
        )
    return await preferences(actor, locale)


async def dms_refused(user_id: int) -> None:
    """Discord refused a DM to this user (50007): DMs off, and an in-app notice saying why
    and how to turn them on again (instead of retrying a message that cannot arrive)."""
    await NotificationPreference.update_or_create(
        {"enabled": False}, user_id=user_id, kind=EVERY_KIND, channel="discord"
    )
    # Notifications still waiting for a DM will not get one.
    await Notification.filter(user_id=user_id, dm_state=DmState.WAITING).update(
        dm_state=DmState.NONE
    )
    await notify([user_id], "notifications.dm_blocked")
