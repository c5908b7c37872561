"""The shoutbox's operations: every one enters through the plugin gate first."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from drivershub_shoutbox.schemas import ShoutView
from drivershub_shoutbox.tables import MAX_LENGTH, Shout
from models import audit, plugins
from models.actor import Actor
from models.errors import Invalid
from models.hubs import Hub
from models.i18n import N_
from models.pagination import Page, PageQuery, paginate
from models.permissions import require_member

KEY = "shoutbox"


async def post_shout(actor: Actor, hub: Hub, text: str) -> Shout:
    """Post `text` (1 to 200 characters, trimmed) to the hub's shoutbox; needs post_shouts."""
    await plugins.enter(actor, hub, KEY, "post_shouts", write=True)
    text = text.strip()
    if not 1 <= len(text) <= MAX_LENGTH:
        raise Invalid(
            N_("A shout is 1 to {limit} characters long."), code="invalid_shout", limit=MAX_LENGTH
        )
    async with in_transaction():
        shout = await Shout.create(hub_id=hub.id, author_id=actor.user_id, text=text)
        await audit.record(actor, "shoutbox.post", hub_id=hub.id, target=str(shout.id))
    return shout


async def recent_shouts(actor: Actor, hub: Hub, query: PageQuery | None = None) -> Page[ShoutView]:
    """The hub's shouts, newest first, a page at a time; for the hub's members."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    await require_member(actor, hub)
    shouts = Shout.filter(hub_id=hub.id)
    return await paginate(shouts, query or PageQuery(), ("-id",), ShoutView.of)
