"""/points, /rank and /bonus: the points package in Discord.

Every rule lives in `models.points`; this module turns options into calls and results into
replies. Points are visible to the hub's members, so a member's card goes to the channel;
anyone else's (a visitor, a former member) only to whoever asked, as with /profile. The
staff commands (`/member points grant|correct`) sit in the /member group in cogs/members.py.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T  # noqa: N812 - the gettext-style marker
from discord.ext import commands

from bot.answer import answer
from bot.context import load_context
from bot.errors import safe_autocomplete
from bot.i18n import number, t
from bot.plugin import PluginCog
from cogs.members import member_choices, resolve_member, signed
from models.actor import Actor
from models.errors import NotFound
from models.hubs import Hub
from models.i18n import N_
from models.members import directory
from models.members.tables import Member, MemberState
from models.points import reads
from models.points.bonus import BonusResult, claim
from models.points.ledger import KEY
from models.points.ranks import Progress
from models.points.reads import EntryView, LedgerQuery, Totals
from models.points.tables import KIND_LABELS, PointKind

log = logging.getLogger(__name__)

LAST_ENTRIES = 5
BAR_CELLS = 10
FULL, EMPTY = "▰", "▱"
REASON_SHOWN = 100  # characters of a ledger reason in the list of last entries


# Rendering


def progress_bar(percent: int) -> str:
    """A text progress bar: ▰▰▰▰▰▰▱▱▱▱ 60%."""
    percent = min(max(percent, 0), 100)
    filled = percent * BAR_CELLS // 100
    return f"{FULL * filled}{EMPTY * (BAR_CELLS - filled)} {percent}%"


def kind_label(interaction: discord.Interaction, kind: str) -> str:
    return t(interaction, KIND_LABELS[PointKind(kind)])


def entry_line(interaction: discord.Interaction, entry: EntryView) -> str:
    """One ledger row: amount, kind, when, why."""
    when = discord.utils.format_dt(entry.counts_at, "d")
    line = f"`{signed(interaction, entry.amount)}` {kind_label(interaction, entry.kind)} · {when}"
    if entry.reason:
        line += f" · {entry.reason[:REASON_SHOWN]}"
    return line


def points_embed(
    interaction: discord.Interaction, name: str, totals: Totals, entries: list[EntryView]
) -> discord.Embed:
    """A member's total, rank, total per kind and last ledger entries."""
    none = t(interaction, N_("None"))
    embed = discord.Embed(title=t(interaction, N_("Points of {name}"), name=name)[:256])
    embed.add_field(name=t(interaction, N_("Total")), value=number(interaction, totals.total))
    embed.add_field(name=t(interaction, N_("Rank")), value=(totals.rank.rank or none)[:1024])
    for kind in PointKind:  # always in the same order
        amount = totals.by_kind.get(str(kind))
        if amount:
            embed.add_field(name=kind_label(interaction, kind), value=number(interaction, amount))
    lines = [entry_line(interaction, entry) for entry in entries]
    embed.add_field(
        name=t(interaction, N_("Last entries")),
        value="\n".join(lines)[:1024] or t(interaction, N_("No points yet.")),
        inline=False,
    )
    return embed


def rank_embed(interaction: discord.Interaction, name: str, rank: Progress) -> discord.Embed:
    """The current rank, the next one and how far it is."""
    none = t(interaction, N_("None"))
    embed = discord.Embed(title=t(interaction, N_("Rank of {name}"), name=name)[:256])
    embed.add_field(name=t(interaction, N_("Rank")), value=(rank.rank or none)[:1024])
    embed.add_field(name=t(interaction, N_("Points")), value=number(interaction, rank.points))
    if rank.next_rank is None or rank.next_threshold is None:
        top = N_("The highest rank.") if rank.rank else N_("This hub has no ranks yet.")
        embed.add_field(name=t(interaction, N_("Next rank")), value=t(interaction, top))
        return embed
    following = t(
        interaction,
        N_("{rank} at {threshold} points"),
        rank=rank.next_rank,
        threshold=number(interaction, rank.next_threshold),
    )
    embed.add_field(name=t(interaction, N_("Next rank")), value=following[:1024])
    remaining = t(
        interaction, N_("{points} to go"), points=number(interaction, rank.remaining or 0)
    )
    embed.add_field(
        name=t(interaction, N_("Progress")),
        value=f"{progress_bar(rank.percent or 0)}\n{remaining}",
        inline=False,
    )
    return embed


