"""Tracker webhooks: verified over the raw bytes, stored before the 2xx, never doubled,
normalised into one job model with explicit units, and matched to a driver. Payloads come
from tests/tracker_payloads.py (shapes and sources in ../shared/trackers.md)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp.test_utils import TestClient

from models import auth, hubs, members
from models.actor import SYSTEM
from models.hubs import Hub
from models.members import lifecycle, roles
from models.members.roles import RoleInput
from models.members.tables import Member
from models.tracker import IntakeState, Job, TrackerIntake, formats, processing
from models.users import User
from tests import tracker_payloads as payloads
from tests.web.conftest import problem_of

HUB = "/api/v1/hubs/road-kings"
SECRET = "tracksim-secret-123"
STEAM = "76561198000000001"
Headers = dict[str, str]


async def _person(hub: Hub, name: str, discord_id: int, **extra: Any) -> tuple[User, Headers]:
    user = await User.create(username=name, discord_id=discord_id, **extra)
    row = await members.ensure_member(hub.id, user)
    await lifecycle.accept(SYSTEM, hub, row.id)
    pair = await auth.start_session(user, "discord")
    return user, {"Authorization": f"Bearer {pair.access_token}"}


async def _world(client: TestClient) -> dict[str, Any]:
    hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    staff_user, staff = await _person(hub, "sam", 5)
    desk = await roles.create_role(
        SYSTEM, hub, RoleInput(name="Desk", position=20, permissions=["manage_tracker"])
    )
    drivers = await roles.create_role(
        SYSTEM, hub, RoleInput(name="Drivers", position=5, permissions=["driver"])
    )
    await roles.give_role(SYSTEM, hub, (await Member.get(user_id=staff_user.id)).id, desk.id)
    driver_user, driver = await _person(hub, "dave", 6, steam_id=int(STEAM))
    driver_member = await Member.get(user_id=driver_user.id)
    await roles.give_role(SYSTEM, hub, driver_member.id, drivers.id)
    connected = await client.put(f"{HUB}/trackers/tracksim", json={"secret": SECRET}, headers=staff)
    assert connected.status == 200, await connected.text()
    return {
        "hub": hub,
        "staff": staff,
        "driver": driver,
        "member": driver_member,
        "drivers": drivers,
    }


async def _send(client: TestClient, kind: str, raw: bytes, headers: Headers) -> Any:
    return await client.post(
        f"{HUB}/trackers/{kind}", data=raw, headers={"Content-Type": "application/json", **headers}
    )


async def _tracksim(client: TestClient, body: dict, secret: str = SECRET) -> Any:
    raw = payloads.tracksim_bytes(body)
    return await _send(client, "tracksim", raw, {"tracksim-signature": payloads.sign(secret, raw)})


async def _process() -> None:
    while await processing.run_once():
        pass


async def test_a_tracksim_job_is_stored_then_made_a_job_in_explicit_units(
    client: TestClient,
) -> None:
    w = await _world(client)
    sent = await _tracksim(client, payloads.tracksim_job())
    assert sent.status == 202, await sent.text()
    assert await sent.json() == {"status": "accepted", "event": "job.delivered"}
    (row,) = await TrackerIntake.all()
    assert row.state == IntakeState.PENDING  # stored before the answer, processed after
    await _process()
    job = await Job.get(tracker_job_id="9001")
    assert job.member_id == w["member"].id
    assert job.unmatched == ""
    assert (job.game, job.currency, job.status) == ("ets2", "EUR", "delivered")
    assert job.top_speed_kmh == 90.0  # 25 m/s
    assert (job.driven_km, job.planned_km, job.cargo_mass_kg) == (812.4, 805, 18200)
    assert job.damage == 0.031
    assert (job.revenue, job.fines, job.tolls, job.ferries) == (24150, 250, 40, 510)
    assert (job.multiplayer, job.server) == ("truckersmp", "Simulation 1")
    assert (job.truck, job.trailer, job.source_city, job.destination_company) == (
        "Scania S 730",
        "Reefer",
        "Berlin",
        "",
    )
    assert (await TrackerIntake.get(id=row.id)).state == IntakeState.DONE


async def test_signatures_are_checked_over_the_bytes_sent(client: TestClient) -> None:
    await _world(client)
    body = payloads.tracksim_job()
    wrong = await _tracksim(client, body, secret="not-the-secret")
    await problem_of(wrong, 401, "bad_signature")
    raw = payloads.tracksim_bytes(body)
    missing = await _send(client, "tracksim", raw, {})
    await problem_of(missing, 401, "bad_signature")
    garbage = await _send(client, "tracksim", raw, {"tracksim-signature": "zz\u00e9"})
    await problem_of(garbage, 401, "bad_signature")
    assert await TrackerIntake.all().count() == 0  # nothing stored
    # Pretty-printed, signed over its own bytes: accepted.
    pretty = json.dumps(payloads.tracksim_job(job_id=1), indent=2).encode()
    ok = await _send(
        client, "tracksim", pretty, {"tracksim-signature": payloads.sign(SECRET, pretty)}
    )
    assert ok.status == 202
    # Compact on the wire but signed as json.dumps of the parsed body (TrackSim's docs).
    body2 = payloads.tracksim_job(job_id=2)
    compact = json.dumps(body2, separators=(",", ":")).encode()
    signature = payloads.sign(SECRET, json.dumps(body2).encode())
    ok2 = await _send(client, "tracksim", compact, {"tracksim-signature": signature})
    assert ok2.status == 202
    # A charset in the media type is fine.
    raw3 = payloads.tracksim_bytes(payloads.tracksim_job(job_id=3))
    ok3 = await client.post(
        f"{HUB}/trackers/tracksim",
        data=raw3,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "tracksim-signature": payloads.sign(SECRET, raw3),
        },
    )
    assert ok3.status == 202


async def test_the_same_job_sent_again_or_fifty_times_at_once_is_one_job(
    client: TestClient,
) -> None:
    await _world(client)
    body = payloads.tracksim_job(job_id=777)
    first = await _tracksim(client, body)
    again = await _tracksim(client, body)
    assert (await again.json())["status"] == "duplicate"
    burst = await asyncio.gather(
        *(_tracksim(client, payloads.tracksim_job(job_id=778)) for _ in range(50))
    )
    statuses = [(await r.json())["status"] for r in burst]
    assert first.status == 202
    assert all(r.status == 202 for r in burst)
    assert statuses.count("accepted") == 1
    await _process()
    assert await Job.all().count() == 2
    assert await TrackerIntake.all().count() == 2


async def test_trucky_units_are_converted_and_both_cancel_spellings_accepted(
    client: TestClient,
) -> None:
    w = await _world(client)
    await client.put(f"{HUB}/trackers/trucky", json={"secret": "trucky-secret"}, headers=w["staff"])
    await client.put(f"{HUB}/members/@me/tracker", json={"tracker": "trucky"}, headers=w["driver"])
    for job_id, event in ((1, "job_completed"), (2, "job_canceled"), (3, "job_cancelled")):
        raw = json.dumps(payloads.trucky_job(job_id, event=event)).encode()
        sent = await _send(
            client, "trucky", raw, {"X-Signature-SHA256": payloads.sign("trucky-secret", raw)}
        )
        assert sent.status == 202, await sent.text()
    await _process()
    done = await Job.get(tracker="trucky", tracker_job_id="1")
    assert (done.game, done.currency) == ("ats", "USD")
    assert round(done.driven_km, 3) == round(500 * 1.609344, 3)
    assert round(done.fuel_l, 2) == round(100 * 3.785412, 2)
    assert round(done.cargo_mass_kg) == round(40000 * 0.45359237)
    assert done.damage == 0.045  # 4.5 %
    assert round(done.top_speed_kmh, 2) == round(75 * 1.609344, 2)
    assert (done.fines, done.tolls, done.multiplayer) == (300, 12, "")
    assert done.member_id == w["member"].id
    for job_id in ("2", "3"):
        cancelled = await Job.get(tracker="trucky", tracker_job_id=job_id)
        assert (cancelled.status, cancelled.revenue, cancelled.penalty) == (
            "cancelled",
            -2000,
            2000,
        )


async def test_unknown_events_are_acknowledged_and_trucklinemp_events_kept(
    client: TestClient,
) -> None:
    w = await _world(client)
    unknown = payloads.tracksim_job()
    unknown["type"] = "company_driver.detached"
    ignored = await _tracksim(client, unknown)
    assert (await ignored.json())["status"] == "ignored"
    assert await TrackerIntake.all().count() == 0
    await client.put(
        f"{HUB}/trackers/trucklinemp", json={"secret": "tmp-secret-1"}, headers=w["staff"]
    )
    raw = json.dumps(payloads.trucklinemp_event()).encode()
    headers = {
        "X-TrucklineMP-Signature": "sha256=" + payloads.sign("tmp-secret-1", raw),
        "X-TrucklineMP-Delivery": "dlv-1",
        "X-TrucklineMP-Event": "vtc.member_joined",
    }
    kept = await _send(client, "trucklinemp", raw, headers)
    assert (await kept.json())["status"] == "accepted"
    assert (await _send(client, "trucklinemp", raw, headers)).status == 202
    (row,) = await TrackerIntake.filter(kind="trucklinemp")
    assert (row.state, row.event) == (IntakeState.IGNORED, "vtc.member_joined")
    no_prefix = {**headers, "X-TrucklineMP-Signature": payloads.sign("tmp-secret-1", raw)}
    await problem_of(await _send(client, "trucklinemp", raw, no_prefix), 401, "bad_signature")


async def test_bad_bodies_are_recorded_failed_never_500(
    client: TestClient, monkeypatch: Any
) -> None:
    w = await _world(client)
    broken = b'{"object": "event", "type": '
    sent = await _send(
        client, "tracksim", broken, {"tracksim-signature": payloads.sign(SECRET, broken)}
    )
    await problem_of(sent, 400, None)
    deep = ("[" * 100 + "]" * 100).encode()
    await problem_of(
        await _send(client, "tracksim", deep, {"tracksim-signature": payloads.sign(SECRET, deep)}),
        400,
        None,
    )
    no_id = payloads.tracksim_job()
    del no_id["data"]["object"]["id"]
    await problem_of(await _tracksim(client, no_id), 400, None)
    failed = await TrackerIntake.filter(state=IntakeState.FAILED).order_by("id")
    assert [bool(r.error) for r in failed] == [True, True, True]
    assert "no id" in failed[2].error
    # Stored, then failed by the worker: a negative and an absurd distance.
    await _tracksim(client, payloads.tracksim_job(job_id=10, driven=-5))
    await _tracksim(client, payloads.tracksim_job(job_id=11, driven=1e9))
    await _process()
    absurd = await TrackerIntake.filter(
        state=IntakeState.FAILED, dedupe_key__not_isnull=True
    ).order_by("id")
    assert [r.error.split(" ")[0] for r in absurd] == ["driven_distance", "driven_distance"]
    assert await Job.all().count() == 0
    listed = await client.get(
        f"{HUB}/trackers/intake", params={"state": "failed"}, headers=w["staff"]
    )
    assert len((await listed.json())["items"]) == 5
    # After a fix (here: a bigger bound), a replay makes the job once.
    monkeypatch.setattr(formats, "MAX_KM", 2e9)
    replayed = await client.post(f"{HUB}/trackers/intake/{absurd[1].id}/replay", headers=w["staff"])
    assert (await replayed.json())["state"] == "done"
    again = await client.post(f"{HUB}/trackers/intake/{absurd[1].id}/replay", headers=w["staff"])
    await problem_of(again, 409, "already_processed")
    assert await Job.filter(tracker_job_id="11").count() == 1


async def test_unmatched_jobs_wait_for_staff_and_the_chosen_tracker_counts(
    client: TestClient,
) -> None:
    w = await _world(client)
    await _tracksim(client, payloads.tracksim_job(job_id=1, steam_id="76561198999999999"))
    await client.put(f"{HUB}/members/@me/tracker", json={"tracker": "trucky"}, headers=w["driver"])
    await _tracksim(client, payloads.tracksim_job(job_id=2))
    await _process()
    unmatched = await client.get(f"{HUB}/jobs", params={"unmatched": "true"}, headers=w["staff"])
    reasons = {j["tracker_job_id"]: j["unmatched"] for j in (await unmatched.json())["items"]}
    assert reasons == {"1": "unknown_driver", "2": "other_tracker"}
    stranger = await Job.get(tracker_job_id="1")
    assigned = await client.post(
        f"{HUB}/jobs/{stranger.id}/assign", json={"member_id": w["member"].id}, headers=w["staff"]
    )
    assert (await assigned.json())["member_id"] == w["member"].id
    mine = await client.get(f"{HUB}/jobs", headers=w["driver"])
    assert [j["tracker_job_id"] for j in (await mine.json())["items"]] == ["1"]
    denied = await client.post(
        f"{HUB}/jobs/{stranger.id}/assign", json={"member_id": 1}, headers=w["driver"]
    )
    await problem_of(denied, 403, "missing_permission")


async def test_a_first_counted_job_chooses_the_tracker(client: TestClient) -> None:
    w = await _world(client)
    await client.put(f"{HUB}/trackers/trucky", json={"secret": "trucky-secret"}, headers=w["staff"])
    await _tracksim(client, payloads.tracksim_job(job_id=5))
    await _process()
    choice = await client.get(f"{HUB}/members/@me/tracker", headers=w["driver"])
    assert (await choice.json())["tracker"] == "tracksim"
    raw = json.dumps(payloads.trucky_job(6)).encode()
    await _send(client, "trucky", raw, {"X-Signature-SHA256": payloads.sign("trucky-secret", raw)})
    await _process()
    assert (await Job.get(tracker="trucky")).unmatched == "other_tracker"  # the same drive twice


async def test_secrets_rotate_with_a_grace_period_and_addresses_can_be_limited(
    client: TestClient,
) -> None:
    w = await _world(client)
    rotated = await client.put(
        f"{HUB}/trackers/tracksim", json={"secret": "second-secret"}, headers=w["staff"]
    )
    assert (await rotated.json())["previous_valid_until"] is not None
    assert (await _tracksim(client, payloads.tracksim_job(job_id=1))).status == 202
    assert (await _tracksim(client, payloads.tracksim_job(job_id=2), "second-secret")).status == 202
    await client.put(
        f"{HUB}/trackers/tracksim",
        json={"secret": "third-secret", "previous_valid_hours": 0, "allowed_ips": ["10.0.0.0/8"]},
        headers=w["staff"],
    )
    await problem_of(
        await _tracksim(client, payloads.tracksim_job(job_id=3), "third-secret"),
        403,
        "ip_not_allowed",
    )
    await client.put(
        f"{HUB}/trackers/tracksim",
        json={"secret": "third-secret", "previous_valid_hours": 0},
        headers=w["staff"],
    )
    await problem_of(
        await _tracksim(client, payloads.tracksim_job(job_id=4), "second-secret"),
        401,
        "bad_signature",
    )
    made = await client.put(f"{HUB}/trackers/custom", json={}, headers=w["staff"])
    view = await made.json()
    assert len(view["secret"]) > 30  # shown once
    listed = await (await client.get(f"{HUB}/trackers", headers=w["staff"])).json()
    assert all(item["secret"] is None for item in listed["items"])
    assert {item["kind"] for item in listed["items"]} == {"tracksim", "custom"}
    await problem_of(
        await client.put(f"{HUB}/trackers/navio", json={}, headers=w["staff"]),
        404,
        "tracker_not_connected",
    )


async def test_the_custom_format_and_the_reference_products_custom_trackers(
    client: TestClient,
) -> None:
    w = await _world(client)
    secret = "custom-secret-9"
    await client.put(f"{HUB}/trackers/custom", json={"secret": secret}, headers=w["staff"])
    await client.put(f"{HUB}/members/@me/tracker", json={"tracker": "custom"}, headers=w["driver"])
    raw = json.dumps(payloads.custom_job()).encode()
    ours = await _send(
        client, "custom", raw, {"X-Drivershub-Signature": "sha256=" + payloads.sign(secret, raw)}
    )
    assert ours.status == 202, await ours.text()
    legacy = payloads.tracksim_bytes(payloads.tracksim_job(job_id=31))
    theirs = await _send(client, "custom", legacy, {"signature": payloads.sign(secret, legacy)})
    assert theirs.status == 202, await theirs.text()
    await _process()
    mine = await Job.get(tracker="custom", tracker_job_id="c-77")
    assert (mine.driven_km, mine.top_speed_kmh, mine.member_id) == (120.5, 88, w["member"].id)
    assert (await Job.get(tracker="custom", tracker_job_id="31")).top_speed_kmh == 90


async def test_a_body_over_the_limit_is_400_and_recorded(api_client: Any) -> None:
    async with api_client(tracker={"max_body_size": 1024}) as client:
        await _world(client)
        raw = payloads.tracksim_bytes(payloads.tracksim_job())
        assert len(raw) > 1024
        sent = await _send(
            client, "tracksim", raw, {"tracksim-signature": payloads.sign(SECRET, raw)}
        )
        await problem_of(sent, 400, "body_too_large")
    (row,) = await TrackerIntake.all()
    assert (row.state, row.error) == (IntakeState.FAILED, "the body is over 1024 bytes")


async def test_tracker_webhooks_have_a_budget_per_hub_not_per_address(api_client: Any) -> None:
    async with api_client(rate_limit={"tracker_limit": 3, "global_limit": 1}) as client:
        await _world(client)
        answers = [
            (await _tracksim(client, payloads.tracksim_job(job_id=n))).status for n in range(4)
        ]
    # The per-address budget of 1 does not apply; the hub's budget of 3 does.
    assert answers == [202, 202, 202, 429]
