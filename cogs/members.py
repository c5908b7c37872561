"""/profile, /audit and the staff group /member: the members package in Discord.

Every rule lives in `models.members`; this module turns options into calls and results into
replies. A `member` option autocompletes from the member directory (its value is the member's
id); typed text that was not picked is looked up in the directory too (name, #number,
Discord or Steam id), so a staff member who pastes an id still reaches the right person.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T  # noqa: N812 - the gettext-style marker
from discord.ext import commands

from bot.answer import answer, open_modal
from bot.context import load_context
from bot.errors import safe_autocomplete
from bot.i18n import number, t
from bot.modals import FormField, FormModal
from bot.plugin import PluginCog
from bot.staff import staff
from models.actor import Actor
from models.auth import now
from models.errors import Conflict, DomainError, NotFound
from models.hubs import Hub
from models.i18n import N_
from models.members import bans, directory, lifecycle, roles
from models.members.bans import BanInput
from models.members.directory import AuditEntry, AuditQuery, DirectoryQuery, MemberProfile
from models.members.lifecycle import DismissInput, NoteInput, ReasonInput
from models.members.settings import AUDIT_CATEGORIES
from models.members.tables import NOTE_LENGTH, REASON_LENGTH, Member, MemberState, Role
from models.permissions import Permission
from models.points import ledger, reads
from models.points.ledger import Booking, CorrectionInput, GrantInput
from models.points.tables import KIND_LABELS, MAX_AMOUNT, PointKind
from models.points.tables import REASON_LENGTH as POINTS_REASON_LENGTH
from models.text import fold
from models.users import User
from models.validation import parse_id, validate

log = logging.getLogger(__name__)

KEY = lifecycle.KEY
MANAGE_MEMBERS = lifecycle.MANAGE
BAN_MEMBERS = bans.BAN
MANAGE_ROLES = roles.MANAGE_ROLES
MANAGE_POINTS = ledger.MANAGE
CHOICES = 25  # Discord's most autocomplete choices
AUDIT_ENTRIES = 10
BAN_DAYS = 3650
# A member matches at most this many bans; the loop lifting them ends even if one will not.
MAX_BANS_LIFTED = 50
STATE_LABELS = {
    MemberState.VISITOR: N_("Visitor"),
    MemberState.MEMBER: N_("Member"),
    MemberState.LEFT: N_("Left the server"),
    MemberState.DISMISSED: N_("Dismissed"),
    MemberState.RESIGNED: N_("Resigned"),
    MemberState.BANNED: N_("Banned"),
}
# Kinds of points as readers see them (cogs/points.py shows totals per kind with these).
# What staff may grant by hand (a correction has its own command).
GRANT_KINDS = [
    app_commands.Choice(name=_T(label), value=str(kind))
    for kind, label in KIND_LABELS.items()
    if kind != PointKind.CORRECTION
]
NO_MATCH = N_("No member matches “{query}”. Pick one from the list.")
MEMBER_OPTION = _T("The member: type a name, #number or Discord id and pick one")


NOTE_FORM = (
    FormField(
        "text",
        N_("Note"),
        "paragraph",
        max_length=NOTE_LENGTH,
        placeholder=N_("Only staff can read it."),
    ),
)


# Finding what an option names


def member_label(interaction: discord.Interaction, name: str, num: int | None, state: str) -> str:
    """How a member shows in a list of choices: "alice #12", "bob · Visitor"."""
    label = f"{name} #{num}" if num is not None else name
    if state != MemberState.MEMBER:
        label += f" · {t(interaction, STATE_LABELS[MemberState(state)])}"
    return label[:100]


async def resolve_member(actor: Actor, hub: Hub, value: str) -> Member:
    """The member an option names: a picked choice (a member id), else a directory search
    with exactly one match (or one exact name among several); a localized 404 otherwise."""
    value = value.strip()
    member_id = parse_id(value)
    if member_id is not None:
        try:
            return await lifecycle.member_in(hub, member_id)
        except NotFound:
            pass  # a number, Discord or Steam id: the directory knows those
    query = validate(DirectoryQuery, {"q": value[:100] or "#", "state": "any", "limit": CHOICES})
    found = (await directory.directory(actor, hub, query)).items
    exact = [item for item in found if fold(item.name) == fold(value)]
    if len(found) == 1 or len(exact) == 1:
        return await lifecycle.member_in(hub, (exact or found)[0].id)
    raise NotFound(NO_MATCH, code="member_not_found", query=value[:100])


async def resolve_role(actor: Actor, hub: Hub, value: str) -> Role:
    """The role an option names: a picked choice (a role id) or a role's name in any case."""
    value = value.strip()
    role_id = parse_id(value)
    if role_id is not None:
        try:
            return await roles.role_in(hub, role_id)
        except NotFound:
            pass
    wanted = fold(value)
    for role in await roles.roles(actor, hub):
        if fold(role.name) == wanted:
            return role
    raise NotFound(N_("That role does not exist."), code="role_not_found")


