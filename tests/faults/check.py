"""What the fault scripts assert: read from the emulator (what Discord shows) and from the
database (what the hub believes it delivered), and compared with what was emitted."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field

from models.notifications.digest import SHOWN
from models.notifications.tables import DmState, Notification
from models.outbox import OutboxItem, OutboxKind, OutboxStatus
from models.posts import PostedMessage, PostState
from tests.fakediscord import FakeDiscord, User

NONCE = re.compile(r"^outbox-(\d+)$")
MORE = re.compile(r"…and (\d+) more")


@dataclass
class DmFigures:
    emitted: int = 0
    dms: int = 0  # messages Discord shows in the users' DM channels
    notes_in_dms: int = 0  # notifications carried by them (written out or counted)
    duplicates: int = 0  # a notification in two DMs, or one DM sent twice
    out_of_order: int = 0  # users whose notifications reached them out of emission order
    lost: int = 0  # emitted, never in any DM (undelivered, failed, or hidden by a nonce)
    stray: int = 0  # DMs no outbox item accounts for
    failed_items: int = 0
    max_attempts: int = 0
    problems: list[str] = field(default_factory=list)


async def dm_figures(
    fake: FakeDiscord, people: dict[int, User], emitted: dict[int, list[str]]
) -> DmFigures:
    """`people`: database user id -> emulator user; `emitted`: user id -> markers in emission
    order (each notification's data["rank"])."""
    figures = DmFigures(emitted=sum(len(markers) for markers in emitted.values()))
    ids = list(people)
    notes = await Notification.filter(user_id__in=ids).order_by("id")
    items = {i.id: i for i in await OutboxItem.filter(user_id__in=ids, kind=OutboxKind.DISCORD_DM)}
    figures.failed_items = sum(i.status == OutboxStatus.FAILED for i in items.values())
    figures.max_attempts = max((i.attempts for i in items.values()), default=0)
    by_item: dict[int, list[Notification]] = {}
    for note in notes:
        if note.dm_item_id is not None:
            by_item.setdefault(note.dm_item_id, []).append(note)
    for user_id, user in people.items():
        _check_user(fake.dms(user), user_id, emitted[user_id], items, by_item, figures)
    return figures


def _check_user(messages, user_id, wanted, items, by_item, figures: DmFigures) -> None:
    figures.dms += len(messages)
    received: list[str] = []
    nonces = Counter(str(m.nonce) for m in messages)
    figures.duplicates += sum(count - 1 for count in nonces.values())
    for message in messages:
        match = NONCE.match(str(message.nonce or ""))
        item = items.get(int(match.group(1))) if match else None
        if item is None or item.user_id != user_id:
            figures.stray += 1
            figures.problems.append(f"user {user_id}: DM {message.id} matches no outbox item")
            continue
        carried = [note.data["rank"] for note in by_item.get(item.id, [])]
        if str(item.result.get("message_id")) != str(message.id):
            figures.problems.append(
                f"user {user_id}: item {item.id} ({item.status}) records message "
                f"{item.result.get('message_id')}, Discord shows {message.id}"
            )
        shown = [mark for mark in wanted if mark in message.content]
        more = MORE.search(message.content)
        counted = int(more.group(1)) if more else 0
        if shown != carried[:SHOWN] or counted != max(0, len(carried) - SHOWN):
            # The item claims notifications its message does not show: they never reached
            # the user (a retry bound new ones after Discord had kept the first send).
            hidden = [mark for mark in carried[:SHOWN] if mark not in shown]
            hidden += carried[SHOWN + counted :] if len(carried) > SHOWN else []
            figures.problems.append(
                f"user {user_id}: DM {message.id} (item {item.id}) shows {len(shown)}+{counted}"
                f" of the {len(carried)} notifications bound to it; missing {hidden}"
            )
            carried = [mark for mark in carried if mark not in hidden]
        received += carried
    figures.notes_in_dms += len(received)
    counts = Counter(received)
    figures.duplicates += sum(count - 1 for count in counts.values() if count > 1)
    missing = [mark for mark in wanted if mark not in counts]
    figures.lost += len(missing)
    if missing:
        states = _states(missing, by_item, items)
        figures.problems.append(f"user {user_id}: never in a DM: {missing} ({states})")
    firsts = list(dict.fromkeys(received))
    if [m for m in firsts if m in wanted] != [m for m in wanted if m in counts]:
        figures.out_of_order += 1
        figures.problems.append(f"user {user_id}: order {firsts}, emitted {wanted}")


def _states(missing: list[str], by_item, items) -> str:
    where = []
    for item_id, notes in by_item.items():
        if any(note.data["rank"] in missing for note in notes):
            item = items[item_id]
            where.append(
                f"item {item_id} {item.status} attempts={item.attempts} {item.last_error[:80]!r}"
            )
    return "; ".join(where) or "not bound to any DM item"


async def waiting_dms(user_ids: list[int]) -> int:
    """Notifications of these users not yet in a DM that Discord accepted (per the database)."""
    sent = OutboxItem.filter(
        user_id__in=user_ids, kind=OutboxKind.DISCORD_DM, status=OutboxStatus.SENT
    ).values_list("id", flat=True)
    done = await Notification.filter(
        user_id__in=user_ids, dm_state=DmState.TAKEN, dm_item_id__in=await sent
    ).count()
    total = await Notification.filter(user_id__in=user_ids).exclude(dm_state=DmState.NONE).count()
    return total - done


async def unfinished_items(user_ids: list[int]) -> int:
    return await OutboxItem.filter(
        user_id__in=user_ids, kind=OutboxKind.DISCORD_DM, status=OutboxStatus.PENDING
    ).count()


@dataclass
class PostFigures:
    emitted: int = 0
    posted: int = 0  # messages in the channel
    duplicates: int = 0
    lost: int = 0
    out_of_order: int = 0  # adjacent pairs posted in the other order (no promise across posts)
    problems: list[str] = field(default_factory=list)


async def post_figures(channel, wanted: list[str], hub_id: int) -> PostFigures:
    figures = PostFigures(emitted=len(wanted))
    shown = [m for m in channel.visible_messages if m.author is channel.emulator.bot_user]
    figures.posted = len(shown)
    seen = [mark for message in shown for mark in wanted if mark in message.text]
    counts = Counter(seen)
    figures.duplicates = sum(count - 1 for count in counts.values())
    missing = [mark for mark in wanted if mark not in counts]
    figures.lost = len(missing)
    if missing:
        figures.problems.append(f"posts never shown: {missing}")
    firsts = list(dict.fromkeys(seen))
    figures.out_of_order = sum(
        wanted.index(a) > wanted.index(b) for a, b in itertools.pairwise(firsts)
    )
    records = await PostedMessage.filter(hub_id=hub_id).values("state", "message_id")
    ids = {str(m.id) for m in shown}
    bad = [r for r in records if r["state"] != PostState.POSTED or str(r["message_id"]) not in ids]
    if bad:
        figures.problems.append(
            f"{len(bad)} post records not POSTED with a shown message: {bad[:5]}"
        )
    return figures


async def unposted(hub_id: int) -> int:
    return await PostedMessage.filter(hub_id=hub_id).exclude(state=PostState.POSTED).count()