def bonus_embed(interaction: discord.Interaction, result: BonusResult) -> discord.Embed:
    embed = discord.Embed(title=t(interaction, N_("Daily bonus claimed")))
    embed.add_field(name=t(interaction, N_("Bonus")), value=signed(interaction, result.amount))
    streak = t(interaction, N_("Day {days}"), days=number(interaction, result.streak))
    embed.add_field(name=t(interaction, N_("Streak")), value=streak)
    embed.add_field(name=t(interaction, N_("Total")), value=number(interaction, result.total))
    return embed


# Commands


class PointsCog(PluginCog):
    """/points, /rank and /bonus: top-level commands, not a group."""

    __cog_is_app_commands_group__ = False  # discord.py: its commands stay top-level
    plugin = KEY

    async def _target(
        self, interaction: discord.Interaction, value: str | None
    ) -> tuple[Hub, Actor, Member]:
        """The hub, the caller, and the member an option names (the caller if none)."""
        hub = await self.hub(interaction)
        actor = (await load_context(interaction)).actor
        if value is not None:
            return hub, actor, await resolve_member(actor, hub, value)
        mine = await directory.my_membership(actor, hub)
        if mine is None:
            raise NotFound(N_("That member does not exist."), code="member_not_found")
        return hub, actor, mine

    @app_commands.command(
        name=_T("points"),
        description=_T("Show a member's points and last entries"),
        extras={"public": True},
    )
    @app_commands.guild_only()
    @app_commands.describe(member=_T("The member (you if left out)"))
    @app_commands.rename(member=_T("member"))
    async def points(self, interaction: discord.Interaction, member: str | None = None) -> None:
        hub, actor, target = await self._target(interaction, member)
        totals = await reads.totals(actor, hub, target.id)
        query = LedgerQuery(member=target.id, limit=LAST_ENTRIES)
        entries = (await reads.ledger(actor, hub, query)).items
        embed = points_embed(interaction, target.user.username, totals, entries)
        await answer(interaction, embed=embed, ephemeral=_private(target))

    @app_commands.command(
        name=_T("rank"),
        description=_T("Show a member's rank and the way to the next one"),
        extras={"public": True},
    )
    @app_commands.guild_only()
    @app_commands.describe(member=_T("The member (you if left out)"))
    @app_commands.rename(member=_T("member"))
    async def rank(self, interaction: discord.Interaction, member: str | None = None) -> None:
        hub, actor, target = await self._target(interaction, member)
        totals = await reads.totals(actor, hub, target.id)
        embed = rank_embed(interaction, target.user.username, totals.rank)
        await answer(interaction, embed=embed, ephemeral=_private(target))

    @app_commands.command(name=_T("bonus"), description=_T("Claim today's daily bonus"))
    @app_commands.guild_only()
    async def bonus(self, interaction: discord.Interaction) -> None:
        hub = await self.hub(interaction)
        actor = (await load_context(interaction)).actor
        result = await claim(actor, hub)
        await answer(interaction, embed=bonus_embed(interaction, result))

    @points.autocomplete("member")
    @rank.autocomplete("member")
    @safe_autocomplete
    async def member_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await member_choices(interaction, current)


def _private(member: Member) -> bool:
    """Only a member's points are for the channel: that someone is a visitor, or was
    dismissed or banned, is for whoever asked (as /profile does)."""
    return member.state != MemberState.MEMBER


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(PointsCog(bot))