async def member_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Members whose name, number or id matches what was typed (staff: every state)."""
    context = await load_context(interaction)
    if context.hub is None:
        return []
    typed = current.strip()[:100]
    query = DirectoryQuery(q=typed or None, state="any", limit=CHOICES)
    try:
        page = await directory.directory(context.actor, context.hub, query)
    except DomainError:  # e.g. someone the hub has not seen yet: nothing to offer
        return []
    return [
        app_commands.Choice(
            name=member_label(interaction, item.name, item.number, item.state), value=str(item.id)
        )
        for item in page.items
    ]


async def role_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    context = await load_context(interaction)
    if context.hub is None:
        return []
    needle = fold(current.strip())
    try:
        found = await roles.roles(context.actor, context.hub)
    except DomainError:
        return []
    return [
        app_commands.Choice(name=role.name[:100], value=str(role.id))
        for role in found
        if needle in fold(role.name)
    ][:CHOICES]


# Rendering


def profile_embed(
    interaction: discord.Interaction, view: MemberProfile, rank: str | None = None
) -> discord.Embed:
    """A profile's public part: what any member may see of another (no connections or
    last seen, which follow privacy choices and would show to the whole channel)."""
    colour = next((role.color for role in view.roles if role.color), None)
    embed = discord.Embed(title=view.name[:256], color=colour)
    if view.avatar.startswith(("https://", "http://")):
        embed.set_thumbnail(url=view.avatar)
    none = t(interaction, N_("None"))
    embed.add_field(
        name=t(interaction, N_("Member number")),
        value=f"#{view.number}" if view.number is not None else none,
    )
    joined = discord.utils.format_dt(view.joined_at, "D") if view.joined_at else none
    embed.add_field(name=t(interaction, N_("Joined")), value=joined)
    state = t(interaction, STATE_LABELS[view.state])
    embed.add_field(name=t(interaction, N_("State")), value=state)
    embed.add_field(name=t(interaction, N_("Points")), value=number(interaction, view.points))
    embed.add_field(name=t(interaction, N_("Rank")), value=(rank or none)[:1024])
    held = ", ".join(role.name for role in view.roles)
    embed.add_field(name=t(interaction, N_("Roles")), value=(held or none)[:1024], inline=False)
    return embed


async def audit_embed(
    interaction: discord.Interaction, hub: Hub, entries: list[AuditEntry]
) -> discord.Embed:
    """The latest entries, one line each: when, what, who, about whom, why."""
    embed = discord.Embed(title=t(interaction, N_("Audit log")))
    if not entries:
        embed.description = t(interaction, N_("No entries match."))
        return embed
    actors = {
        user.id: user
        for user in await User.filter(id__in={e.actor_id for e in entries if e.actor_id})
    }
    members = {
        str(member.id): member.user.username
        for member in await Member.filter(
            hub_id=hub.id, id__in=[int(e.target) for e in entries if _about_member(e)]
        ).select_related("user")
    }
    lines = []
    for entry in entries:
        actor = actors.get(entry.actor_id) if entry.actor_id else None
        who = _who(interaction, actor)
        line = f"{discord.utils.format_dt(entry.created_at, 'R')} `{entry.action}` · {who}"
        target = members.get(entry.target) if _about_member(entry) else entry.target
        if target:
            line += f" → {target[:100]}"
        reason = entry.details.get("reason")
        if reason:
            line += f"\n> {str(reason)[:200]}"
        lines.append(line)
    embed.description = "\n".join(lines)[:4096]
    return embed


def _about_member(entry: AuditEntry) -> bool:
    """Member entries name the member by id (bans name the ban)."""
    return (
        entry.action.startswith("members.")
        and entry.action not in ("members.ban", "members.unban")
        and parse_id(entry.target) is not None
    )


def booked_text(interaction: discord.Interaction, name: str, booking: Booking) -> str:
    """What staff read after a grant or correction: the entry, the new total, a new rank."""
    entry = booking.entry
    text = t(
        interaction,
        N_("Booked {amount} ({kind}) for {name}. Points now: {total}."),
        name=name,
        amount=signed(interaction, entry.amount),
        kind=t(interaction, KIND_LABELS[PointKind(entry.kind)]),
        total=number(interaction, booking.total),
    )
    for signal in booking.signals:
        if signal.kind == "member.rank_changed":
            rank = signal.data.get("to") or t(interaction, N_("None"))
            text += " " + t(interaction, N_("New rank: {rank}."), rank=rank)
    return text


def signed(interaction: discord.Interaction, value: int) -> str:
    """+1,234 or -50: a ledger amount with its sign."""
    return ("+" if value > 0 else "-") + number(interaction, abs(value))


def _who(interaction: discord.Interaction, actor: User | None) -> str:
    if actor is None:
        return t(interaction, N_("the system"))
    return f"<@{actor.discord_id}>" if actor.discord_id else actor.username


# Commands


class MembersCog(PluginCog):
    """/profile and /audit: top-level commands, not a group."""

    __cog_is_app_commands_group__ = False  # discord.py: its commands stay top-level
    plugin = KEY

    @app_commands.command(
        name=_T("profile"), description=_T("Show a member's profile"), extras={"public": True}
    )
    @app_commands.guild_only()
    @app_commands.describe(member=_T("The member (you if left out)"))
    @app_commands.rename(member=_T("member"))
    async def profile(self, interaction: discord.Interaction, member: str | None = None) -> None:
        hub = await self.hub(interaction)
        actor = (await load_context(interaction)).actor
        if member is None:
            mine = await directory.my_membership(actor, hub)
            if mine is None:
                raise NotFound(N_("That member does not exist."), code="member_not_found")
            member_id = mine.id
        else:
            member_id = (await resolve_member(actor, hub, member)).id
        view = await directory.profile(actor, hub, member_id)
        rank = (await reads.totals(actor, hub, member_id)).rank.rank
        # Only a member's profile is for the channel: that someone is a visitor, or was
        # dismissed or banned, is for the staff (or the person) who asked.
        private = view.state != MemberState.MEMBER
        embed = profile_embed(interaction, view, rank)
        await answer(interaction, embed=embed, ephemeral=private)

    @app_commands.command(
        name=_T("audit"),
        description=_T("Show the latest audit log entries"),
        extras={"permission": Permission.VIEW_AUDIT_LOG},
    )
    @staff("view_audit_log")
    @app_commands.describe(
        action=_T("An action, or a category ending in a dot (members.)"),
        member=_T("Only entries about this member"),
    )
    @app_commands.rename(action=_T("action"), member=_T("member"))
    async def audit(
        self,
        interaction: discord.Interaction,
        action: app_commands.Range[str, 1, 64] | None = None,
        member: str | None = None,
    ) -> None:
        hub = await self.hub(interaction)
        actor = (await load_context(interaction)).actor
        raw: dict[str, object] = {"limit": AUDIT_ENTRIES}
        if action:
            raw["action"] = action.strip()
        if member:
            raw["target"] = str((await resolve_member(actor, hub, member)).id)
        page = await directory.audit_log(actor, hub, validate(AuditQuery, raw))
        await answer(interaction, embed=await audit_embed(interaction, hub, page.items))

    @profile.autocomplete("member")
    @audit.autocomplete("member")
    @safe_autocomplete
    async def member_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await member_choices(interaction, current)

    @audit.autocomplete("action")
    @safe_autocomplete
    async def action_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        context = await load_context(interaction)
        if context.hub is None:
            return []
        recent = await directory.audit_log(context.actor, context.hub, AuditQuery(limit=100))
        actions = dict.fromkeys(
            [*(f"{category}." for category in AUDIT_CATEGORIES), *(e.action for e in recent.items)]
        )
        needle = current.strip().lower()
        return [app_commands.Choice(name=a, value=a) for a in actions if needle in a][:CHOICES]


@staff("manage_roles")
class MemberStaffCog(
    PluginCog, group_name=_T("member"), group_description=_T("Manage the hub's members")
):
    """Staff only: Discord shows it to members with Manage Roles; the hub checks its roles."""

    plugin = KEY
    role = app_commands.Group(name=_T("role"), description=_T("Give or take hub roles"))
    points = app_commands.Group(name=_T("points"), description=_T("Grant or correct points"))

    async def _target(self, interaction: discord.Interaction, value: str) -> tuple[Hub, Member]:
        hub = await self.hub(interaction)
        actor = (await load_context(interaction)).actor
        return hub, await resolve_member(actor, hub, value)

    @app_commands.command(
        name=_T("accept"),
        description=_T("Make a visitor or former member a member"),
        extras={"permission": MANAGE_MEMBERS},
    )
    @app_commands.describe(
        member=MEMBER_OPTION,
        fresh=_T("Give a former member a new number instead of their old one"),
        reason=_T("Why (kept in the history)"),
    )
    @app_commands.rename(member=_T("member"), fresh=_T("fresh"), reason=_T("reason"))
    async def accept(
        self,
        interaction: discord.Interaction,
        member: str,
        fresh: bool = False,
        reason: app_commands.Range[str, 1, REASON_LENGTH] | None = None,
    ) -> None:
        hub, target = await self._target(interaction, member)
        why = validate(ReasonInput, {"reason": reason or ""}).reason
        actor = (await load_context(interaction)).actor
        accepted, _signal = await lifecycle.accept(
            actor, hub, target.id, mode="fresh" if fresh else "restore", reason=why
        )
        text = N_("{name} is now member #{number}.")
        await answer(
            interaction, t(interaction, text, name=accepted.user.username, number=accepted.number)
        )

    @app_commands.command(
        name=_T("dismiss"),
        description=_T("End someone's membership"),
        extras={"permission": MANAGE_MEMBERS},
    )
    @app_commands.describe(member=MEMBER_OPTION, reason=_T("Why (kept in the history)"))
    @app_commands.rename(member=_T("member"), reason=_T("reason"))
    async def dismiss(
        self,
        interaction: discord.Interaction,
        member: str,
        reason: app_commands.Range[str, 1, REASON_LENGTH],
    ) -> None:
        hub, target = await self._target(interaction, member)
        why = validate(DismissInput, {"reason": reason}).reason
        actor = (await load_context(interaction)).actor
        dismissed, _signal = await lifecycle.dismiss(actor, hub, target.id, why)
        text = t(interaction, N_("{name} is no longer a member."), name=dismissed.user.username)
        await answer(interaction, text)

    @app_commands.command(
        name=_T("ban"),
        description=_T("Ban someone's Discord account from the hub"),
        extras={"permission": BAN_MEMBERS},
    )
    @app_commands.describe(
        member=MEMBER_OPTION,
        reason=_T("Why (kept with the ban)"),
        days=_T("Lift the ban by itself after this many days (for good if left out)"),
    )
    @app_commands.rename(member=_T("member"), reason=_T("reason"), days=_T("days"))
    async def ban(
        self,
        interaction: discord.Interaction,
        member: str,
        reason: app_commands.Range[str, 1, REASON_LENGTH] | None = None,
        days: app_commands.Range[int, 1, BAN_DAYS] | None = None,
    ) -> None:
        hub, target = await self._target(interaction, member)
        user = target.user
        # Their Discord id; someone known only from the website is banned by what they have.
        identity = (
            {"discord_id": user.discord_id}
            if user.discord_id
            else {"steam_id": user.steam_id, "email": user.email}
        )
        expires = now() + timedelta(days=days) if days else None
        why = validate(ReasonInput, {"reason": reason or ""}).reason
        data = validate(BanInput, {**identity, "reason": why, "expires_at": expires})
        actor = (await load_context(interaction)).actor
        record, _signals = await bans.ban(actor, hub, data)
        if record.expires_at is None:
            text = t(interaction, N_("{name} is banned from this hub."), name=user.username)
        else:
            text = t(
                interaction,
                N_("{name} is banned from this hub until {date}."),
                name=user.username,
                date=discord.utils.format_dt(record.expires_at, "f"),
            )
        await answer(interaction, text)

    @app_commands.command(
        name=_T("unban"),
        description=_T("Lift the bans on someone"),
        extras={"permission": BAN_MEMBERS},
    )
    @app_commands.describe(member=MEMBER_OPTION)
    @app_commands.rename(member=_T("member"))
    async def unban(self, interaction: discord.Interaction, member: str) -> None:
        hub, target = await self._target(interaction, member)
        actor = (await load_context(interaction)).actor
        name = target.user.username
        lifted = 0
        # Every ban in force that matches them (Discord id, Steam id or e-mail address).
        while lifted < MAX_BANS_LIFTED and (record := await bans.active_ban(hub, target.user)):
            await bans.unban(actor, hub, record.id)
            lifted += 1
        if not lifted:
            raise Conflict(N_("{name} is not banned."), code="not_banned", name=name)
        await answer(interaction, t(interaction, N_("{name} is no longer banned."), name=name))

    @role.command(
        name=_T("give"),
        description=_T("Give a member a hub role (and its Discord role)"),
        extras={"permission": MANAGE_ROLES},
    )
    @app_commands.describe(member=MEMBER_OPTION, role=_T("The hub role"))
    @app_commands.rename(member=_T("member"), role=_T("role"))
    async def give(self, interaction: discord.Interaction, member: str, role: str) -> None:
        hub, target = await self._target(interaction, member)
        actor = (await load_context(interaction)).actor
        chosen = await resolve_role(actor, hub, role)
        await roles.give_role(actor, hub, target.id, chosen.id)
        text = N_("{name} now has the role {role}.")
        await answer(interaction, t(interaction, text, name=target.user.username, role=chosen.name))

    @role.command(
        name=_T("take"),
        description=_T("Take a hub role (and its Discord role) from a member"),
        extras={"permission": MANAGE_ROLES},
    )
    @app_commands.describe(member=MEMBER_OPTION, role=_T("The hub role"))
    @app_commands.rename(member=_T("member"), role=_T("role"))
    async def take(self, interaction: discord.Interaction, member: str, role: str) -> None:
        hub, target = await self._target(interaction, member)
        actor = (await load_context(interaction)).actor
        chosen = await resolve_role(actor, hub, role)
        await roles.take_role(actor, hub, target.id, chosen.id)
        text = N_("{name} no longer has the role {role}.")
        await answer(interaction, t(interaction, text, name=target.user.username, role=chosen.name))

    @app_commands.command(
        name=_T("note"),
        description=_T("Add a private staff note on a member"),
        extras={"permission": MANAGE_MEMBERS},
    )
    @app_commands.describe(member=MEMBER_OPTION)
    @app_commands.rename(member=_T("member"))
    async def note(self, interaction: discord.Interaction, member: str) -> None:
        hub, target = await self._target(interaction, member)
        name = target.user.username

        async def submitted(interaction: discord.Interaction, form: NoteInput) -> None:
            actor = (await load_context(interaction)).actor  # the submitter, as of the submit
            await lifecycle.add_note(actor, hub, target.id, form.text)
            await answer(interaction, t(interaction, N_("Note saved for {name}."), name=name))

        title = t(interaction, N_("Note on {name}"), name=name)
        modal = FormModal(
            interaction, title=title, fields=NOTE_FORM, schema=NoteInput, on_valid=submitted
        )
        await open_modal(interaction, modal)

    @points.command(
        name=_T("grant"),
        description=_T("Give a member points, with a reason"),
        extras={"permission": MANAGE_POINTS},
    )
    @app_commands.describe(
        member=MEMBER_OPTION,
        amount=_T("How many points"),
        reason=_T("Why (kept in the ledger)"),
        kind=_T("What they are for (manual if left out)"),
    )
    @app_commands.rename(
        member=_T("member"), amount=_T("amount"), reason=_T("reason"), kind=_T("kind")
    )
    @app_commands.choices(kind=GRANT_KINDS)
    async def grant_points(
        self,
        interaction: discord.Interaction,
        member: str,
        amount: app_commands.Range[int, 1, MAX_AMOUNT],
        reason: app_commands.Range[str, 1, POINTS_REASON_LENGTH],
        kind: str | None = None,
    ) -> None:
        hub, target = await self._target(interaction, member)
        raw = {"amount": amount, "reason": reason, "kind": kind or PointKind.MANUAL}
        actor = (await load_context(interaction)).actor
        booking = await ledger.grant(actor, hub, target.id, validate(GrantInput, raw))
        await answer(interaction, booked_text(interaction, target.user.username, booking))

    @points.command(
        name=_T("correct"),
        description=_T("Correct a member's points (negative takes away), with a reason"),
        extras={"permission": MANAGE_POINTS},
    )
    @app_commands.describe(
        member=MEMBER_OPTION,
        amount=_T("Points to add, or to take away when negative"),
        reason=_T("Why (kept in the ledger)"),
    )
    @app_commands.rename(member=_T("member"), amount=_T("amount"), reason=_T("reason"))
    async def correct_points(
        self,
        interaction: discord.Interaction,
        member: str,
        amount: app_commands.Range[int, -MAX_AMOUNT, MAX_AMOUNT],
        reason: app_commands.Range[str, 1, POINTS_REASON_LENGTH],
    ) -> None:
        hub, target = await self._target(interaction, member)
        data = validate(CorrectionInput, {"amount": amount, "reason": reason})
        actor = (await load_context(interaction)).actor
        booking = await ledger.correct(actor, hub, target.id, data)
        await answer(interaction, booked_text(interaction, target.user.username, booking))

    @accept.autocomplete("member")
    @dismiss.autocomplete("member")
    @ban.autocomplete("member")
    @unban.autocomplete("member")
    @give.autocomplete("member")
    @take.autocomplete("member")
    @note.autocomplete("member")
    @grant_points.autocomplete("member")
    @correct_points.autocomplete("member")
    @safe_autocomplete
    async def member_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await member_choices(interaction, current)

    @give.autocomplete("role")
    @take.autocomplete("role")
    @safe_autocomplete
    async def role_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await role_choices(interaction, current)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(MembersCog(bot))
    await bot.add_cog(MemberStaffCog(bot))
