"""RSVP click answer latency under concurrent members (a helper of run.py, part "events").

Usage, from the project root (run.py starts it with its own settings in the environment):

    python -m tests.benchmarks.events_clicks --members 50 --rounds 10 --warmup-rounds 2 \
        --bot-log /tmp/bot.log

This process runs the Discord emulator (tests/fakediscord) with one guild of N members; the
bot runs as deployed, `drivershub run` in its own process on the database of
DRIVERSHUB_DATABASE__URL (SQLite or PostgreSQL; migrated first), as in interactions.py. The
guild's owner plans an event through `/event-admin create` (its modal) and posts it with
`/event-admin post` in #general; the Discord-actions worker posts the message with the
persistent buttons `dh:events:rsvp:<occurrence>:<answer>`.

In every round all N members click an RSVP button of that post at once, each a different
answer than in the round before (so every measured click changes an answer: the RSVP row,
two counters of the date, a post edit requested). Prints one JSON line: the latency of every
measured click in ms, from the emulator creating the INTERACTION_CREATE to the bot's callback
reaching the emulator (`Interaction.created` to `Interaction.answered_at`, the ephemeral answer
or a deferral; the emulator's own check of the body against Discord's spec comes after), and
whether the counts the post shows at the end match the answers given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.benchmarks.interactions import (
    ANSWER_TIMEOUT_S,
    bot_process,
    build_world,
    emulator_findings,
    freeze_heap,
    log_problems,
    proc_cpu_s,
)
from tests.benchmarks.run import rss_mb
from tests.fakediscord import FakeDiscord, Guild, Interaction, User
from tests.fakediscord.state import DISCORD_EPOCH_MS, Channel, Message

EVENT_TITLE = "Bench convoy"
LABELS = ("Going", "Maybe", "Not going")
ANSWERS = ("going", "maybe", "not_going")
ANSWERED = re.compile(r"^You (are going to|might come to|are not going to) ")
POST_TIMEOUT_S = 15.0
# The post is edited at most every 2 s (cogs.events.PostEdits): the last edit shows the
# final counts a little after the last round.
COUNTS_TIMEOUT_S = 15.0


def resync_clock(fake: FakeDiscord) -> None:
    """Bring the emulator's snowflake clock up to now. It starts at the emulator's start and
    advances 1 ms per id, so after the bot's start-up (~3 s) every new interaction's id (its
    `created_at` for discord.py) lies seconds in the past, and the bot's deadline watchdog
    (bot.answer.watch_deadline, 2 s after `created_at`) defers it at once: a modal then
    cannot open, and a click's measured answer would be that deferral."""
    now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    fake.snowflakes._ms = max(fake.snowflakes._ms, now_ms)  # the emulator's clock


def click_latency_ms(reply: Interaction) -> float | None:
    """The answer's latency, or None if the bot did not answer (or defer) as a click should."""
    if reply.answered_at is None or reply.response_type not in (4, 5):
        return None
    if reply.response_type == 4 and not ANSWERED.match(reply.content):
        return None
    return (reply.answered_at - reply.created) * 1000


def the_post(channel: Channel) -> Message | None:
    """The event post: a message of the bot in the channel, not an interaction's answer."""
    for message in channel.visible_messages:
        if not message.interaction_id and message.buttons:
            return message
    return None


def counts_text(message: Message) -> str:
    return message.embeds[0]["fields"][-1]["value"] if message.embeds else ""


async def plan_and_post(fake: FakeDiscord, guild: Guild, owner: User) -> tuple[int, Message]:
    """The owner plans an event in the modal and posts it; its occurrence id and the post."""
    meetup = datetime.now(UTC) + timedelta(days=3)
    # The bot syncs its commands after its ready line; the first command after start-up may
    # be slow enough to be deferred (no modal after a deferral): try again.
    await fake.wait_for(
        lambda: (
            fake.commands.find("event-admin", None) or fake.commands.find("event-admin", guild.id)
        ),
        POST_TIMEOUT_S,
        "/event-admin to be registered",
    )
    for _ in range(3):
        resync_clock(fake)
        form = await owner.run("event-admin create", guild=guild, timeout=ANSWER_TIMEOUT_S)
        if form.modal is not None:
            break
        await asyncio.sleep(1.0)
    else:
        raise RuntimeError(f"/event-admin create opened no modal: {form.text!r}")
    done = await owner.submit_modal(
        form,
        title=EVENT_TITLE,
        description="Fifty drivers answer at once.",
        meetup_time=f"{meetup:%Y-%m-%d} 19:30",
        departure_time="19:45",
        route="Berlin (Tesla) → Calais (Tree-Et)",
    )
    if EVENT_TITLE not in done.content:
        raise RuntimeError(f"/event-admin create answered {done.content!r}")
    resync_clock(fake)
    choices = await owner.autocomplete("event-admin post", "event", "", guild=guild)
    if not choices:
        raise RuntimeError("/event-admin post offers no event")
    occurrence = str(choices[0]["value"])
    general = guild.default_channel
    resync_clock(fake)
    posted = await owner.run(
        "event-admin post",
        guild=guild,
        event=occurrence,
        options={"channel": general},
        timeout=ANSWER_TIMEOUT_S,
    )
    if "Posted in" not in posted.content:
        raise RuntimeError(f"/event-admin post answered {posted.content!r}")
    message = await fake.wait_for(lambda: the_post(general), POST_TIMEOUT_S, "the event post")
    return int(re.sub(r"\D", "", occurrence)), message


