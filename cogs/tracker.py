"""The tracker in Discord (rules in `models.tracker`).

- `/tracker use tracker:` switches the tracker you drive with (jobs from another one do not
  count for you: a hub running two trackers would otherwise count one drive twice).
- `/tracker jobs` shows your latest jobs.

Staff connect trackers and look after the intake on the website or through the API.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T  # noqa: N812 - the gettext-style marker
from discord.ext import commands

from bot.answer import answer
from bot.context import load_context
from bot.i18n import t
from bot.plugin import PluginCog
from models.errors import NotFound
from models.i18n import N_

KEY = "tracker"
LISTED = 10
NAMES = {"tracksim": "TrackSim", "trucky": "Trucky", "custom": N_("another tracker")}


@app_commands.guild_only()
class TrackerCog(PluginCog, group_name=_T("tracker"), group_description=_T("Your job tracker")):
    """/tracker: what drivers use."""

    plugin = KEY

    @app_commands.command(name=_T("use"), description=_T("Choose the tracker you drive with"))
    @app_commands.guild_only()
    @app_commands.describe(tracker=_T("The tracker that reports your jobs"))
    @app_commands.rename(tracker=_T("tracker"))
    @app_commands.choices(
        tracker=[
            app_commands.Choice(name="TrackSim", value="tracksim"),
            app_commands.Choice(name="Trucky", value="trucky"),
            app_commands.Choice(name=_T("another tracker"), value="custom"),
        ]
    )
    async def use(self, interaction: discord.Interaction, tracker: str) -> None:
        from models.tracker import ops
        from models.tracker.schemas import ChoiceInput

        hub = await self.hub(interaction)
        actor = (await load_context(interaction)).actor
        member_id = await _my_member_id(actor, hub)
        await ops.choose(actor, hub, member_id, ChoiceInput(tracker=tracker))  # type: ignore[arg-type]
        name = t(interaction, NAMES[tracker])
        await answer(
            interaction, t(interaction, N_("Your jobs now count from {tracker}."), tracker=name)
        )

    @app_commands.command(name=_T("jobs"), description=_T("Your latest jobs"))
    @app_commands.guild_only()
    async def jobs(self, interaction: discord.Interaction) -> None:
        from models.tracker import ops
        from models.tracker.schemas import JobQuery

        hub = await self.hub(interaction)
        actor = (await load_context(interaction)).actor
        page = await ops.jobs(actor, hub, JobQuery(limit=LISTED))
        embed = discord.Embed(title=t(interaction, N_("Your jobs")))
        if not page.items:
            embed.description = t(interaction, N_("No jobs yet."))
        for job in page.items:
            route = f"{job.source_city or '?'} → {job.destination_city or '?'}"
            money = f"{job.revenue:,.0f} {job.currency}"
            state = "❌ " if job.status == "cancelled" else ""
            when = discord.utils.format_dt(job.finished_at or job.created_at, "R")
            embed.add_field(
                name=f"{state}{route}"[:256],
                value=f"{job.cargo or '—'} · {job.driven_km:,.0f} km · {money} · {when}"[:1024],
                inline=False,
            )
        await answer(interaction, embed=embed)


async def _my_member_id(actor: object, hub: object) -> int:
    from models.members import directory

    mine = await directory.my_membership(actor, hub)  # type: ignore[arg-type]
    if mine is None:
        raise NotFound(N_("That member does not exist."), code="member_not_found")
    return int(mine.id)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(TrackerCog(bot))
