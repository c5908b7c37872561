"""E-mail delivery of the outbox through a local SMTP server."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from models.auth import now
from models.outbox import OutboxItem, OutboxKind, OutboxStatus, enqueue, one_time_link
from models.users import User
from tests.fixtures.smtp import smtp_sink

PARAMS = {
    "username": "alice",
    "link": "https://hub.example.com/verify-email?token=t",
    "minutes": 60,
}


async def test_email_is_rendered_in_the_recipient_s_language() -> None:
    user = await User.create(username="alice", email="alice@example.com", locale="de")
    item = await enqueue(
        OutboxKind.EMAIL, "verify_email", params=PARAMS, user_id=user.id, address=user.email
    )
    async with smtp_sink() as sink:
        assert await sink.worker().run_once() == 1
    [message] = sink.to("alice@example.com")
    assert message["Subject"] == "Bestätige deine E-Mail-Adresse"
    assert PARAMS["link"] in message.get_content()
    await item.refresh_from_db()
    assert item.status == OutboxStatus.SENT
    assert item.result["message_id"] == message["Message-ID"]


async def test_temporary_refusal_is_retried_and_permanent_refusal_is_not() -> None:
    later = await enqueue(OutboxKind.EMAIL, "verify_email", params=PARAMS, address="busy@x.org")
    never = await enqueue(OutboxKind.EMAIL, "verify_email", params=PARAMS, address="gone@x.org")
    async with smtp_sink() as sink:
        sink.refuse = {"busy@x.org": "450 mailbox busy", "gone@x.org": "550 no such user"}
        await sink.worker().run_once()
    later, never = await OutboxItem.get(id=later.id), await OutboxItem.get(id=never.id)
    assert (later.status, later.attempts) == (OutboxStatus.PENDING, 1)
    assert never.status == OutboxStatus.FAILED
    assert not sink.messages


async def test_unreachable_server_is_retried() -> None:
    item = await enqueue(OutboxKind.EMAIL, "verify_email", params=PARAMS, address="a@x.org")
    async with smtp_sink() as sink:
        worker = sink.worker()
    await worker.run_once()  # the server is gone now
    await item.refresh_from_db()
    assert (item.status, item.attempts) == (OutboxStatus.PENDING, 1)


async def test_a_link_that_expired_before_it_could_be_sent_is_given_up() -> None:
    user = await User.create(username="alice", email="alice@example.com")
    link = one_time_link("link", "https://hub.example.com/reset-password", "reset_password", 3600)
    with time_machine.travel(now() - timedelta(hours=2)):  # queued while the server was down
        item = await enqueue(
            OutboxKind.EMAIL, "reset_password", params=link, user_id=user.id, address=user.email
        )
    async with smtp_sink() as sink:
        await sink.worker().run_once()
    await item.refresh_from_db()
    assert item.status == OutboxStatus.FAILED
    assert item.last_error == "the link expired before it could be sent"
    assert not sink.messages
