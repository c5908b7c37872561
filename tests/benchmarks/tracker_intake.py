"""Tracker intake under load: `concurrency` senders post signed TrackSim job webhooks to a
running hub as fast as it answers, a few resent (as trackers retry), and the benchmark
waits until the worker has made every job; then the same number again paced at `rate` a
second (the answer times at that load); then it counts the jobs.

    python tests/benchmarks/tracker_intake.py --port P --hub SLUG --token STAFF_TOKEN \\
        --steam-ids FILE --jobs 5000 --concurrency 32

Prints one JSON object: acknowledged jobs/s, answer percentiles, errors, how long the
worker took, and the jobs found (which must equal the distinct jobs sent).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests import tracker_payloads as payloads  # noqa: E402 - after the path is set

SECRET = "bench-tracksim-secret"
RESENT = 0.05  # a twentieth of the deliveries arrive twice


def bodies(count: int, steam_ids: list[str], first_id: int, seed: int = 7) -> list[bytes]:
    """`count` distinct jobs by random drivers (a few by unknown ones), then resends."""
    rng = random.Random(seed)
    made = []
    for n in range(count):
        steam = rng.choice(steam_ids) if rng.random() < 0.95 else "76561190000000001"
        event = "job.delivered" if rng.random() < 0.93 else "job.cancelled"
        body = payloads.tracksim_job(
            job_id=first_id + n, steam_id=steam, event=event, driven=rng.uniform(10, 800)
        )
        body["data"]["object"]["planned_distance"] = 900
        made.append(payloads.tracksim_bytes(body))
    resent = rng.sample(made, int(count * RESENT))
    everything = made + resent
    rng.shuffle(everything)
    return everything


async def send_all(
    base: str, raws: list[bytes], concurrency: int, rate: float | None = None
) -> dict[str, Any]:
    """Send every body from `concurrency` senders: as fast as answers come (`rate` None), or
    paced to `rate` a second overall (open loop: a delivery's time counts from when it was
    due, so a server falling behind shows in the latencies)."""
    queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    for n, raw in enumerate(raws):
        queue.put_nowait((n, raw))
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    url = f"{base}/trackers/tracksim"

    async def sender(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            n, raw = queue.get_nowait()
            headers = {
                "Content-Type": "application/json",
                "tracksim-signature": payloads.sign(SECRET, raw),
            }
            started = time.perf_counter()
            if rate is not None:
                due = began + n / rate
                if due > started:
                    await asyncio.sleep(due - started)
                started = due
            async with session.post(url, data=raw, headers=headers) as response:
                body = await response.read()
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1
            if response.status == 202:
                status = json.loads(body)["status"]
                outcomes[status] = outcomes.get(status, 0) + 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.perf_counter()
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "sent": len(raws),
        "seconds": round(elapsed, 2),
        "per_second": round(len(raws) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "max_ms": round(latencies[-1], 2),
        "statuses": statuses,
        "outcomes": outcomes,
    }


async def wait_processed(base: str, token: str, limit_s: float) -> float:
    """Seconds until no delivery is pending (the worker made every job)."""
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() - started < limit_s:
            url = f"{base}/trackers/intake?state=pending&limit=1"
            async with session.get(url, headers=headers) as response:
                pending = (await response.json())["items"]
            if not pending:
                return time.perf_counter() - started
            await asyncio.sleep(0.2)
    raise TimeoutError("the worker did not finish in time")


async def count_jobs(base: str, token: str) -> dict[str, int]:
    """Jobs by matched or unmatched, walking every page of the jobs list."""
    headers = {"Authorization": f"Bearer {token}"}
    counts = {"jobs": 0, "matched": 0, "distinct_ids": 0}
    ids: set[str] = set()
    cursor = None
    async with aiohttp.ClientSession() as session:
        while True:
            url = f"{base}/jobs?limit=100" + (f"&cursor={cursor}" if cursor else "")
            async with session.get(url, headers=headers) as response:
                page = await response.json()
            for job in page["items"]:
                counts["jobs"] += 1
                counts["matched"] += job["member_id"] is not None
                ids.add(job["tracker_job_id"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    counts["distinct_ids"] = len(ids)
    return counts


async def main_async(args: argparse.Namespace, steam_ids: list[str]) -> dict[str, Any]:
    base = f"http://127.0.0.1:{args.port}/api/v1/hubs/{args.hub}"
    headers = {"Authorization": f"Bearer {args.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.put(
            f"{base}/trackers/tracksim", json={"secret": SECRET}, headers=headers
        ) as response,
    ):
        if response.status != 200:
            raise RuntimeError(f"connecting TrackSim: {response.status} {await response.text()}")
    raws = bodies(args.jobs, steam_ids, 10_000_000)
    warm = bodies(args.warmup, steam_ids, 90_000_000, seed=99)
    if warm:
        await send_all(base, warm, args.concurrency)
        await wait_processed(base, args.token, 600)
    started = time.perf_counter()
    sent = await send_all(base, raws, args.concurrency)
    drained = await wait_processed(base, args.token, 600)
    total = time.perf_counter() - started
    paced_raws = bodies(args.jobs, steam_ids, 50_000_000, seed=13)
    paced = await send_all(base, paced_raws, args.concurrency, rate=args.rate)
    await wait_processed(base, args.token, 600)
    counts = await count_jobs(base, args.token)
    return {
        "intake": sent,
        "paced": {**paced, "rate": args.rate},
        "distinct_sent": args.jobs,
        "processing_s": round(total, 2),
        "processed_per_second": round(args.jobs / total, 1),
        "drain_after_sending_s": round(drained, 2),
        "jobs": counts,
        "warmup": args.warmup if warm else 0,  # distinct warm-up jobs
        "paced_distinct": args.jobs,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hub", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--steam-ids", required=True)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=500.0, help="the paced phase's rate")
    args = parser.parse_args()
    steam_ids = json.loads(Path(args.steam_ids).read_text())
    result = asyncio.run(main_async(args, steam_ids))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
