"""An application's conversation: the applicant and its reviewers write; each side is told
of the other's messages, and the applicant's reach the review thread in Discord."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from models import plugins
from models.actor import Actor
from models.applications.common import (
    KEY,
    application_in,
    queue_message,
    reviewer_user_ids,
)
from models.applications.review import _reader
from models.applications.tables import ApplicationMessage
from models.errors import NotFound
from models.hubs import Hub
from models.i18n import N_
from models.pagination import Page, PageQuery, paginate
from models.users import User

PREVIEW = 300  # characters of a message a notification carries


async def add_message(actor: Actor, hub: Hub, application_id: int, text: str) -> ApplicationMessage:
    """Write in an application's conversation (its applicant or a reviewer)."""
    await plugins.enter(actor, hub, KEY, None, write=True)
    application = await application_in(hub, application_id)
    from_staff = await _reader(actor, hub, application)
    from models.notifications.center import notify

    async with in_transaction():
        message = await ApplicationMessage.create(
            application_id=application.id,
            author_id=actor.user_id,
            from_staff=from_staff,
            text=text,
        )
        data = {
            "hub": hub.name,
            "type": application.type.name,
            "applicant": application.applicant.username,
            "text": text[:PREVIEW],
            "application": application.id,
        }
        if from_staff:
            await notify([application.applicant_id], "application.message", data, hub=hub)
        else:
            readers = (
                [application.claimed_by_id]
                if application.claimed_by_id is not None
                else await reviewer_user_ids(hub, application.type)
            )
            await notify(readers, "application.reply", data, hub=hub)
        # Both sides go to the review thread: reviewers see what staff told the applicant.
        await queue_message(hub, application, message)
    message.author = await User.get_or_none(id=actor.user_id) if actor.user_id else None
    return message


async def messages(
    actor: Actor, hub: Hub, application_id: int, query: PageQuery | None = None
) -> Page[ApplicationMessage]:
    """The conversation, oldest first (its applicant or a reviewer)."""
    await plugins.enter(actor, hub, KEY, None, write=False)
    application = await application_in(hub, application_id)
    await _reader(actor, hub, application)
    rows = ApplicationMessage.filter(application_id=application.id).select_related("author")
    return await paginate(rows, query or PageQuery(limit=100), ("id",), lambda row: row)


async def message_in(hub: Hub, message_id: int) -> ApplicationMessage:
    """A message with its application and author (the bot renders it into the thread)."""
    found = await ApplicationMessage.get_or_none(
        id=message_id, application__hub_id=hub.id
    ).select_related("application", "author")
    if found is None:
        raise NotFound(N_("That message does not exist."), code="message_not_found")
    return found
