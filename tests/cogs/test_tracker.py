"""/tracker through the emulator: a driver switches the tracker their jobs count from, and
lists their jobs; someone only in the server sees none (not the unmatched ones)."""

from __future__ import annotations

from models.tracker import Job, TrackerChoice
from tests.cogs.test_members import accepted, world
from tests.conftest import AppFactory
from tests.fakediscord import FakeDiscord


async def test_a_driver_chooses_a_tracker_and_lists_jobs(
    discord: FakeDiscord, start_app: AppFactory
) -> None:
    w = await world(discord)
    member = await accepted(w.hub, w.alice_row)
    await Job.create(
        hub_id=w.hub.id,
        tracker="tracksim",
        tracker_job_id="1",
        status="delivered",
        member_id=member.id,
        user_id=member.user_id,
        game="ets2",
        currency="EUR",
        source_city="Berlin",
        destination_city="Calais",
        cargo="Apples",
        driven_km=812.4,
        revenue=24150,
    )
    async with start_app():
        chosen = await w.alice.run("tracker use", guild=w.guild, tracker="trucky")
        listed = await w.alice.run("tracker jobs", guild=w.guild)
        stranger = await w.driver.run("tracker jobs", guild=w.guild)
    assert chosen.ephemeral
    assert chosen.content == "Your jobs now count from Trucky."
    assert (await TrackerChoice.get(user_id=member.user_id)).kind == "trucky"
    (field,) = listed.original.embeds[0]["fields"]
    assert field["name"] == "Berlin → Calais"
    assert "812 km" in field["value"]
    assert "24,150 EUR" in field["value"]
    assert stranger.ephemeral  # in the server, not in the hub: never the unmatched jobs
    assert stranger.original.embeds[0]["description"] == "No jobs yet."