async def one_round(
    fake: FakeDiscord, post: Message, drivers: list[User], round_no: int
) -> tuple[list[float], list[str]]:
    """Every driver clicks at the same moment, each the answer after last round's."""
    resync_clock(fake)
    results = await asyncio.gather(
        *(
            driver.click(post, LABELS[(i + round_no) % 3], timeout=ANSWER_TIMEOUT_S)
            for i, driver in enumerate(drivers)
        ),
        return_exceptions=True,
    )
    latencies, failures = [], []
    for result in results:
        if isinstance(result, BaseException):
            failures.append(f"{type(result).__name__}: {result}")
        elif (latency := click_latency_ms(result)) is None:
            failures.append(
                f"unexpected answer (callback type {result.response_type}): {result.content!r}"
            )
        else:
            latencies.append(latency)
    return latencies, failures


def expected_counts(members: int, last_round: int) -> dict[str, int]:
    counts = dict.fromkeys(ANSWERS, 0)
    for i in range(members):
        counts[ANSWERS[(i + last_round) % 3]] += 1
    return counts


async def measure(
    members: int, rounds: int, warmup: int, log: Path, profile: Path | None = None
) -> dict[str, Any]:
    async with FakeDiscord() as fake:
        guild, drivers = build_world(fake, members)
        owner = fake.users[guild.owner_id]
        async with bot_process(fake, log, profile) as proc:
            freeze_heap()
            occurrence_id, post = await plan_and_post(fake, guild, owner)
            # The first rounds create the users and their hub rows.
            for round_no in range(warmup):
                await one_round(fake, post, drivers, round_no)
            bot_cpu = proc_cpu_s(proc.pid)
            cpu_started = time.process_time()
            started = time.perf_counter()
            per_round = [
                await one_round(fake, post, drivers, round_no)
                for round_no in range(warmup, warmup + rounds)
            ]
            elapsed = time.perf_counter() - started
            bot_cpu = proc_cpu_s(proc.pid) - bot_cpu
            cpu_s = time.process_time() - cpu_started
            expected = expected_counts(members, warmup + rounds - 1)
            wanted = " · ".join(
                f"{label}: {expected[answer]}"
                for label, answer in zip(LABELS, ANSWERS, strict=True)
            )
            try:
                await fake.wait_for(
                    lambda: wanted in counts_text(post), COUNTS_TIMEOUT_S, "the final counts"
                )
                counts_match = True
            except Exception:  # the emulator's timeout: the post shows other counts
                counts_match = False
            memory = rss_mb(proc.pid)
            findings = emulator_findings(fake)
        problems = log_problems(log, proc.returncode)
        latencies = [round(x, 3) for lat, _ in per_round for x in lat]
        return {
            "occurrence_id": occurrence_id,
            "seconds": round(elapsed, 3),
            "this_process_cpu_s": round(cpu_s, 3),
            "latencies_ms": latencies,
            "round_max_ms": [round(max(lat, default=0.0), 3) for lat, _ in per_round],
            "failures": [failure for _, failures in per_round for failure in failures],
            "expected_counts": wanted,
            "post_counts": counts_text(post),
            "counts_match": counts_match,
            "answered": sum(expected.values()),
            "post_edits": post.edits,
            **findings,
            "bot": {
                "pid": proc.pid,
                "exit_code": proc.returncode,
                "memory_mb": memory,
                "cpu_s": round(bot_cpu, 3),
                "cpu_ms_per_answer": round(bot_cpu * 1000 / len(latencies), 2)
                if latencies
                else None,
                "log_problems": problems[:20],
                "log": str(log),
            },
        }


def main() -> int:
    parser = argparse.ArgumentParser(description="RSVP click answer latency")
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup-rounds", type=int, default=2)
    parser.add_argument("--bot-log", type=Path, help="the bot's output (default: a temp dir)")
    parser.add_argument("--bot-profile", type=Path, help="run the bot under cProfile, to here")
    args = parser.parse_args()
    log = args.bot_log or Path(tempfile.mkdtemp(prefix="drivershub-bot-")) / "bot.log"
    profile = args.bot_profile.resolve() if args.bot_profile else None
    result = asyncio.run(
        measure(args.members, args.rounds, args.warmup_rounds, log.resolve(), profile)
    )
    result.update(members=args.members, rounds=args.rounds, warmup_rounds=args.warmup_rounds)
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
