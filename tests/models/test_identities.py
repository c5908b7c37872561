"""Logging in, signing up, linking and unlinking with Discord and Steam; login tickets."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine

from models import identities, outbox
from models.actor import Actor
from models.audit import AuditLog
from models.auth import Ticket, now
from models.errors import Conflict, NotFound, Unauthorized
from models.identities import ExternalIdentity, Provider
from models.outbox import OutboxItem, OutboxKind, Undeliverable
from models.users import User, cached_profile

STEAM_ID = 76561197960287930


def discord(user_id: int = 111, **fields) -> ExternalIdentity:
    return ExternalIdentity(Provider.DISCORD, user_id, username="alice", **fields)


async def test_first_discord_login_creates_the_user_the_bot_knows() -> None:
    user = await identities.sign_in(discord())
    again = await identities.sign_in(discord())
    assert (user.id, user.discord_id, user.username) == (again.id, 111, "alice")


async def test_discord_verified_email_is_kept_but_never_used_to_merge_accounts() -> None:
    owner = await User.create(username="bob", email="alice@example.com")
    user = await identities.sign_in(discord(email="alice@example.com", email_verified=True))
    assert user.id != owner.id
    assert (await User.get(id=user.id)).email is None
    fresh = await identities.sign_in(discord(222, email="new@example.com", email_verified=True))
    assert (fresh.email, fresh.is_verified) == ("new@example.com", True)


async def test_unverified_discord_email_is_ignored() -> None:
    user = await identities.sign_in(discord(email="x@example.com", email_verified=False))
    assert user.email is None


async def test_steam_login_creates_then_finds_the_user() -> None:
    user = await identities.sign_in(ExternalIdentity(Provider.STEAM, STEAM_ID))
    again = await identities.login_with_steam(STEAM_ID)
    assert user.id == again.id
    assert again.steam_id == STEAM_ID


async def test_link_steam_to_a_discord_user_is_audited_and_refreshes_the_profile() -> None:
    user = await identities.sign_in(discord())
    assert (await cached_profile(user.id))["connections"]["steam_id"] is None
    await identities.link(Actor(user.id), Provider.STEAM, STEAM_ID)
    assert (await cached_profile(user.id))["connections"]["steam_id"] == str(STEAM_ID)
    entry = await AuditLog.get(action="user.link_steam")
    assert (entry.actor_id, entry.target) == (user.id, str(STEAM_ID))


async def test_an_identity_belongs_to_one_account() -> None:
    owner = await identities.login_with_steam(STEAM_ID)
    other = await identities.sign_in(discord())
    with pytest.raises(Conflict) as caught:
        await identities.link(Actor(other.id), Provider.STEAM, STEAM_ID)
    assert caught.value.code == "identity_taken"
    assert (await User.get(id=owner.id)).steam_id == STEAM_ID
    assert (await User.get(id=other.id)).steam_id is None


async def test_linking_the_same_identity_again_changes_nothing() -> None:
    user = await identities.login_with_steam(STEAM_ID)
    await identities.link(Actor(user.id), Provider.STEAM, STEAM_ID)
    assert await AuditLog.filter(action="user.link_steam").count() == 0


async def test_a_second_account_of_one_provider_needs_an_unlink_first() -> None:
    user = await identities.sign_in(discord())
    with pytest.raises(Conflict) as caught:
        await identities.link(Actor(user.id), Provider.DISCORD, 999)
    assert caught.value.code == "identity_already_linked"


async def test_unlink_refuses_the_last_way_to_log_in() -> None:
    user = await identities.sign_in(discord())
    with pytest.raises(Conflict) as caught:
        await identities.unlink(Actor(user.id), Provider.DISCORD)
    assert caught.value.code == "last_login_method"
    assert (await User.get(id=user.id)).discord_id == 111


async def test_unlink_with_another_method_left() -> None:
    user = await identities.sign_in(discord())
    await identities.link(Actor(user.id), Provider.STEAM, STEAM_ID)
    await identities.unlink(Actor(user.id), Provider.DISCORD)
    assert (await User.get(id=user.id)).discord_id is None
    assert (await cached_profile(user.id))["connections"]["discord_id"] is None
    assert await AuditLog.filter(action="user.unlink_discord", actor_id=user.id).exists()
    with pytest.raises(Conflict):  # Steam is now the only way in
        await identities.unlink(Actor(user.id), Provider.STEAM)


async def test_a_password_counts_as_a_way_to_log_in() -> None:
    user = await User.create(username="a", email="a@example.com", password_hash="x", steam_id=1)
    await identities.unlink(Actor(user.id), Provider.STEAM)
    assert (await User.get(id=user.id)).steam_id is None


async def test_unlinking_what_is_not_linked_is_not_found() -> None:
    user = await identities.sign_in(discord())
    with pytest.raises(NotFound):
        await identities.unlink(Actor(user.id), Provider.STEAM)


async def test_login_ticket_works_once() -> None:
    user = await identities.sign_in(discord())
    ticket = await identities.issue_login_ticket(user, "discord", 60)
    result = await identities.exchange_login_ticket(ticket)
    assert result.tokens is not None
    with pytest.raises(Unauthorized):
        await identities.exchange_login_ticket(ticket)


async def test_login_ticket_with_mfa_on_still_needs_a_code() -> None:
    user = await identities.sign_in(discord())
    await User.filter(id=user.id).update(mfa_enabled=True, mfa_secret="A" * 32)
    ticket = await identities.issue_login_ticket(user, "discord", 60)
    result = await identities.exchange_login_ticket(ticket)
    assert result.tokens is None
    assert result.mfa_ticket


async def test_send_login_link_queues_a_dm_with_a_one_time_link() -> None:
    user = await identities.sign_in(discord())
    item = await identities.send_login_link(111, base_url="https://hub.example.com/", ttl=300)
    stored = await OutboxItem.get(id=item.id)
    assert (stored.kind, stored.address, stored.user_id) == (OutboxKind.DISCORD_DM, "111", user.id)
    assert "ticket=" not in json.dumps(stored.params)  # minted when the DM is sent
    assert await Ticket.all().count() == 0
    params = await outbox.render_params(stored)
    url = params["url"]
    assert url.startswith("https://hub.example.com/login/link?ticket=")
    assert params["minutes"] == 5
    result = await identities.exchange_login_ticket(url.split("ticket=")[1])
    assert result.tokens is not None


async def test_login_link_expires_counted_from_the_request() -> None:
    await identities.sign_in(discord())
    item = await identities.send_login_link(111, base_url="https://hub.example.com", ttl=300)
    with time_machine.travel(now() + timedelta(seconds=200)):
        params = await outbox.render_params(await OutboxItem.get(id=item.id))  # sent late
    assert params["minutes"] == 2
    with time_machine.travel(now() + timedelta(seconds=301)), pytest.raises(Unauthorized):
        await identities.exchange_login_ticket(params["url"].split("ticket=")[1])


async def test_a_login_link_due_after_its_expiry_is_not_sent() -> None:
    await identities.sign_in(discord())
    item = await identities.send_login_link(111, base_url="https://hub.example.com", ttl=60)
    with time_machine.travel(now() + timedelta(seconds=61)), pytest.raises(Undeliverable):
        await outbox.render_params(await OutboxItem.get(id=item.id))
    assert await Ticket.all().count() == 0
