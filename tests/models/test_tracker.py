"""The tracker intake under concurrency, on the models: fifty copies of one job stored at
once (PostgreSQL: on a pool of 40 connections, so they really race) are one delivery, and
several workers processing at once make each job once. Payloads: tests/tracker_payloads.py."""

from __future__ import annotations

import asyncio
import json

from models import encryption, hubs
from models.tracker import IntakeState, Job, TrackerConnection, TrackerIntake, intake, processing
from tests import tracker_payloads as payloads
from tests.models.test_points_ledger import _wide_pool


async def _hub():  # type: ignore[no-untyped-def]
    hub = await hubs.ensure_hub_for_guild(42, "Road Kings", 10)
    await TrackerConnection.create(hub_id=hub.id, kind="tracksim", secret=encryption.seal("s3cret"))
    return hub


async def test_fifty_copies_of_a_job_at_once_are_one_delivery(database_url: str) -> None:
    hub = await _hub()
    body = payloads.tracksim_job(job_id=4711)
    raw = payloads.tracksim_bytes(body)
    headers = {"tracksim-signature": payloads.sign("s3cret", raw)}
    async with _wide_pool(database_url) as pool:
        receipts = await asyncio.gather(
            *(
                intake.receive(hub, intake.kind_of("tracksim"), raw, headers, address="127.0.0.1")
                for _ in range(50)
            )
        )
        if pool is not None:
            assert pool.get_size() >= 16  # the inserts really ran side by side
    assert sorted(r.status for r in receipts) == ["accepted"] + ["duplicate"] * 49
    assert await TrackerIntake.all().count() == 1


async def test_workers_at_once_make_each_job_once(database_url: str) -> None:
    hub = await _hub()
    for n in range(60):
        raw = payloads.tracksim_bytes(payloads.tracksim_job(job_id=n))
        await intake.store(hub, intake.kind_of("tracksim"), raw, json.loads(raw), {})
    async with _wide_pool(database_url):
        handled = await asyncio.gather(*(processing.run_once(limit=10) for _ in range(8)))
        while await processing.run_once():
            pass
    assert sum(handled) <= 60  # no row was claimed twice
    assert await Job.all().count() == 60
    assert await TrackerIntake.filter(state=IntakeState.DONE).count() == 60
    # A lease that ran out while its worker was slow: processing again makes no second job.
    await TrackerIntake.all().update(state=IntakeState.PENDING, lease_until=None)
    while await processing.run_once():
        pass
    assert await Job.all().count() == 60
