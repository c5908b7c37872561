"""Drivers Hub benchmarks: throughput, memory, cold start, auth, timing, slash commands,
the member directory, points.

Not a pytest test.

Run from the project root with the project's virtualenv:

    .venv/bin/python tests/benchmarks/run.py            # everything, about two minutes
    .venv/bin/python tests/benchmarks/run.py --only throughput --duration 20
    .venv/bin/python tests/benchmarks/run.py --only auth-me --only logins
    .venv/bin/python tests/benchmarks/run.py --only reset-timing
    .venv/bin/python tests/benchmarks/run.py --only interactions --rounds 20
    .venv/bin/python tests/benchmarks/run.py --only members \
        --postgres postgres://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/10
    .venv/bin/python tests/benchmarks/run.py --only points \
        --postgres postgres://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/10
    .venv/bin/python tests/benchmarks/run.py --only events \
        --postgres postgres://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/10

Each part prints PASS/FAIL against its target; the figures go to tests/benchmarks/results/.
The exit status is 0 when every target passed, 1 otherwise. See tests/benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS_DIR = HERE / "results"
HOST = "127.0.0.1"

# Targets.
MIN_THROUGHPUT_RATIO = 0.30  # hub info req/s as a share of the bare aiohttp baseline
MAX_P99_MS = 20.0
MAX_RSS_1000_HUBS_MB = 150.0
MAX_COLD_START_S = 3.0
MIN_AUTH_ME_RATIO = 0.70  # GET /users/@me req/s as a share of hub info req/s, same process
MAX_HEALTH_P99_UNDER_LOGINS_MS = 50.0
MIN_LOGIN_SUCCESS = 0.5  # share of logins answered 200 with tokens ("most must succeed")
MAX_INTERACTION_P99_MS = 250.0  # /hub info, INTERACTION_CREATE to the bot's callback
MAX_DIRECTORY_P99_MS = 30.0  # a directory page of a hub with 10,000 members
MAX_PROFILE_P99_MS = 20.0  # a member's profile in that hub

READY_TIMEOUT_S = 20.0
MEMORY_HUBS = 1000
BUSY_LOAD = 0.7  # 1-minute load average above which the machine is not quiet

# The auth parts: a seeded, verified user; tokens that outlive the run; limits that still
# count every request but never refuse one (every request comes from one address and user).
BENCH_EMAIL = "bench.driver@example.com"
BENCH_PASSWORD = "bench-password-1234"  # a throwaway account in a temp database
AUTH_ENV = {
    "DRIVERSHUB_AUTH__ACCESS_TOKEN_TTL": "3600",
    "DRIVERSHUB_RATE_LIMIT__AUTH_LIMIT": str(10**6),
    "DRIVERSHUB_RATE_LIMIT__ACCOUNT_FAILURES": str(10**6),
}
LOGIN_CLIENTS = 20
HEALTH_INTERVAL_S = 0.010

# Part 6: an address nobody registered, and a wrong password for the benchmark user.
UNKNOWN_EMAIL = "nobody.registered@example.com"
WRONG_PASSWORD = "not-the-password-1234"
JSON_HEADERS = {"Content-Type": "application/json"}
TIMING_WARMUP = 5  # rounds before the measured ones (the first unknown login makes a dummy hash)
TIMING_ROUNDS = 40
MAX_TIMING_GAP = 0.25  # known and unknown medians within 25 % of each other

# Part 7: rounds before the measured ones (the first creates every user and membership).
INTERACTION_WARMUP_ROUNDS = 2

# Part 8: one hub of 10,000 members; searches that find a few or many (folded names).
DIRECTORY_MEMBERS = 10_000
DIRECTORY_WARMUP = 20  # rounds before the measured ones
DIRECTORY_SEARCHES = ("müller", "STRASSE", "ольга", "zoë", "ann", "kraft 7", "max", "#4711")

# Part 9: 1,000,000 ledger rows over the 10,000 members of part 8's hub.
POINTS_LEDGER = 1_000_000
MAX_POINTS_READ_P99_MS = 20.0  # points/rank of a member, the profile, a month leaderboard
MIN_GRANTS_PER_S = 300.0  # PostgreSQL only
GRANT_CLIENTS = 32
GRANT_WORKERS = 2  # web processes of the second grant load (one per core of the bench machine)
HOT_MEMBERS = 10  # a quarter of the grants go to these, the rest to anyone
HOT_SHARE = 0.25
GRANT_KINDS = ("manual", "distance", "event", "challenge", "bonus")
QUERY_LOG_ROUNDS = 20  # requests per case with the statement log on
LEDGER_TABLE = "point_entries"

# wrk prints its own report; this adds one machine-readable line with exact percentiles.
WRK_REPORT_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %.0f, "duration_us": %.0f, "bytes": %.0f, '
    .. '"errors": {"connect": %.0f, "read": %.0f, "write": %.0f, "status": %.0f, '
    .. '"timeout": %.0f}, "latency_us": {"mean": %.1f, "p50": %.0f, "p90": %.0f, '
    .. '"p99": %.0f, "max": %.0f}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


@dataclass
class Check:
    name: str
    measured: float
    target: str
    passed: bool

    def line(self) -> str:
        return (
            f"  {'PASS' if self.passed else 'FAIL'}  {self.name}: {self.measured:g} ({self.target})"
        )


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def drivershub_exe() -> str:
    beside = Path(sys.executable).with_name("drivershub")
    found = str(beside) if beside.exists() else shutil.which("drivershub")
    if found is None:
        raise SystemExit(
            "drivershub is not installed: run `.venv/bin/pip install -e .[dev]` and start this "
            "script with .venv/bin/python"
        )
    return found


def app_env(
    tmp: Path, db_file: Path, port: int, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of a drivershub process: this run's settings only, no Discord token."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DRIVERSHUB_") and k not in ("SENTRY_DSN", "WEB_CONCURRENCY")
    }
    config = tmp / "config.toml"
    if not config.exists():
        config.write_text("# benchmark: every setting comes from the environment\n")
    env.update(
        DRIVERSHUB_CONFIG=str(config),
        DRIVERSHUB_DATA_DIR=str(tmp / "data"),
        DRIVERSHUB_DATABASE__URL=f"sqlite://{db_file}",
        DRIVERSHUB_WEB__HOST=HOST,
        DRIVERSHUB_WEB__PORT=str(port),
        DRIVERSHUB_WEB__PUBLIC_URL=f"http://{HOST}:{port}",
        # As the shipped config.toml: metrics on an internal port (any free one here).
        DRIVERSHUB_METRICS__LISTEN=f"{HOST}:0",
        DRIVERSHUB_LOGGING__LEVEL="WARNING",
        # All benchmark traffic comes from one address: the limiter still counts every request
        # (its cost is measured) but never refuses one.
        DRIVERSHUB_RATE_LIMIT__GLOBAL_LIMIT=str(10**9),
        DRIVERSHUB_RATE_LIMIT__TRACKER_LIMIT=str(10**9),
    )
    env.update(extra or {})
    return env


@contextmanager
def spawned(args: list[str], log_file: Path, env: dict[str, str] | None = None) -> Iterator[Any]:
    """Start a process with its output in `log_file`; always terminate and reap it."""
    with log_file.open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603 (our own executables, fixed arguments)
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def log_tail(log_file: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def seed(
    tmp: Path, name: str, hubs: int, *, user: bool = False, env: dict[str, str] | None = None
) -> tuple[Path, dict[str, Any]]:
    """A migrated SQLite file with `hubs` hubs (and with `user`, the benchmark user and an
    access token of a session) created through the domain; what seed.py printed."""
    db_file = tmp / f"{name}.sqlite3"
    extra = ["--user", BENCH_EMAIL, BENCH_PASSWORD] if user else []
    seeded = run_seed(f"sqlite://{db_file}", hubs, extra, app_env(tmp, db_file, 0, env), 120)
    return db_file, seeded


def run_seed(
    url: str, hubs: int, extra: list[str], env: dict[str, str], timeout: float
) -> dict[str, Any]:
    """Run seed.py on the database at `url` with `extra` options; what it printed."""
    args = [sys.executable, str(HERE / "seed.py"), url, str(hubs), *extra]
    out = subprocess.run(  # noqa: S603
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if out.returncode != 0:
        raise RuntimeError(f"seed.py failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- HTTP ------------------------------------------------------------------------------------


def http_get(
    port: int, path: str, timeout: float = 5.0, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_listeners(port: int, count: int, log_file: Path, timeout: float = READY_TIMEOUT_S) -> None:
    """Wait until `count` sockets listen on `port` (every WEB_CONCURRENCY worker): the kernel
    hands each new connection to one of the listeners there are when it arrives."""
    wanted = f"{port:04X}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if fields[1].rsplit(":", 1)[1] == wanted and fields[3] == "0A":  # LISTEN
                    found += 1
        if found >= count:
            return
        time.sleep(0.05)
    raise RuntimeError(
        f"{count} listeners on port {port} not seen; log:\n{log_file.read_text()[-2000:]}"
    )


def wait_ready(proc: subprocess.Popen[bytes], port: int, path: str, log_file: Path) -> float:
    """Poll `path` until it answers 200; return the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < READY_TIMEOUT_S:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}:\n{log_tail(log_file)}")
        try:
            if http_get(port, path, timeout=1.0)[0] == 200:
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{proc.args} not ready after {READY_TIMEOUT_S}s:\n{log_tail(log_file)}")


def rss_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of a process, in MB (1 MB = 1024 kB as the kernel counts)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = round(int(rest.split()[0]) / 1024, 1)
    return values


# --- 1. hub info throughput ------------------------------------------------------------------


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(
            "wrk is not installed. On Debian/Ubuntu: sudo apt-get update && "
            "sudo apt-get install -y wrk (macOS: brew install wrk)"
        )
    return found


def run_wrk(
    wrk: str,
    lua: Path,
    url: str,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    args = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "2s"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    args += ["-s", str(lua), url]
    out = subprocess.run(  # noqa: S603
        args, capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no report:\n{out}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    lat = raw["latency_us"]
    errors = sum(raw["errors"].values())
    return {
        "requests": int(raw["requests"]),
        "seconds": raw["duration_us"] / 1e6,
        "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": lat["p50"] / 1000,
        "p90_ms": lat["p90"] / 1000,
        "p99_ms": lat["p99"] / 1000,
        "max_ms": lat["max"] / 1000,
        "mean_ms": round(lat["mean"] / 1000, 3),
        "errors": errors,
        "error_detail": raw["errors"],
    }


def bench_throughput(tmp: Path, opts: argparse.Namespace) -> tuple[dict[str, Any], list[Check]]:
    wrk = require_wrk()
    lua = tmp / "report.lua"
    lua.write_text(WRK_REPORT_LUA)
    db_file, seeded = seed(tmp, "throughput", 1)
    (slug,) = seeded["slugs"]
    path = f"/api/v1/hubs/{slug}"
    port, bare_port = free_port(), free_port()
    app_log, bare_log = tmp / "web.log", tmp / "bare.log"
    env = app_env(tmp, db_file, port)
    print(f"\n[1] hub info throughput: wrk -t1 -c{opts.connections} -d{opts.duration:g}s {path}")
    with spawned([drivershub_exe(), "web"], app_log, env) as app:
        wait_ready(app, port, "/api/v1/ready", app_log)
        status, body = http_get(port, path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
        body_file = tmp / "hub.json"
        body_file.write_bytes(body)
        bare_cmd = [sys.executable, str(HERE / "bare_server.py"), str(bare_port), str(body_file)]
        with spawned(bare_cmd, bare_log) as bare:
            wait_ready(bare, bare_port, path, bare_log)
            if http_get(bare_port, path)[1] != body:
                raise RuntimeError("the bare server does not serve the hub's bytes")
            results = {}
            for name, target in (("drivershub", port), ("bare", bare_port)):
                url = f"http://{HOST}:{target}{path}"
                run_wrk(wrk, lua, url, opts.connections, opts.warmup)
                results[name] = run_wrk(wrk, lua, url, opts.connections, opts.duration)
    app_r, bare_r = results["drivershub"], results["bare"]
    ratio = round(app_r["rps"] / bare_r["rps"], 3)
    p99_ratio = round(app_r["p99_ms"] / bare_r["p99_ms"], 2) if bare_r["p99_ms"] else None
    print(f"  {'':14} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} errors")
    for name, r in (("drivershub web", app_r), ("bare aiohttp", bare_r)):
        print(
            f"  {name:14} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p90_ms']:8.2f} "
            f"{r['p99_ms']:8.2f} {r['max_ms']:8.2f} {r['errors']}"
        )
    print(f"  {'ratio':14} {ratio:9.2f} {'':8} {'':8} {p99_ratio or 0:8.2f}  (drivershub / bare)")
    print(f"  response: {len(body)} bytes of JSON")
    checks = [
        Check(
            "hub info req/s vs bare",
            ratio,
            f">= {MIN_THROUGHPUT_RATIO}",
            ratio >= MIN_THROUGHPUT_RATIO,
        ),
        Check(
            "hub info p99 ms", app_r["p99_ms"], f"< {MAX_P99_MS:g} ms", app_r["p99_ms"] < MAX_P99_MS
        ),
        Check("hub info errors", app_r["errors"], "== 0", app_r["errors"] == 0),
    ]
    data = {
        "path": path,
        "body_bytes": len(body),
        "connections": opts.connections,
        "duration_s": opts.duration,
        "warmup_s": opts.warmup,
        "drivershub": app_r,
        "bare": bare_r,
        "rps_ratio": ratio,
        "p99_ratio": p99_ratio,
    }
    return data, checks


# --- 2. memory -------------------------------------------------------------------------------


def fetch_all(port: int, slugs: list[str]) -> int:
    """GET every hub once (8 at a time); return how many answered 200."""

    def one(slug: str) -> int:
        return http_get(port, f"/api/v1/hubs/{slug}")[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        return sum(status == 200 for status in pool.map(one, slugs))


def measure_run(tmp: Path, hubs: int) -> dict[str, Any]:
    db_file, seeded = seed(tmp, f"memory-{hubs}", hubs)
    slugs = seeded["slugs"]
    port = free_port()
    log_file = tmp / f"run-{hubs}.log"
    with spawned([drivershub_exe(), "run"], log_file, app_env(tmp, db_file, port)) as proc:
        wait_ready(proc, port, "/api/v1/ready", log_file)
        for path in ("/api/v1/health", "/api/v1/ready", f"/api/v1/hubs/{slugs[0]}"):
            for _ in range(3):
                http_get(port, path)
        time.sleep(0.5)
        result: dict[str, Any] = {"hubs": hubs, "idle": rss_mb(proc.pid)}
        if hubs > 1:
            started = time.perf_counter()
            ok = fetch_all(port, slugs)
            result["fill_seconds"] = round(time.perf_counter() - started, 2)
            result["fill_ok"] = ok
            time.sleep(0.5)
            result["cache_filled"] = rss_mb(proc.pid)
            if ok != len(slugs):
                raise RuntimeError(f"only {ok} of {len(slugs)} hubs answered 200")
    return result


def bench_memory(tmp: Path, opts: argparse.Namespace) -> tuple[dict[str, Any], list[Check]]:
    print("\n[2] memory of `drivershub run` (no Discord token), VmRSS / VmHWM in MB")
    one = measure_run(tmp, 1)
    many = measure_run(tmp, MEMORY_HUBS)
    rows = [
        ("1 hub, idle after requests", one["idle"]),
        (f"{MEMORY_HUBS} hubs, idle after requests", many["idle"]),
        (f"{MEMORY_HUBS} hubs, after GET of every hub", many["cache_filled"]),
    ]
    print(f"  {'':40} {'VmRSS':>7} {'VmHWM':>7}")
    for name, mem in rows:
        print(f"  {name:40} {mem['VmRSS']:7.1f} {mem['VmHWM']:7.1f}")
    print(f"  ({MEMORY_HUBS} hub GETs took {many['fill_seconds']} s)")
    worst = max(many["idle"]["VmRSS"], many["cache_filled"]["VmRSS"])
    checks = [
        Check(
            f"RSS MB with {MEMORY_HUBS} hubs",
            worst,
            f"< {MAX_RSS_1000_HUBS_MB:g} MB",
            worst < MAX_RSS_1000_HUBS_MB,
        )
    ]
    return {"one_hub": one, "many_hubs": many}, checks


# --- 3. cold start ---------------------------------------------------------------------------


def bench_cold_start(tmp: Path, opts: argparse.Namespace) -> tuple[dict[str, Any], list[Check]]:
    print("\n[3] cold start: spawn `drivershub run` on a fresh SQLite file -> first 200 /ready")
    times = []
    for i in range(opts.runs):
        db_file = tmp / f"cold-{i}.sqlite3"
        port = free_port()
        log_file = tmp / f"cold-{i}.log"
        env = app_env(tmp, db_file, port)
        started = time.perf_counter()
        with spawned([drivershub_exe(), "run"], log_file, env) as proc:
            wait_ready(proc, port, "/api/v1/ready", log_file)
            times.append(round(time.perf_counter() - started, 3))
        if not db_file.exists():
            raise RuntimeError("the database file was not created")
    median = round(statistics.median(times), 3)
    print(f"  runs (s): {', '.join(f'{t:.3f}' for t in times)}")
    print(f"  median {median:.3f} s, min {min(times):.3f} s, max {max(times):.3f} s")
    checks = [
        Check(
            "cold start median s", median, f"< {MAX_COLD_START_S:g} s", median < MAX_COLD_START_S
        ),
    ]
    return {"runs_s": times, "median_s": median}, checks


# --- 4. authenticated GET /users/@me vs hub info ---------------------------------------------


def combine_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several wrk runs of one URL as one: req/s over all of them, the worst percentiles."""
    requests = sum(r["requests"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    return {
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(requests / seconds, 1),
        **{k: max(r[k] for r in runs) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")},
        "errors": sum(r["errors"] for r in runs),
        "runs": runs,
    }


def bench_auth_me(tmp: Path, opts: argparse.Namespace) -> tuple[dict[str, Any], list[Check]]:
    wrk = require_wrk()
    lua = tmp / "report.lua"
    lua.write_text(WRK_REPORT_LUA)
    db_file, seeded = seed(tmp, "auth-me", 1, user=True, env=AUTH_ENV)
    me_path, hub_path = "/api/v1/users/@me", f"/api/v1/hubs/{seeded['slugs'][0]}"
    auth = {"Authorization": f"Bearer {seeded['access_token']}"}
    port = free_port()
    log_file = tmp / "web-auth-me.log"
    half = opts.duration / 2
    print(
        f"\n[4] GET {me_path} (bearer token) vs GET {hub_path} on one `drivershub web`:"
        f" wrk -t1 -c{opts.connections}, {opts.warmup:g} s warm-up each, then {half:g} s runs"
        " in the order @me, hub, hub, @me"
    )
    env = app_env(tmp, db_file, port, AUTH_ENV)
    with spawned([drivershub_exe(), "web"], log_file, env) as app:
        wait_ready(app, port, "/api/v1/ready", log_file)
        targets = {"users_me": (me_path, auth), "hub_info": (hub_path, None)}
        sizes = {}
        for name, (path, headers) in targets.items():
            status, body = http_get(port, path, headers=headers)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
            sizes[name] = len(body)
        urls = {name: f"http://{HOST}:{port}{path}" for name, (path, _) in targets.items()}
        for name, (_, headers) in targets.items():
            run_wrk(wrk, lua, urls[name], opts.connections, opts.warmup, headers)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        # ABBA: a drift of the machine's speed during the part hits both endpoints alike.
        for name in ("users_me", "hub_info", "hub_info", "users_me"):
            headers = targets[name][1]
            runs[name].append(run_wrk(wrk, lua, urls[name], opts.connections, half, headers))
    me_r, hub_r = combine_runs(runs["users_me"]), combine_runs(runs["hub_info"])
    ratio = round(me_r["rps"] / hub_r["rps"], 3)
    print(f"  {'':14} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} errors")
    for name, r in (("users/@me", me_r), ("hub info", hub_r)):
        print(
            f"  {name:14} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p90_ms']:8.2f} "
            f"{r['p99_ms']:8.2f} {r['max_ms']:8.2f} {r['errors']}"
        )
    print(f"  {'ratio':14} {ratio:9.2f}  (users/@me / hub info; percentiles: worse of the 2 runs)")
    print(
        f"  responses: {sizes['users_me']} bytes (@me), {sizes['hub_info']} bytes (hub);"
        f" access token valid {seeded['expires_in']} s"
    )
    errors = me_r["errors"] + hub_r["errors"]
    checks = [
        Check(
            "users/@me req/s vs hub info",
            ratio,
            f">= {MIN_AUTH_ME_RATIO}",
            ratio >= MIN_AUTH_ME_RATIO,
        ),
        Check("users/@me + hub info errors", errors, "== 0", errors == 0),
    ]
    data = {
        "paths": {"users_me": me_path, "hub_info": hub_path},
        "body_bytes": sizes,
        "connections": opts.connections,
        "run_s": half,
        "warmup_s": opts.warmup,
        "users_me": me_r,
        "hub_info": hub_r,
        "rps_ratio": ratio,
    }
    return data, checks


# --- 5. password logins vs event loop latency ------------------------------------------------


def nearest_rank(ordered: list[float], p: float) -> float:
    """The p-th percentile of sorted samples, by nearest rank (always a measured value)."""
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 2)


def percentiles(samples: list[float]) -> dict[str, Any]:
    """Nearest-rank percentiles of latencies in ms."""
    if not samples:
        return {"samples": 0, "p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return nearest_rank(ordered, p)

    return {
        "samples": len(ordered),
        "p50_ms": rank(50),
        "p90_ms": rank(90),
        "p99_ms": rank(99),
        "max_ms": round(ordered[-1], 2),
    }


class HealthProbe(threading.Thread):
    """GET /api/v1/health about every HEALTH_INTERVAL_S on one keep-alive connection.

    A thread with a blocking socket, so the figures are the server's, not another event
    loop's. Stops when told to or after `limit_s`, whichever comes first.
    """

    def __init__(self, port: int, limit_s: float) -> None:
        super().__init__(name="health-probe", daemon=True)
        self.port = port
        self.limit_s = limit_s
        self.stopping = threading.Event()
        self.samples: list[float] = []
        self.failures = 0

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        deadline = time.perf_counter() + self.limit_s
        next_at = time.perf_counter()
        while not self.stopping.is_set() and time.perf_counter() < deadline:
            if conn is None:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
            started = time.perf_counter()
            try:
                conn.request("GET", "/api/v1/health")
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = None
            if ok:
                self.samples.append((time.perf_counter() - started) * 1000)
            else:
                self.failures += 1
            next_at = max(next_at + HEALTH_INTERVAL_S, time.perf_counter())
            self.stopping.wait(max(0.0, next_at - time.perf_counter()))
        if conn is not None:
            conn.close()

    def result(self) -> dict[str, Any]:
        return {**percentiles(self.samples), "failures": self.failures}


@contextmanager
def probing(port: int, limit_s: float) -> Iterator[HealthProbe]:
    probe = HealthProbe(port, limit_s)
    probe.start()
    try:
        yield probe
    finally:
        probe.stopping.set()
        probe.join(timeout=10)


def login_outcome(status: int, body: bytes) -> str:
    """ "ok" for 200 with tokens, else the status (and error code) the server answered."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return str(status)
    if status == 200 and data.get("access_token") and data.get("refresh_token"):
        return "ok"
    return f"{status} {data.get('code') or data.get('type') or ''}".strip()


async def login_load(port: int, clients: int, seconds: float) -> dict[str, Any]:
    """`clients` clients, each logging in again as soon as its last login answered, until
    `seconds` are over (each logs in at least once; every request times out after 30 s)."""
    url = f"http://{HOST}:{port}/api/v1/auth/login"
    body = {"email": BENCH_EMAIL, "password": BENCH_PASSWORD}
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=clients)
    started = time.perf_counter()
    deadline = started + seconds
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client() -> None:
            while True:  # at least one login each, then again until the deadline
                sent = time.perf_counter()
                try:
                    async with session.post(url, json=body) as response:
                        outcome = login_outcome(response.status, await response.read())
                except (aiohttp.ClientError, TimeoutError) as exc:
                    outcome = type(exc).__name__
                latencies.append((time.perf_counter() - sent) * 1000)
                outcomes[outcome] += 1
                if time.perf_counter() >= deadline:
                    break

        await asyncio.wait_for(
            asyncio.gather(*(client() for _ in range(clients))), timeout=seconds + 60
        )
    elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "seconds": round(elapsed, 3),
        "attempts": sum(outcomes.values()),
        "ok": outcomes["ok"],
        "logins_per_s": round(outcomes["ok"] / elapsed, 1),
        "outcomes": dict(outcomes),
        "latency": percentiles(latencies),
    }


def bench_logins(tmp: Path, opts: argparse.Namespace) -> tuple[dict[str, Any], list[Check]]:
    db_file, _ = seed(tmp, "logins", 0, user=True, env=AUTH_ENV)
    port = free_port()
    log_file = tmp / "web-logins.log"
    print(
        f"\n[5] {LOGIN_CLIENTS} concurrent password logins (POST /api/v1/auth/login) for"
        f" {opts.duration:g} s on one `drivershub web`, GET /api/v1/health every"
        f" {HEALTH_INTERVAL_S * 1000:g} ms"
    )
    env = app_env(tmp, db_file, port, AUTH_ENV)
    with spawned([drivershub_exe(), "web"], log_file, env) as app:
        wait_ready(app, port, "/api/v1/ready", log_file)
        # One login first: the account works, and argon2's first call is not in the figures.
        first = asyncio.run(login_load(port, 1, 0))
        if first["ok"] != 1:
            raise RuntimeError(f"the benchmark user cannot log in: {first['outcomes']}")
        with probing(port, opts.warmup + 10) as idle:
            time.sleep(opts.warmup)
        with probing(port, opts.duration + 70) as loaded:
            logins = asyncio.run(login_load(port, LOGIN_CLIENTS, opts.duration))
        memory = rss_mb(app.pid)  # argon2 takes 64 MiB per hash being computed
    health_idle, health_loaded = idle.result(), loaded.result()
    print(
        f"  {'GET /health':22} {'samples':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}"
        f" {'max ms':>8} failed"
    )
    for name, r in ((f"idle ({opts.warmup:g} s)", health_idle), ("during logins", health_loaded)):
        if not r["samples"]:
            print(f"  {name:22} {0:8} {'-':>8} {'-':>8} {'-':>8} {'-':>8} {r['failures']}")
            continue
        print(
            f"  {name:22} {r['samples']:8} {r['p50_ms']:8.2f} {r['p90_ms']:8.2f} "
            f"{r['p99_ms']:8.2f} {r['max_ms']:8.2f} {r['failures']}"
        )
    lat = logins["latency"]
    success = logins["ok"] / logins["attempts"] if logins["attempts"] else 0.0
    print(
        f"  logins: {logins['ok']} of {logins['attempts']} answered 200 with tokens in"
        f" {logins['seconds']:.1f} s = {logins['logins_per_s']:.1f} logins/s;"
        f" login latency p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms"
    )
    print(f"  server memory: VmRSS {memory['VmRSS']} MB now, VmHWM {memory['VmHWM']} MB peak")
    others = {k: v for k, v in logins["outcomes"].items() if k != "ok"}
    if others:
        print(f"  other answers: {others}")
    p99 = health_loaded["p99_ms"] if health_loaded["p99_ms"] is not None else math.inf
    health_ok = p99 < MAX_HEALTH_P99_UNDER_LOGINS_MS and health_loaded["failures"] == 0
    checks = [
        Check(
            "health p99 ms during logins",
            p99,
            f"< {MAX_HEALTH_P99_UNDER_LOGINS_MS:g} ms, no failed probe",
            health_ok,
        ),
        Check(
            "logins answered 200 (share)",
            round(success, 3),
            f">= {MIN_LOGIN_SUCCESS}",
            success >= MIN_LOGIN_SUCCESS,
        ),
    ]
    data = {
        "clients": LOGIN_CLIENTS,
        "duration_s": opts.duration,
        "health_interval_ms": HEALTH_INTERVAL_S * 1000,
        "health_idle": health_idle,
        "health_during_logins": health_loaded,
        "logins": logins,
        "server_memory_mb": memory,
    }
    return data, checks


# --- 6. known vs unknown accounts: the answer time tells nothing -----------------------------


class JsonPoster:
    """Sequential POSTs of JSON on one keep-alive connection; latency in ms per request.

    A blocking client with one request in flight, so each figure is the server's time for that
    request alone, not a queue behind other requests.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: dict[str, str]) -> tuple[int, float]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        data = json.dumps(body).encode()
        started = time.perf_counter()
        try:
            self.conn.request("POST", path, body=data, headers=JSON_HEADERS)
            response = self.conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            return 0, (time.perf_counter() - started) * 1000
        return response.status, (time.perf_counter() - started) * 1000

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def timing_cases() -> dict[str, tuple[str, dict[str, str], int]]:
    """name -> (path, body, expected status): each pair differs only in the account's existence."""
    reset, login = "/api/v1/auth/password-reset", "/api/v1/auth/login"
    return {
        "reset_known": (reset, {"email": BENCH_EMAIL}, 202),
        "reset_unknown": (reset, {"email": UNKNOWN_EMAIL}, 202),
        "login_wrong_password": (login, {"email": BENCH_EMAIL, "password": WRONG_PASSWORD}, 401),
        "login_unknown": (login, {"email": UNKNOWN_EMAIL, "password": WRONG_PASSWORD}, 401),
    }


def timing_order(round_no: int) -> list[str]:
    """Reset pair, then login pair; the known account goes first in every other round, so a
    drift of the machine's speed (or a cache warmed by the previous request) hits both alike."""
    pairs = (("reset_known", "reset_unknown"), ("login_wrong_password", "login_unknown"))
    return [name for pair in pairs for name in (pair if round_no % 2 == 0 else pair[::-1])]


def measure_timing(port: int, rounds: int) -> tuple[dict[str, list[float]], Counter[str]]:
    """`rounds` interleaved requests of each case; latencies, and answers not as expected."""
    cases = timing_cases()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    unexpected: Counter[str] = Counter()
    poster = JsonPoster(port)
    try:
        for round_no in range(rounds):
            for name in timing_order(round_no):
                path, body, expected = cases[name]
                status, ms = poster.post(path, body)
                samples[name].append(ms)
                if status != expected:
                    unexpected[f"{name}: {status}"] += 1
    finally:
        poster.close()
    return samples, unexpected


def timing_pair(known: list[float], unknown: list[float]) -> dict[str, Any]:
    """The medians of a pair and how far apart they are (larger / smaller)."""
    k, u = statistics.median(known), statistics.median(unknown)
    ratio = round(max(k, u) / min(k, u), 3) if min(k, u) > 0 else math.inf
    return {
        "known": percentiles(known),
        "unknown": percentiles(unknown),
        "known_median_ms": round(k, 3),
        "unknown_median_ms": round(u, 3),
        "ratio": ratio,
    }


def bench_reset_timing(tmp: Path, opts: argparse.Namespace) -> tuple[dict[str, Any], list[Check]]:
    db_file, _ = seed(tmp, "reset-timing", 0, user=True, env=AUTH_ENV)
    port = free_port()
    log_file = tmp / "web-reset-timing.log"
    print(
        f"\n[6] known vs unknown address on one `drivershub web`: POST /api/v1/auth/password-reset"
        f" and POST /api/v1/auth/login (wrong password), {TIMING_WARMUP} warm-up +"
        f" {TIMING_ROUNDS} sequential requests each, interleaved"
    )
    env = app_env(tmp, db_file, port, AUTH_ENV)
    with spawned([drivershub_exe(), "web"], log_file, env) as app:
        wait_ready(app, port, "/api/v1/ready", log_file)
        _, warmup_unexpected = measure_timing(port, TIMING_WARMUP)
        samples, unexpected = measure_timing(port, TIMING_ROUNDS)
    unexpected += warmup_unexpected
    pairs = {
        "password_reset": timing_pair(samples["reset_known"], samples["reset_unknown"]),
        "login": timing_pair(samples["login_wrong_password"], samples["login_unknown"]),
    }
    print(
        f"  {'':30} {'known p50':>10} {'unknown p50':>12} {'known p90':>10} {'unknown p90':>12}"
        f" {'ratio':>6}"
    )
    labels = {"password_reset": "password reset", "login": "login, wrong password"}
    for name, pair in pairs.items():
        print(
            f"  {labels[name]:30} {pair['known_median_ms']:10.2f} {pair['unknown_median_ms']:12.2f}"
            f" {pair['known']['p90_ms']:10.2f} {pair['unknown']['p90_ms']:12.2f}"
            f" {pair['ratio']:6.3f}"
        )
    print("  (ms; ratio = larger median / smaller median)")
    if unexpected:
        print(f"  unexpected answers: {dict(unexpected)}")
    checks = [
        Check(
            f"{labels[name]}: known vs unknown median",
            pair["ratio"],
            f"<= {1 + MAX_TIMING_GAP:g} (within {MAX_TIMING_GAP:.0%})",
            pair["ratio"] <= 1 + MAX_TIMING_GAP,
        )
        for name, pair in pairs.items()
    ]
    total = sum(unexpected.values())
    checks.append(Check("reset/login unexpected answers", total, "== 0", total == 0))
    data = {
        "rounds": TIMING_ROUNDS,
        "warmup_rounds": TIMING_WARMUP,
        "unknown_email": UNKNOWN_EMAIL,
        **pairs,
        "unexpected": dict(unexpected),
    }
    return data, checks


# --- 7. slash-command answers under concurrent users ----------------------------------------


def run_interactions(tmp: Path, opts: argparse.Namespace) -> dict[str, Any]:
    """interactions.py in its own process (the emulator; in-process also the whole app, with its
    own Tortoise and event loop), which starts `drivershub run`; what it printed."""
    db_file = tmp / "interactions.sqlite3"
    log_file = tmp / "interactions.log"
    env = app_env(tmp, db_file, 0, {"DRIVERSHUB_METRICS__LISTEN": ""})
    args = [sys.executable, "-m", "tests.benchmarks.interactions"]
    args += ["--members", str(opts.members), "--rounds", str(opts.rounds)]
    args += ["--warmup-rounds", str(INTERACTION_WARMUP_ROUNDS)]
    if opts.in_process:
        args.append("--in-process")
    else:
        args += ["--bot-log", str(tmp / "interactions-bot.log")]
    if opts.bot_profile:
        args += ["--bot-profile", str(opts.bot_profile.resolve())]
    rounds = opts.rounds + INTERACTION_WARMUP_ROUNDS
    with log_file.open("ab") as log:
        out = subprocess.run(  # noqa: S603 (our own module, fixed arguments)
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, timeout=120 + 15 * rounds
        )
    if out.returncode != 0:
        raise RuntimeError(f"interactions.py failed ({out.returncode}):\n{log_tail(log_file)}")
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def bench_interactions(tmp: Path, opts: argparse.Namespace) -> tuple[dict[str, Any], list[Check]]:
    where = (
        "the emulator and the whole app (bot, API, workers) in one process and event loop"
        if opts.in_process
        else "the emulator in one process, the bot as deployed (`drivershub run`) in another"
    )
    print(
        f"\n[7] /hub info answer latency: {opts.members} members of one guild run it at once,"
        f" {INTERACTION_WARMUP_ROUNDS} warm-up + {opts.rounds} measured rounds; {where}, SQLite"
    )
    raw = run_interactions(tmp, opts)
    samples = raw["latencies_ms"]
    latency = percentiles(samples)
    if samples:
        latency["p95_ms"] = nearest_rank(sorted(samples), 95)
    bot = raw.get("bot")
    log_problems = bot["log_problems"] if bot else []
    problems = (
        len(raw["failures"]) + len(raw["emulator_errors"]) + raw["rate_limited"] + len(log_problems)
    )
    print(f"  {'interactions':>12} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} failed")
    print(
        f"  {latency['samples']:12} {latency['p50_ms'] or 0:8.2f} {latency.get('p95_ms', 0):8.2f}"
        f" {latency['p99_ms'] or 0:8.2f} {latency['max_ms'] or 0:8.2f} {len(raw['failures'])}"
    )
    print(f"  slowest answer per round (ms): {', '.join(f'{x:.0f}' for x in raw['round_max_ms'])}")
    if raw["seconds"]:
        print(f"  {len(samples) / raw['seconds']:.0f} answers/s over the measured rounds")
    if bot:
        memory = bot["memory_mb"]
        print(
            f"  bot process: VmRSS {memory['VmRSS']:.1f} MB, peak (VmHWM) {memory['VmHWM']:.1f} MB;"
            f" CPU {bot['cpu_s']:.2f} s in the measured rounds = {bot['cpu_ms_per_answer']} ms"
            f" per answer; ready {bot['ready_s']:.1f} s after the spawn"
        )
    print(
        f"  emulator process CPU in the measured rounds: {raw['this_process_cpu_s']:.2f} s"
        + (" (bot included)" if opts.in_process else "")
        + f"; load average after: {' '.join(f'{x:.2f}' for x in raw['loadavg_after'])}"
    )
    for problem in (raw["failures"] + raw["emulator_errors"] + log_problems)[:5]:
        print(f"  problem: {problem}")
    p99 = latency["p99_ms"] if latency["p99_ms"] is not None else math.inf
    checks = [
        Check(
            "interaction answer p99 ms",
            p99,
            f"<= {MAX_INTERACTION_P99_MS:g} ms",
            p99 <= MAX_INTERACTION_P99_MS,
        ),
        Check(
            "interaction failures, emulator errors, 429s, bot log errors",
            problems,
            "== 0",
            problems == 0,
        ),
    ]
    data = {**{k: v for k, v in raw.items() if k != "latencies_ms"}, "latency": latency}
    data["latencies_ms"] = samples
    return data, checks


# --- 8. the member directory of a large hub ---------------------------------------------------


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database on the server of `admin_url` (dropped at the end)."""
    import asyncpg

    parts = urlsplit(admin_url)
    name = f"drivershub_bench_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(parts._replace(scheme="postgres", path=f"/{name}"))
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def redis_namespace(url: str | None) -> Iterator[dict[str, str]]:
    """The cache settings of a run: Redis under a namespace of its own (its keys are deleted
    at the end), or the memory cache without `url`."""
    if url is None:
        yield {}
        return
    namespace = f"drivershub-bench-{uuid.uuid4().hex[:8]}"
    try:
        yield {"DRIVERSHUB_CACHE__URL": url, "DRIVERSHUB_CACHE__NAMESPACE": namespace}
    finally:
        import redis

        client = redis.Redis.from_url(url)
        try:
            keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


class Getter:
    """Sequential GETs on one keep-alive connection; (status, body, ms) per request.

    One request in flight, so each figure is the server's time for that request alone.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str, token: str) -> tuple[int, bytes, float]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        started = time.perf_counter()
        try:
            headers = {"Authorization": f"Bearer {token}"} if token else {}  # "": no login
            self.conn.request("GET", path, headers=headers)
            response = self.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            return 0, b"", (time.perf_counter() - started) * 1000
        return response.status, body, (time.perf_counter() - started) * 1000

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def walk_directory(getter: Getter, base: str, token: str) -> tuple[list[str], int, int]:
    """Every page of the default directory (100 a page): the cursors, the members listed and
    how many of them were listed twice."""
    cursors: list[str] = []
    seen: set[int] = set()
    listed = 0
    cursor = None
    while True:
        path = f"{base}/members?limit=100" + (f"&cursor={cursor}" if cursor else "")
        status, body, _ = getter.get(path, token)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
        page = json.loads(body)
        listed += len(page["items"])
        seen.update(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return cursors, len(seen), listed - len(seen)
        cursors.append(cursor)


def directory_cases(
    base: str, seeded: dict[str, Any], deep: list[str]
) -> dict[str, tuple[list[str], str, float]]:
    """name -> (the paths requested in turn, the reader's token, the p99 target in ms)."""
    member, staff = seeded["tokens"]["member"], seeded["tokens"]["staff"]
    profiles = [f"{base}/members/{member_id}" for member_id in seeded["sample_ids"]]
    page = f"{base}/members?limit=20"
    return {
        "directory, first page": ([page], member, MAX_DIRECTORY_P99_MS),
        "directory, name search": (
            [f"{page}&q={quote(q)}" for q in DIRECTORY_SEARCHES],
            member,
            MAX_DIRECTORY_P99_MS,
        ),
        "directory, deep page": (
            [f"{page}&cursor={cursor}" for cursor in deep],
            member,
            MAX_DIRECTORY_P99_MS,
        ),
        "directory, sort -joined": ([f"{page}&sort=-joined"], member, MAX_DIRECTORY_P99_MS),
        "profile": (profiles, member, MAX_PROFILE_P99_MS),
        "profile, as staff": (profiles, staff, MAX_PROFILE_P99_MS),
    }


def measure_directory(
    port: int, cases: dict[str, tuple[list[str], str, float]], warmup: int, rounds: int
) -> tuple[dict[str, list[float]], Counter[str]]:
    """Interleaved rounds, one request of every case each; latencies and unexpected answers."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    unexpected: Counter[str] = Counter()
    names = list(cases)
    getter = Getter(port)
    try:
        for round_no in range(warmup + rounds):
            # A rotating order: a drift of the machine's speed hits every case alike.
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                paths, token, _ = cases[name]
                status, body, ms = getter.get(paths[round_no % len(paths)], token)
                if status != 200 or not body.startswith(b"{"):
                    unexpected[f"{name}: {status}"] += 1
                if round_no >= warmup:
                    samples[name].append(ms)
    finally:
        getter.close()
    return samples, unexpected


def members_run(tmp: Path, backend: str, env: dict[str, str], rounds: int) -> dict[str, Any]:
    """Seed one hub of DIRECTORY_MEMBERS on `backend` and measure every case over HTTP."""
    url = env["DRIVERSHUB_DATABASE__URL"]
    started = time.perf_counter()
    seeded = run_seed(url, 1, ["--members", str(DIRECTORY_MEMBERS)], env, 600)
    seed_s = round(time.perf_counter() - started, 1)
    members = seeded["members"]
    base = f"/api/v1/hubs/{seeded['slugs'][0]}"
    log_file = tmp / f"web-members-{backend}.log"
    with spawned([drivershub_exe(), "web"], log_file, env) as app:
        wait_ready(app, int(env["DRIVERSHUB_WEB__PORT"]), "/api/v1/ready", log_file)
        port = int(env["DRIVERSHUB_WEB__PORT"])
        getter = Getter(port)
        try:
            cursors, walked, repeated = walk_directory(getter, base, members["tokens"]["member"])
        finally:
            getter.close()
        deep = cursors[len(cursors) // 2 :]  # pages past the 5,000th member
        cases = directory_cases(base, members, deep)
        samples, unexpected = measure_directory(port, cases, DIRECTORY_WARMUP, rounds)
        memory = rss_mb(app.pid)
    results = {}
    for name, latencies in samples.items():
        results[name] = percentiles(latencies)
        results[name]["p95_ms"] = nearest_rank(sorted(latencies), 95)
        results[name]["target_p99_ms"] = cases[name][2]
    return {
        "backend": backend,
        "seed_s": seed_s,
        "members": members["members"],
        "rows": members["rows"],
        "walk": {"pages": len(cursors) + 1, "listed": walked, "repeated": repeated},
        "cases": results,
        "unexpected": dict(unexpected),
        "server_memory_mb": memory,
    }


def bench_members(tmp: Path, opts: argparse.Namespace) -> tuple[dict[str, Any], list[Check]]:
    where = "SQLite" + (" and PostgreSQL" if opts.postgres else "")
    print(
        f"\n[8] member directory and profiles of one hub with {DIRECTORY_MEMBERS:,} members"
        f" ({where}): {DIRECTORY_WARMUP} warm-up + {opts.samples} measured rounds of"
        " sequential GETs on one keep-alive connection, every case once a round"
    )
    runs = {
        "sqlite": members_run(
            tmp, "sqlite", app_env(tmp, tmp / "members.sqlite3", free_port()), opts.samples
        )
    }
    if opts.postgres:
        with postgres_database(opts.postgres) as url, redis_namespace(opts.redis) as cache:
            backend = "postgres+redis" if opts.redis else "postgres"
            extra = {"DRIVERSHUB_DATABASE__URL": url, **cache}
            env = app_env(tmp, tmp / "unused.sqlite3", free_port(), extra)
            runs[backend] = members_run(tmp, backend, env, opts.samples)
    checks = []
    for backend, run in runs.items():
        walk = run["walk"]
        print(
            f"  {backend}: seeded in {run['seed_s']} s ({run['rows']:,} rows, {run['members']:,}"
            f" members); the walk of all {walk['pages']} pages listed {walk['listed']:,}"
            f" members, {walk['repeated']} twice; server VmRSS {run['server_memory_mb']['VmRSS']}"
            " MB"
        )
        print(f"  {'':28} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'target':>8}")
        for name, r in run["cases"].items():
            print(
                f"  {name:28} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} {r['p99_ms']:8.2f}"
                f" {r['max_ms']:8.2f} {r['target_p99_ms']:8g}"
            )
            checks.append(
                Check(
                    f"{backend}: {name} p99 ms",
                    r["p99_ms"],
                    f"<= {r['target_p99_ms']:g} ms",
                    r["p99_ms"] <= r["target_p99_ms"],
                )
            )
        if run["unexpected"]:
            print(f"  unexpected answers: {run['unexpected']}")
        problems = sum(run["unexpected"].values()) + walk["repeated"]
        problems += abs(walk["listed"] - run["members"])
        checks.append(
            Check(
                f"{backend}: unexpected answers, members missed or repeated by the walk",
                problems,
                "== 0",
                problems == 0,
            )
        )
    return {"members": DIRECTORY_MEMBERS, "rounds": opts.samples, "runs": runs}, checks


# --- 9. points: reads of kept totals, leaderboards, concurrent grants --------------------------


def points_cases(
    base: str, seeded: dict[str, Any]
) -> dict[str, tuple[list[str], str, float | None]]:
    """name -> (the paths requested in turn, the reader's token, the p99 target in ms or None
    for a figure without a target)."""
    member = seeded["members"]["tokens"]["member"]
    ids = seeded["members"]["sample_ids"]
    today = datetime.fromisoformat(seeded["points"]["today"]).date()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    board = f"{base}/leaderboard?period=month"
    return {
        "points + rank of a member": (
            [f"{base}/members/{i}/points" for i in ids],
            member,
            MAX_POINTS_READ_P99_MS,
        ),
        "profile": ([f"{base}/members/{i}" for i in ids], member, MAX_POINTS_READ_P99_MS),
        "leaderboard, month, distance": (
            [f"{board}&kinds=distance"],
            member,
            MAX_POINTS_READ_P99_MS,
        ),
        "leaderboard, last month, distance": (
            [f"{board}&kinds=distance&at={last_month.isoformat()}"],
            member,
            MAX_POINTS_READ_P99_MS,
        ),
        "leaderboard, last month, all": (
            [f"{board}&at={last_month.isoformat()}"],
            member,
            None,
        ),
        "leaderboard, last month, 2 kinds": (
            [f"{board}&kinds=event,challenge&at={last_month.isoformat()}"],
            member,
            None,
        ),
    }


def query_log_pass(
    port: int, cases: dict[str, tuple[list[str], str, float | None]], log: Path
) -> dict[str, Any]:
    """QUERY_LOG_ROUNDS requests of every case on the server that logs its statements: the
    statements each request ran (the file's growth while it was answered), how many, and any
    that name the ledger table."""
    spans: dict[str, list[tuple[int, int, int]]] = {name: [] for name in cases}
    getter = Getter(port)
    try:
        for round_no in range(QUERY_LOG_ROUNDS):
            for name, (paths, token, _) in cases.items():
                before = log.stat().st_size
                status, _, _ = getter.get(paths[round_no % len(paths)], token)
                spans[name].append((before, log.stat().st_size, status))
    finally:
        getter.close()
    text = log.read_bytes()
    result = {}
    for name, ranges in spans.items():
        counts, ledger, tables = [], [], set()
        for start, end, status in ranges:
            lines = text[start:end].decode("utf-8", "replace").splitlines()
            statements = [line for line in lines if line.strip()]
            counts.append(len(statements))
            ledger += [line[:300] for line in statements if LEDGER_TABLE in line]
            for line in statements:
                tables.update(t for t in ("point_totals", "point_periods", "ranks") if t in line)
            if status != 200:
                ledger.append(f"answered {status}")
        result[name] = {
            "requests": len(ranges),
            "statements_per_request": {"min": min(counts), "max": max(counts)},
            "ledger_statements": len(ledger),
            "ledger_examples": ledger[:3],
            "points_tables_read": sorted(tables),
        }
    return result


async def grant_load(
    port: int, base: str, token: str, member_ids: list[int], seconds: float
) -> dict[str, Any]:
    """GRANT_CLIENTS clients POST grants for `seconds`, each granting again as soon as it
    has an answer: a quarter to HOT_MEMBERS members, the rest to any member."""
    import random

    rng = random.Random(9)
    hot = member_ids[:HOT_MEMBERS]
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    granted = {"amount": 0}
    headers = {"Authorization": f"Bearer {token}", **JSON_HEADERS}
    connector = aiohttp.TCPConnector(limit=GRANT_CLIENTS)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < deadline:
                member = rng.choice(hot) if rng.random() < HOT_SHARE else rng.choice(member_ids)
                body = {
                    "amount": rng.randint(1, 500),
                    "kind": rng.choice(GRANT_KINDS),
                    "reason": "Benchmark grant",
                }
                started = time.perf_counter()
                async with session.post(
                    f"http://{HOST}:{port}{base}/members/{member}/points",
                    json=body,
                    headers=headers,
                ) as response:
                    answer = await response.read()
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status == 201:
                    statuses["201"] += 1
                    granted["amount"] += body["amount"]
                else:
                    statuses[f"{response.status} {answer[:120]!r}"] += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(GRANT_CLIENTS)))
        elapsed = time.perf_counter() - started
    return {
        "clients": GRANT_CLIENTS,
        "seconds": round(elapsed, 2),
        "granted": statuses["201"],
        "granted_points": granted["amount"],
        "grants_per_s": round(statuses["201"] / elapsed, 1),
        "statuses": dict(statuses),
        "latency": percentiles(latencies),
    }


CONSISTENCY_SQL = {
    # members whose overall total is not the sum of their ledger rows
    "members": (
        "SELECT COUNT(*) FROM members m LEFT JOIN (SELECT member_id, SUM(amount) AS s"
        " FROM point_entries WHERE hub_id = {hub} GROUP BY member_id) e ON e.member_id = m.id"
        " WHERE m.hub_id = {hub} AND m.points <> COALESCE(e.s, 0)"
    ),
    # (member, kind) whose total is not the sum of those rows, or a total without rows
    "member_kinds": (
        "SELECT COUNT(*) FROM (SELECT member_id, kind, SUM(amount) AS s FROM point_entries"
        " WHERE hub_id = {hub} GROUP BY member_id, kind) e LEFT JOIN point_totals t"
        " ON t.member_id = e.member_id AND t.kind = e.kind WHERE COALESCE(t.total, 0) <> e.s"
    ),
    "orphan_totals": (
        "SELECT COUNT(*) FROM point_totals t JOIN members m ON m.id = t.member_id"
        " WHERE m.hub_id = {hub} AND t.total <> 0 AND NOT EXISTS (SELECT 1 FROM point_entries"
        " e WHERE e.member_id = t.member_id AND e.kind = t.kind)"
    ),
    "entries": "SELECT COUNT(*) FROM point_entries WHERE hub_id = {hub}",
}
LEDGER_BY_KIND = "SELECT kind, SUM(amount) FROM point_entries WHERE hub_id = {hub} GROUP BY kind"
TOTALS_BY_KIND = (
    "SELECT t.kind, SUM(t.total) FROM point_totals t JOIN members m ON m.id = t.member_id"
    " WHERE m.hub_id = {hub} GROUP BY t.kind"
)
PERIODS_BY_KIND = (
    "SELECT period, kind, SUM(amount) FROM point_periods WHERE hub_id = {hub} GROUP BY period, kind"
)


def run_sql(url: str, statements: list[str]) -> list[list[tuple[Any, ...]]]:
    """Rows of each statement, straight from the database (not through the app)."""
    if url.startswith("sqlite://"):
        import sqlite3

        db = sqlite3.connect(url.removeprefix("sqlite://"))
        try:
            return [db.execute(sql).fetchall() for sql in statements]
        finally:
            db.close()
    import asyncpg

    async def run() -> list[list[tuple[Any, ...]]]:
        conn = await asyncpg.connect(urlunsplit(urlsplit(url)._replace(scheme="postgresql")))
        try:
            return [[tuple(r) for r in await conn.fetch(sql)] for sql in statements]
        finally:
            await conn.close()

    return asyncio.run(run())


def ledger_consistency(url: str, hub_id: int) -> dict[str, Any]:
    """Kept sums against the ledger: members.points and point_totals per member (and kind),
    and per kind the totals and every period's sums (each row is in one day, week, month and
    year of its kind and of `all`). `mismatches` is 0 when all agree."""
    hub = int(hub_id)
    names = list(CONSISTENCY_SQL)
    statements = [CONSISTENCY_SQL[n].format(hub=hub) for n in names]
    statements += [q.format(hub=hub) for q in (LEDGER_BY_KIND, TOTALS_BY_KIND, PERIODS_BY_KIND)]
    started = time.perf_counter()
    rows = run_sql(url, statements)
    found = {name: int(rows[i][0][0]) for i, name in enumerate(names)}
    ledger = {str(k): int(v) for k, v in rows[len(names)]}
    ledger["all"] = sum(ledger.values())
    kept = {str(k): int(v) for k, v in rows[len(names) + 1]}
    by_kind = [k for k in ledger if k != "all" and kept.get(k, 0) != ledger[k]]
    periods: dict[str, dict[str, int]] = {}
    for period, kind, amount in rows[len(names) + 2]:
        periods.setdefault(str(period), {})[str(kind)] = int(amount)
    by_period = [
        f"{period}/{kind}"
        for period in ("day", "week", "month", "year")
        for kind, amount in ledger.items()
        if periods.get(period, {}).get(kind, 0) != amount
    ]
    mismatches = found["members"] + found["member_kinds"] + found["orphan_totals"]
    mismatches += len(by_kind) + len(by_period)
    return {
        "entries": found["entries"],
        "members_mismatched": found["members"],
        "member_kinds_mismatched": found["member_kinds"],
        "orphan_totals": found["orphan_totals"],
        "kinds_mismatched": by_kind,
        "periods_mismatched": by_period,
        "ledger_sum": ledger["all"],
        "mismatches": mismatches,
        "check_s": round(time.perf_counter() - started, 1),
    }


def points_run(
    tmp: Path, backend: str, env: dict[str, str], rounds: int, seconds: float
) -> dict[str, Any]:
    """Seed the hub with members and the ledger on `backend`, check the kept sums, run the
    statement-log pass, measure the reads, run the grant load and check the sums again."""
    env = {**env, **AUTH_ENV}  # the tokens outlive the seeding and the run
    url = env["DRIVERSHUB_DATABASE__URL"]
    extra = ["--members", str(DIRECTORY_MEMBERS), "--points", str(POINTS_LEDGER)]
    started = time.perf_counter()
    seeded = run_seed(url, 1, extra, env, 1800)
    seed_s = round(time.perf_counter() - started, 1)
    points = seeded["points"]
    seeded_check = ledger_consistency(url, points["hub_id"])
    base = f"/api/v1/hubs/{seeded['slugs'][0]}"
    cases = points_cases(base, seeded)
    port = int(env["DRIVERSHUB_WEB__PORT"])
    query_log = tmp / f"queries-points-{backend}.log"
    query_log.touch()
    log_file = tmp / f"web-points-{backend}-querylog.log"
    wrapper = [sys.executable, str(HERE / "querylog_web.py"), str(query_log)]
    with spawned(wrapper, log_file, env) as app:
        wait_ready(app, port, "/api/v1/ready", log_file)
        statements = query_log_pass(port, cases, query_log)
    log_file = tmp / f"web-points-{backend}.log"
    with spawned([drivershub_exe(), "web"], log_file, env) as app:
        wait_ready(app, port, "/api/v1/ready", log_file)
        samples, unexpected = measure_directory(port, cases, DIRECTORY_WARMUP, rounds)  # type: ignore[arg-type]
        member_ids = list(range(10_000_000, 10_000_000 + DIRECTORY_MEMBERS))  # seed.py's ids
        grants = asyncio.run(grant_load(port, base, points["staff_token"], member_ids, seconds))
        memory = rss_mb(app.pid)
    scaled = {"clients": GRANT_CLIENTS, "granted": 0, "grants_per_s": None, "statuses": {}}
    if backend != "sqlite":  # SQLite has one writer: more processes only wait for each other
        # The same load on GRANT_WORKERS processes sharing the port (WEB_CONCURRENCY), as an
        # API meant to take load is deployed on PostgreSQL: one process per core.
        log_file = tmp / f"web-points-{backend}-workers.log"
        workers_env = {**env, "WEB_CONCURRENCY": str(GRANT_WORKERS)}
        with spawned([drivershub_exe(), "web"], log_file, workers_env) as app:
            wait_ready(app, port, "/api/v1/ready", log_file)
            wait_listeners(port, GRANT_WORKERS, log_file)
            scaled = asyncio.run(grant_load(port, base, points["staff_token"], member_ids, seconds))
    after = ledger_consistency(url, points["hub_id"])
    results = {}
    for name, latencies in samples.items():
        results[name] = percentiles(latencies)
        results[name]["p95_ms"] = nearest_rank(sorted(latencies), 95)
        results[name]["target_p99_ms"] = cases[name][2]
    return {
        "backend": backend,
        "seed_s": seed_s,
        "seeded": {k: v for k, v in points.items() if k != "staff_token"},
        "seeded_consistency": seeded_check,
        "statements": statements,
        "cases": results,
        "unexpected": dict(unexpected),
        "grants": grants,
        "grants_workers": scaled,
        "consistency": after,
        "entries_expected": seeded_check["entries"] + grants["granted"] + scaled["granted"],
        "server_memory_mb": memory,
    }


def bench_points(tmp: Path, opts: argparse.Namespace) -> tuple[dict[str, Any], list[Check]]:
    where = "SQLite" + (" and PostgreSQL" if opts.postgres else "")
    print(
        f"\n[9] points of one hub: {POINTS_LEDGER:,} ledger rows over {DIRECTORY_MEMBERS:,}"
        f" members ({where}): reads with the statement log ({QUERY_LOG_ROUNDS} a case), then"
        f" {DIRECTORY_WARMUP} warm-up + {opts.samples} measured rounds of sequential GETs, then"
        f" {GRANT_CLIENTS} clients granting for {opts.duration:g} s"
    )
    runs = {
        "sqlite": points_run(
            tmp,
            "sqlite",
            app_env(tmp, tmp / "points.sqlite3", free_port()),
            opts.samples,
            opts.duration,
        )
    }
    if opts.postgres:
        with postgres_database(opts.postgres) as url, redis_namespace(opts.redis) as cache:
            backend = "postgres+redis" if opts.redis else "postgres"
            extra = {"DRIVERSHUB_DATABASE__URL": url, **cache}
            env = app_env(tmp, tmp / "unused.sqlite3", free_port(), extra)
            runs[backend] = points_run(tmp, backend, env, opts.samples, opts.duration)
    checks = []
    for backend, run in runs.items():
        seeded, grants = run["seeded"], run["grants"]
        print(
            f"  {backend}: seeded in {run['seed_s']} s ({seeded['entries']:,} ledger rows,"
            f" {seeded['periods']:,} period sums, {seeded['totals']:,} totals,"
            f" {seeded['members_ranked']:,} members ranked); kept sums checked against the"
            f" ledger in {run['seeded_consistency']['check_s']} s:"
            f" {run['seeded_consistency']['mismatches']} mismatches"
        )
        print(
            f"  {'':36} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'target':>8}"
            f" {'SQL/req':>8} {'ledger':>7}"
        )
        for name, r in run["cases"].items():
            logged = run["statements"][name]
            per = logged["statements_per_request"]
            target = r["target_p99_ms"]
            print(
                f"  {name:36} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} {r['p99_ms']:8.2f}"
                f" {r['max_ms']:8.2f} {target if target else '-':>8}"
                f" {per['min']:>3}-{per['max']:<4} {logged['ledger_statements']:>7}"
            )
            if target is not None:
                checks.append(
                    Check(
                        f"{backend}: {name} p99 ms",
                        r["p99_ms"],
                        f"<= {target:g} ms",
                        r["p99_ms"] <= target,
                    )
                )
        ledger_reads = sum(v["ledger_statements"] for v in run["statements"].values())
        logged_ok = (
            "point_totals" in run["statements"]["points + rank of a member"]["points_tables_read"]
        )
        for example in (e for v in run["statements"].values() for e in v["ledger_examples"]):
            print(f"  ledger statement: {example}")
        checks.append(
            Check(
                f"{backend}: statements on {LEDGER_TABLE} by points, profile and leaderboard"
                " reads (the statement log saw point_totals: "
                f"{'yes' if logged_ok else 'NO'})",
                ledger_reads if logged_ok else -1,
                "== 0",
                ledger_reads == 0 and logged_ok,
            )
        )
        if run["unexpected"]:
            print(f"  unexpected answers: {run['unexpected']}")
        checks.append(
            Check(
                f"{backend}: unexpected answers to the reads",
                sum(run["unexpected"].values()),
                "== 0",
                not run["unexpected"],
            )
        )
        scaled = run["grants_workers"]
        loads = [("1 process", grants)]
        if scaled["grants_per_s"] is not None:
            loads.append((f"{GRANT_WORKERS} processes", scaled))
        for label, load in loads:
            lat = load["latency"]
            print(
                f"  grants, {label}: {load['granted']:,} in {load['seconds']} s ="
                f" {load['grants_per_s']}/s at c={load['clients']} (latency p50"
                f" {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms); answers {load['statuses']}"
            )
        after = run["consistency"]
        print(
            f"  after the grants: {after['entries']:,} ledger rows (expected"
            f" {run['entries_expected']:,}); members {after['members_mismatched']},"
            f" member/kind totals {after['member_kinds_mismatched']}, orphan totals"
            f" {after['orphan_totals']}, kinds {after['kinds_mismatched']}, periods"
            f" {after['periods_mismatched']} not equal to the ledger"
        )
        if backend != "sqlite":
            checks.append(
                Check(
                    f"{backend}: grants/s at c={GRANT_CLIENTS}, WEB_CONCURRENCY={GRANT_WORKERS}",
                    scaled["grants_per_s"],
                    f">= {MIN_GRANTS_PER_S:g}",
                    scaled["grants_per_s"] >= MIN_GRANTS_PER_S,
                )
            )
        lost = after["mismatches"] + run["seeded_consistency"]["mismatches"]
        lost += abs(after["entries"] - run["entries_expected"])
        checks.append(
            Check(
                f"{backend}: kept totals and period sums not equal to the ledger (lost"
                " updates), before and after the grants",
                lost,
                "== 0",
                lost == 0,
            )
        )
        refused = sum(load["latency"]["samples"] - load["granted"] for _, load in loads)
        checks.append(Check(f"{backend}: grants not answered 201", refused, "== 0", refused == 0))
    return {"ledger": POINTS_LEDGER, "rounds": opts.samples, "runs": runs}, checks


# --- part 10: notifications -----------------------------------------------------------------

NOTICE_MEMBERS = 10_000
MAX_BROADCAST_S = 2.0  # every in-app row of a 10,000-member notice written (PostgreSQL)
MAX_BROADCAST_HEALTH_P99_MS = 50.0
MAX_UNREAD_P99_MS = 5.0
UNREAD_BACKLOG = 500  # notifications the reader already has (a fifth unread)


def _pg_rows(url: str, sql_text: str, *args: Any) -> list[tuple[Any, ...]]:
    import asyncpg

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(urlunsplit(urlsplit(url)._replace(scheme="postgresql")))
        try:
            return [tuple(r) for r in await conn.fetch(sql_text, *args)]
        finally:
            await conn.close()

    return asyncio.run(run())


def _post(port: int, path: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {token}", **JSON_HEADERS}
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def _backlog(url: str, user_id: int, hub_id: int) -> None:
    """UNREAD_BACKLOG notifications of the reader, every fifth unread."""
    rows = [
        (
            user_id,
            hub_id,
            "hub.notice",
            json.dumps({"title": f"Notice {i}", "text": "..."}),
            i % 5 != 0,
        )
        for i in range(UNREAD_BACKLOG)
    ]
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(urlunsplit(urlsplit(url)._replace(scheme="postgresql")))
        try:
            await conn.executemany(
                "INSERT INTO notifications (user_id, hub_id, kind, data, in_app, read_at,"
                " dm_state, created_at) VALUES ($1, $2, $3, $4, true,"
                " CASE WHEN $5 THEN now() ELSE NULL END, 'none', now())",
                rows,
            )
            await conn.execute("ANALYZE notifications")
        finally:
            await conn.close()

    asyncio.run(run())


def notifications_run(tmp: Path, env: dict[str, str], samples: int) -> dict[str, Any]:
    """A 10,000-member hub on PostgreSQL: a staff notice to everyone (time until every row is
    written, health probed meanwhile), then the unread count of a reader with a backlog."""
    env = {**env, **AUTH_ENV}
    url = env["DRIVERSHUB_DATABASE__URL"]
    seeded = run_seed(url, 1, ["--members", str(NOTICE_MEMBERS)], env, 900)
    tokens = seeded["members"]["tokens"]
    slug = seeded["slugs"][0]
    port = int(env["DRIVERSHUB_WEB__PORT"])
    hub_id = _pg_rows(url, "SELECT id FROM hubs WHERE slug = $1", slug)[0][0]
    expected = _pg_rows(
        url,
        "SELECT COUNT(*) FROM members m JOIN users u ON u.id = m.user_id"
        " WHERE m.hub_id = $1 AND m.state = 'member' AND u.is_active",
        hub_id,
    )[0][0]
    log_file = tmp / "web-notifications.log"
    with spawned([drivershub_exe(), "web"], log_file, env) as app:
        wait_ready(app, port, "/api/v1/ready", log_file)
        getter = Getter(port)
        status, body, _ = getter.get("/api/v1/users/@me", tokens["member"])
        reader = json.loads(body)["id"]
        _backlog(url, int(reader), hub_id)
        with probing(port, 60) as probe:
            time.sleep(0.5)  # the probe's own first samples, before the notice
            started = time.perf_counter()
            status, notice = _post(
                port,
                f"/api/v1/hubs/{slug}/notices",
                tokens["staff"],
                {"title": "Convoy tonight", "text": "Meet at Calais, 20:00 UTC."},
            )
            if status != 202:
                raise RuntimeError(f"POST notices answered {status}: {notice}")
            written = 0
            while time.perf_counter() - started < 60:
                written = _pg_rows(
                    url,
                    "SELECT COUNT(*) FROM notifications WHERE broadcast_id = $1",
                    int(notice["id"]),
                )[0][0]
                if written >= expected:
                    break
                time.sleep(0.02)
            broadcast_s = time.perf_counter() - started
            time.sleep(0.3)
        health = probe.result()
        unread_path = "/api/v1/notifications/unread-count"
        latencies, wrong = [], Counter()
        for i in range(DIRECTORY_WARMUP + samples):
            status, body, ms = getter.get(unread_path, tokens["member"])
            if status != 200:
                wrong[str(status)] += 1
            if i >= DIRECTORY_WARMUP:
                latencies.append(ms)
        unread = json.loads(body)["unread"] if status == 200 else None
        getter.close()
        duplicates = _pg_rows(
            url,
            "SELECT COUNT(*) FROM (SELECT user_id FROM notifications WHERE broadcast_id = $1"
            " GROUP BY user_id HAVING COUNT(*) > 1) d",
            int(notice["id"]),
        )[0][0]
    return {
        "members": expected,
        "written": written,
        "duplicates": duplicates,
        "broadcast_s": round(broadcast_s, 3),
        "health_during": health,
        "unread_count": {**percentiles(latencies), "unexpected": dict(wrong), "value": unread},
    }


def bench_notifications(tmp: Path, opts: argparse.Namespace) -> tuple[dict[str, Any], list[Check]]:
    print(
        f"\n[10] notifications: a staff notice to {NOTICE_MEMBERS:,} members on PostgreSQL"
        f" (health probed every {HEALTH_INTERVAL_S * 1000:g} ms meanwhile), then"
        f" {opts.samples} sequential unread counts of a reader with {UNREAD_BACKLOG} notifications"
    )
    if not opts.postgres:
        print("  skipped: needs --postgres (the targets are PostgreSQL's)")
        return {"skipped": "no --postgres"}, []
    with postgres_database(opts.postgres) as url, redis_namespace(opts.redis) as cache:
        env = app_env(
            tmp, tmp / "unused.sqlite3", free_port(), {"DRIVERSHUB_DATABASE__URL": url, **cache}
        )
        run = notifications_run(tmp, env, opts.samples)
    from notifications_sse import run as sse_run  # the script beside this one

    run["sse"] = sse = sse_run(opts.postgres, opts.redis or "redis://127.0.0.1:6379/0")
    health, unread = run["health_during"], run["unread_count"]
    print(
        f"  notice to {run['members']:,} members: {run['written']:,} rows in"
        f" {run['broadcast_s']} s ({run['duplicates']} people twice); health meanwhile p50"
        f" {health['p50_ms']} ms, p99 {health['p99_ms']} ms, {health['failures']} failures"
    )
    print(
        f"  unread count: p50 {unread['p50_ms']} ms, p99 {unread['p99_ms']} ms, max"
        f" {unread['max_ms']} ms (count {unread['value']}); unexpected {unread['unexpected']}"
    )
    print(
        f"  live streams: {sse['streams']:,} open; {sse['notifications']} notifications from"
        f" commit to client p50 {sse['p50_ms']} ms, p99 {sse['p99_ms']} ms, max"
        f" {sse['max_ms']} ms; {sse['missing']} missing"
    )
    checks = [
        Check(
            f"SSE commit-to-client p99 ms with {sse['streams']:,} open streams ({sse['missing']}"
            " missing)",
            sse["p99_ms"],
            f"<= {sse['target_p99_ms']:g} ms",
            bool(sse["ok"]),
        ),
        Check(
            "notice to 10,000 members: seconds until every row is written",
            run["broadcast_s"] if run["written"] >= run["members"] else -1,
            f"<= {MAX_BROADCAST_S:g} s",
            run["written"] >= run["members"] and run["broadcast_s"] <= MAX_BROADCAST_S,
        ),
        Check(
            "people notified twice by one notice",
            run["duplicates"],
            "== 0",
            run["duplicates"] == 0,
        ),
        Check(
            "health p99 ms during the notice",
            health["p99_ms"] or -1,
            f"< {MAX_BROADCAST_HEALTH_P99_MS:g} ms",
            health["p99_ms"] is not None
            and health["p99_ms"] < MAX_BROADCAST_HEALTH_P99_MS
            and not health["failures"],
        ),
        Check(
            "unread count p99 ms",
            unread["p99_ms"] or -1,
            f"<= {MAX_UNREAD_P99_MS:g} ms",
            unread["p99_ms"] is not None
            and unread["p99_ms"] <= MAX_UNREAD_P99_MS
            and not unread["unexpected"],
        ),
    ]
    return run, checks


# --- part 11: applications -------------------------------------------------------------------

APPLICATIONS = 100_000
APPLICATION_MEMBERS = 10_000
MAX_APPLICATION_PAGE_P99_MS = 30.0
APPLICATION_PAGE = 50


def application_cases(
    getter: Getter, base: str, seeded: dict[str, Any]
) -> dict[str, tuple[list[str], str, float]]:
    """Pages of the staff list: the newest, deep ones (cursors from walking 40 pages), and
    each filter, 50 a page."""
    token = seeded["members"]["tokens"]["staff"]
    listing = f"{base}/applications?limit={APPLICATION_PAGE}"
    cursors, cursor = [], None
    for _ in range(40):
        status, body, _ = getter.get(listing + (f"&cursor={cursor}" if cursor else ""), token)
        if status != 200:
            raise RuntimeError(f"GET {listing} answered {status}: {body[:300]!r}")
        cursor = json.loads(body)["next_cursor"]
        cursors.append(cursor)
    types = seeded["applications"]["type_ids"]
    applicants = seeded["members"]["sample_ids"][:20]
    month = datetime.now(UTC) - timedelta(days=400)
    since, until = month.date().isoformat(), (month + timedelta(days=30)).date().isoformat()
    target = MAX_APPLICATION_PAGE_P99_MS
    return {
        "newest page": ([listing], token, target),
        "page 10-40 (cursor)": ([f"{listing}&cursor={c}" for c in cursors[9:]], token, target),
        "pending": ([f"{listing}&state=pending"], token, target),
        "one type (a rare one)": ([f"{listing}&type={types[-1]}"], token, target),
        "one applicant": ([f"{listing}&applicant={a}" for a in applicants], token, target),
        "one reviewer": ([f"{listing}&reviewer={seeded['reviewer_id']}"], token, target),
        "a month": ([f"{listing}&since={since}T00:00:00Z&until={until}T00:00:00Z"], token, target),
    }


CaseBuilder = Callable[[Getter, str, dict[str, Any]], dict[str, tuple[list[str], str, float]]]


def seeded_list_run(
    tmp: Path,
    name: str,
    env: dict[str, str],
    extra: list[str],
    build: CaseBuilder,
    rounds: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Seed one hub with seed.py's `extra` options, serve it, build the cases from the
    seeded hub and measure them: (what seed.py printed, the run's figures by case)."""
    env = {**env, **AUTH_ENV}
    started = time.perf_counter()
    seeded = run_seed(env["DRIVERSHUB_DATABASE__URL"], 1, extra, env, 1800)
    seed_s = round(time.perf_counter() - started, 1)
    base = f"/api/v1/hubs/{seeded['slugs'][0]}"
    port = int(env["DRIVERSHUB_WEB__PORT"])
    log_file = tmp / f"web-{name}.log"
    with spawned([drivershub_exe(), "web"], log_file, env) as app:
        wait_ready(app, port, "/api/v1/ready", log_file)
        getter = Getter(port)
        try:
            cases = build(getter, base, seeded)
        finally:
            getter.close()
        samples, unexpected = measure_directory(port, cases, DIRECTORY_WARMUP, rounds)
    results = {}
    for case, latencies in samples.items():
        results[case] = percentiles(latencies)
        results[case]["target_p99_ms"] = cases[case][2]
    return seeded, {"seed_s": seed_s, "cases": results, "unexpected": dict(unexpected)}


def list_checks(label: str, backend: str, run: dict[str, Any]) -> list[Check]:
    """Print a seeded list run's cases (p50/p99/max against the target) and check each."""
    print(f"  {'':28} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'target':>8}")
    checks = []
    for name, r in run["cases"].items():
        print(
            f"  {name:28} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['max_ms']:8.2f}"
            f" {r['target_p99_ms']:>8g}"
        )
        checks.append(
            Check(
                f"{backend}: {label}, {name} p99 ms",
                r["p99_ms"],
                f"<= {r['target_p99_ms']:g} ms",
                r["p99_ms"] <= r["target_p99_ms"],
            )
        )
    if run["unexpected"]:
        print(f"  unexpected answers: {run['unexpected']}")
    unexpected = sum(run["unexpected"].values())
    checks.append(
        Check(
            f"{backend}: unexpected answers to the {label} lists",
            unexpected,
            "== 0",
            not unexpected,
        )
    )
    return checks


def applications_run(tmp: Path, backend: str, env: dict[str, str], rounds: int) -> dict[str, Any]:
    extra = ["--members", str(APPLICATION_MEMBERS), "--applications", str(APPLICATIONS)]
    seeded, run = seeded_list_run(
        tmp, f"applications-{backend}", env, extra, application_cases, rounds
    )
    return {"backend": backend, "applications": seeded["applications"]["applications"], **run}


def bench_applications(tmp: Path, opts: argparse.Namespace) -> tuple[dict[str, Any], list[Check]]:
    where = "SQLite" + (" and PostgreSQL" if opts.postgres else "")
    print(
        f"\n[11] applications: the staff list of a hub with {APPLICATIONS:,} applications"
        f" ({where}), {APPLICATION_PAGE} a page: {DIRECTORY_WARMUP} warm-up +"
        f" {opts.samples} measured rounds of sequential GETs per case"
    )
    env = app_env(tmp, tmp / "applications.sqlite3", free_port())
    runs = {"sqlite": applications_run(tmp, "sqlite", env, opts.samples)}
    if opts.postgres:
        with postgres_database(opts.postgres) as url, redis_namespace(opts.redis) as cache:
            backend = "postgres+redis" if opts.redis else "postgres"
            extra = {"DRIVERSHUB_DATABASE__URL": url, **cache}
            env = app_env(tmp, tmp / "unused.sqlite3", free_port(), extra)
            runs[backend] = applications_run(tmp, backend, env, opts.samples)
    checks = []
    for backend, run in runs.items():
        print(f"  {backend}: seeded in {run['seed_s']} s ({run['applications']:,} applications)")
        checks += list_checks("applications", backend, run)
    return {"runs": runs}, checks


# --- 12. events: the list of a hub with 10,000 dates, RSVP clicks through the emulator ---------

EVENT_DATES = 10_000
EVENT_MEMBERS = 2_000  # who answered (RSVPs) and attended
MAX_EVENT_LIST_P99_MS = 20.0
MAX_RSVP_CLICK_P99_MS = 250.0
EVENT_CLICK_WARMUP_ROUNDS = 2


def event_cases(
    getter: Getter, base: str, seeded: dict[str, Any]
) -> dict[str, tuple[list[str], str, float]]:
    """Pages of the list as a member reads them (members-only dates included): upcoming and
    past, first and deep pages (cursors from walking 40 pages), and each filter (another
    member's answers as staff)."""
    token = seeded["members"]["tokens"]["member"]
    events = seeded["events"]
    listing = f"{base}/events?limit=20"

    def cursors_of(path: str) -> list[str]:
        found, cursor = [], None
        for _ in range(40):
            url = path + (f"&cursor={cursor}" if cursor else "")
            status, body, _ = getter.get(url, token)
            if status != 200:
                raise RuntimeError(f"GET {url} answered {status}: {body[:300]!r}")
            cursor = json.loads(body)["next_cursor"]
            if cursor is None:
                break
            found.append(cursor)
        return found

    upcoming = cursors_of(listing)
    past = cursors_of(f"{listing}&when=past")
    members = events["rsvp_member_ids"]
    target = MAX_EVENT_LIST_P99_MS
    return {
        "upcoming, first page": ([listing], token, target),
        "upcoming, pages 10-40": ([f"{listing}&cursor={c}" for c in upcoming[9:]], token, target),
        "past, first page": ([f"{listing}&when=past"], token, target),
        "past, pages 10-40": (
            [f"{listing}&when=past&cursor={c}" for c in past[9:]],
            token,
            target,
        ),
        "mine (going)": ([f"{listing}&mine=true", f"{listing}&mine=true&when=all"], token, target),
        # Another member's answers are the planners' to see: read as staff (manage_events).
        "rsvp_by a member": (
            [f"{listing}&rsvp_by={m}&answer={a}" for m in members for a in ("going", "maybe")],
            seeded["members"]["tokens"]["staff"],
            target,
        ),
        "attended_by, past": (
            [f"{listing}&attended_by={m}&when=past" for m in members],
            token,
            target,
        ),
        "one series, all": ([f"{listing}&event={events['series_id']}&when=all"], token, target),
    }


def run_event_clicks(tmp: Path, backend: str, env: dict[str, str], rounds: int) -> dict[str, Any]:
    """events_clicks.py in its own process (the emulator), which starts `drivershub run` on
    the database of `env`; what it printed."""
    log_file = tmp / f"event-clicks-{backend}.log"
    env = {**env, "DRIVERSHUB_METRICS__LISTEN": ""}
    args = [sys.executable, "-m", "tests.benchmarks.events_clicks"]
    args += ["--members", "50", "--rounds", str(rounds)]
    args += ["--warmup-rounds", str(EVENT_CLICK_WARMUP_ROUNDS)]
    args += ["--bot-log", str(tmp / f"event-clicks-bot-{backend}.log")]
    with log_file.open("ab") as log:
        out = subprocess.run(  # noqa: S603 (our own module, fixed arguments)
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, timeout=180 + 15 * rounds
        )
    if out.returncode != 0:
        raise RuntimeError(f"events_clicks.py failed ({out.returncode}):\n{log_tail(log_file)}")
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def events_run(
    tmp: Path, backend: str, env: dict[str, str], samples: int, rounds: int
) -> dict[str, Any]:
    """Seed a hub with EVENT_DATES dates on `backend`, measure the list over HTTP, then the
    RSVP clicks of 50 members through the emulator on the same database."""
    extra = ["--members", str(EVENT_MEMBERS), "--events", str(EVENT_DATES)]
    seeded, run = seeded_list_run(tmp, f"events-{backend}", env, extra, event_cases, samples)
    clicks = run_event_clicks(tmp, backend, {**env, **AUTH_ENV}, rounds)
    return {"backend": backend, "seeded": seeded["events"], **run, "clicks": clicks}


def event_click_checks(backend: str, clicks: dict[str, Any]) -> list[Check]:
    samples = clicks["latencies_ms"]
    latency = percentiles(samples)
    bot = clicks["bot"]
    print(
        f"  {backend}: RSVP clicks, {clicks['members']} members at once,"
        f" {clicks['warmup_rounds']} warm-up + {clicks['rounds']} measured rounds"
        f" (occurrence {clicks['occurrence_id']}, {clicks['answered']} answers at the end)"
    )
    print(f"  {'clicks':>28} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} failed")
    print(
        f"  {latency['samples']:28} {latency['p50_ms'] or 0:8.2f} {latency['p99_ms'] or 0:8.2f}"
        f" {latency['max_ms'] or 0:8.2f} {len(clicks['failures'])}"
    )
    print(
        f"  slowest click per round (ms): {', '.join(f'{x:.0f}' for x in clicks['round_max_ms'])}"
    )
    print(
        f"  bot CPU {bot['cpu_s']:.2f} s in the measured rounds = {bot['cpu_ms_per_answer']} ms per"
        f" click; post edits {clicks['post_edits']}; counts on the post: {clicks['post_counts']!r}"
        f" (expected {clicks['expected_counts']!r})"
    )
    problems = clicks["failures"] + clicks["emulator_errors"] + bot["log_problems"]
    for problem in problems[:5]:
        print(f"  problem: {problem}")
    p99 = latency["p99_ms"] if latency["p99_ms"] is not None else math.inf
    count = len(problems) + clicks["rate_limited"] + (not clicks["counts_match"])
    return [
        Check(
            f"{backend}: RSVP click answer p99 ms",
            p99,
            f"<= {MAX_RSVP_CLICK_P99_MS:g} ms",
            p99 <= MAX_RSVP_CLICK_P99_MS,
        ),
        Check(
            f"{backend}: click failures, emulator errors, 429s, bot log errors, wrong counts",
            count,
            "== 0",
            count == 0,
        ),
    ]


def bench_events(tmp: Path, opts: argparse.Namespace) -> tuple[dict[str, Any], list[Check]]:
    where = "SQLite" + (" and PostgreSQL" if opts.postgres else "")
    print(
        f"\n[12] events ({where}): the list of a hub with {EVENT_DATES:,} dates, 20 a page,"
        f" {DIRECTORY_WARMUP} warm-up + {opts.samples} measured rounds of sequential GETs per"
        f" case; then RSVP clicks of 50 members at once through the Discord emulator"
        f" ({EVENT_CLICK_WARMUP_ROUNDS} warm-up + {opts.rounds} measured rounds)"
    )
    env = app_env(tmp, tmp / "events.sqlite3", free_port())
    runs = {"sqlite": events_run(tmp, "sqlite", env, opts.samples, opts.rounds)}
    if opts.postgres:
        with postgres_database(opts.postgres) as url, redis_namespace(opts.redis) as cache:
            backend = "postgres+redis" if opts.redis else "postgres"
            extra = {"DRIVERSHUB_DATABASE__URL": url, **cache}
            env = app_env(tmp, tmp / "unused.sqlite3", free_port(), extra)
            runs[backend] = events_run(tmp, backend, env, opts.samples, opts.rounds)
    checks = []
    for backend, run in runs.items():
        s = run["seeded"]
        print(
            f"  {backend}: seeded in {run['seed_s']} s ({s['occurrences']:,} dates of"
            f" {s['events']:,} series, {s['upcoming']:,} upcoming, {s['pinned']} pinned,"
            f" {s['members_only']:,} members-only; {s['rsvps']:,} RSVPs,"
            f" {s['attendance']:,} attendance rows)"
        )
        checks += list_checks("events", backend, run)
        checks += event_click_checks(backend, run["clicks"])
    return {"dates": EVENT_DATES, "rounds": opts.samples, "runs": runs}, checks


# --- main ------------------------------------------------------------------------------------


# --- 13. announcements: the list of a hub with 10,000 announcements (cached pages) ----------

ANNOUNCEMENTS = 10_000
ANNOUNCEMENT_MEMBERS = 200
MAX_ANNOUNCEMENT_LIST_P99_MS = 10.0


def announcement_cases(
    getter: Getter, base: str, seeded: dict[str, Any]
) -> dict[str, tuple[list[str], str, float]]:
    """The list as a visitor without login and as a member reads it: the first page, deep
    pages (cursors from walking 40 pages), one type, one author."""
    member = seeded["members"]["tokens"]["member"]
    listing = f"{base}/announcements?limit=20"
    cursors, cursor = [], None
    for _ in range(40):
        url = listing + (f"&cursor={cursor}" if cursor else "")
        status, body, _ = getter.get(url, member)
        if status != 200:
            raise RuntimeError(f"GET {url} answered {status}: {body[:300]!r}")
        cursor = json.loads(body)["next_cursor"]
        if cursor is None:
            break
        cursors.append(cursor)
    seeded_news = seeded["announcements"]
    target = MAX_ANNOUNCEMENT_LIST_P99_MS
    return {
        "first page, no login": ([listing], "", target),
        "first page, member": ([listing], member, target),
        "pages 10-40, member": ([f"{listing}&cursor={c}" for c in cursors[9:]], member, target),
        "one type, member": (
            [f"{listing}&type={t}" for t in seeded_news["types"]],
            member,
            target,
        ),
        "one author, no login": ([f"{listing}&author={seeded_news['author']}"], "", target),
    }


def announcements_run(tmp: Path, backend: str, env: dict[str, str], samples: int) -> dict[str, Any]:
    extra = ["--members", str(ANNOUNCEMENT_MEMBERS), "--announcements", str(ANNOUNCEMENTS)]
    seeded, run = seeded_list_run(
        tmp, f"announcements-{backend}", env, extra, announcement_cases, samples
    )
    return {"backend": backend, "seeded": seeded["announcements"], **run}


def bench_announcements(tmp: Path, opts: argparse.Namespace) -> tuple[dict[str, Any], list[Check]]:
    where = "SQLite" + (" and PostgreSQL" if opts.postgres else "")
    print(
        f"\n[13] announcements ({where}): the list of a hub with {ANNOUNCEMENTS:,} announcements,"
        f" 20 a page, {DIRECTORY_WARMUP} warm-up + {opts.samples} measured rounds of sequential"
        " GETs per case (pages are cached until the hub's announcements change)"
    )
    env = app_env(tmp, tmp / "announcements.sqlite3", free_port())
    runs = {"sqlite": announcements_run(tmp, "sqlite", env, opts.samples)}
    if opts.postgres:
        with postgres_database(opts.postgres) as url, redis_namespace(opts.redis) as cache:
            backend = "postgres+redis" if opts.redis else "postgres"
            extra = {"DRIVERSHUB_DATABASE__URL": url, **cache}
            env = app_env(tmp, tmp / "unused.sqlite3", free_port(), extra)
            runs[backend] = announcements_run(tmp, backend, env, opts.samples)
    checks = []
    for backend, run in runs.items():
        s = run["seeded"]
        print(
            f"  {backend}: seeded in {run['seed_s']} s ({s['announcements']:,} announcements,"
            f" {s['pinned']} pinned, {s['members_only']:,} members-only)"
        )
        checks += list_checks("announcements", backend, run)
    return {"runs": runs}, checks


# --- 14. tracker intake: signed job webhooks at 32 concurrent senders, then processing ----

TRACKER_JOBS = 5_000
TRACKER_DRIVERS = 2_000
TRACKER_SENDERS = 32
MIN_TRACKER_INTAKE_PER_S = 500.0  # on PostgreSQL
MAX_TRACKER_ANSWER_P99_MS = 50.0
MIN_TRACKER_PROCESSED_PER_S = 100.0
# SQLite has one writer, shared by the webhooks and the worker: its answer times are taken
# at a rate it sustains (still far beyond a VTC's busiest hour), PostgreSQL's at the target.
SQLITE_PACED_RATE = 200.0


def tracker_run(tmp: Path, backend: str, env: dict[str, str]) -> dict[str, Any]:
    """Seed drivers, serve the hub (API and workers), and run tracker_intake.py at it."""
    env = {**env, **AUTH_ENV}
    seeded = run_seed(
        env["DRIVERSHUB_DATABASE__URL"],
        1,
        ["--members", str(TRACKER_DRIVERS), "--drivers"],
        env,
        600,
    )
    steam_file = tmp / f"steam-{backend}.json"
    steam_file.write_text(json.dumps(seeded["drivers"]["steam_ids"]))
    port = int(env["DRIVERSHUB_WEB__PORT"])
    log_file = tmp / f"tracker-{backend}.log"
    rate = SQLITE_PACED_RATE if backend == "sqlite" else MIN_TRACKER_INTAKE_PER_S
    with spawned([drivershub_exe(), "run"], log_file, env) as app:
        wait_ready(app, port, "/api/v1/ready", log_file)
        args = [
            sys.executable,
            str(HERE / "tracker_intake.py"),
            *("--port", str(port), "--hub", seeded["slugs"][0]),
            *("--token", seeded["members"]["tokens"]["staff"]),
            *("--steam-ids", str(steam_file), "--jobs", str(TRACKER_JOBS)),
            *("--concurrency", str(TRACKER_SENDERS), "--rate", str(rate)),
        ]
        out = subprocess.run(  # noqa: S603
            args, cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False
        )
    if out.returncode != 0:
        raise RuntimeError(f"tracker_intake.py failed:\n{out.stderr[-3000:]}\n{log_tail(log_file)}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    errors = sum(1 for line in log_tail(log_file, 400).splitlines() if " ERROR " in line)
    return {
        "backend": backend,
        "drivers": seeded["drivers"]["drivers"],
        "log_errors": errors,
        **result,
    }


def tracker_checks(backend: str, run: dict[str, Any]) -> list[Check]:
    intake, paced = run["intake"], run["paced"]
    jobs = run["jobs"]
    refused = sum(
        n for phase in (intake, paced) for status, n in phase["statuses"].items() if status != "202"
    )
    doubled = jobs["jobs"] - jobs["distinct_ids"]
    expected = run["distinct_sent"] + run["warmup"] + run["paced_distinct"]
    missing = expected - jobs["distinct_ids"]
    print(
        f"  {backend}: {intake['sent']:,} deliveries ({run['distinct_sent']:,} jobs, the rest"
        f" resent) in {intake['seconds']} s = {intake['per_second']:,} a second;"
        f" answers p50 {intake['p50_ms']} ms, p99 {intake['p99_ms']} ms, max {intake['max_ms']} ms;"
        f" outcomes {intake['outcomes']}; every job made {run['processing_s']} s after the"
        f" first was sent ({run['processed_per_second']:,} a second,"
        f" {run['drain_after_sending_s']} s after the last); {jobs['jobs']:,} jobs,"
        f" {jobs['matched']:,} matched to a driver"
    )
    print(
        f"  {backend}, paced at {paced['rate']:g} a second: {paced['sent']:,} deliveries in"
        f" {paced['seconds']} s; answers p50 {paced['p50_ms']} ms, p99 {paced['p99_ms']} ms,"
        f" max {paced['max_ms']} ms (from when each was due)"
    )
    checks = [
        Check(
            f"{backend}: tracker answer p99 ms at {paced['rate']:g} a second",
            paced["p99_ms"],
            f"<= {MAX_TRACKER_ANSWER_P99_MS:g} ms",
            paced["p99_ms"] <= MAX_TRACKER_ANSWER_P99_MS,
        ),
        Check(
            f"{backend}: jobs processed a second",
            run["processed_per_second"],
            f">= {MIN_TRACKER_PROCESSED_PER_S:g}",
            run["processed_per_second"] >= MIN_TRACKER_PROCESSED_PER_S,
        ),
        Check(
            f"{backend}: refused deliveries, doubled and missing jobs, log errors",
            refused + doubled + missing + run["log_errors"],
            "== 0",
            refused + doubled + missing + run["log_errors"] == 0,
        ),
    ]
    if backend != "sqlite":  # the intake target is PostgreSQL's (SQLite: one writer)
        checks.append(
            Check(
                f"{backend}: acknowledged deliveries a second",
                intake["per_second"],
                f">= {MIN_TRACKER_INTAKE_PER_S:g}",
                intake["per_second"] >= MIN_TRACKER_INTAKE_PER_S,
            )
        )
    return checks


def bench_tracker(tmp: Path, opts: argparse.Namespace) -> tuple[dict[str, Any], list[Check]]:
    where = "SQLite" + (" and PostgreSQL" if opts.postgres else "")
    print(
        f"\n[14] tracker intake ({where}): {TRACKER_JOBS:,} signed TrackSim job webhooks (5 %"
        f" resent) from {TRACKER_SENDERS} concurrent senders to one `drivershub run` process,"
        f" {TRACKER_DRIVERS:,} members, as fast as it answers; until the worker has made every"
        f" job; then as many again paced at {MIN_TRACKER_INTAKE_PER_S:g} a second"
        f" ({SQLITE_PACED_RATE:g} on SQLite) for the answer times"
    )
    env = app_env(tmp, tmp / "tracker.sqlite3", free_port())
    runs = {"sqlite": tracker_run(tmp, "sqlite", env)}
    if opts.postgres:
        with postgres_database(opts.postgres) as url, redis_namespace(opts.redis) as cache:
            backend = "postgres+redis" if opts.redis else "postgres"
            extra = {"DRIVERSHUB_DATABASE__URL": url, **cache}
            env = app_env(tmp, tmp / "unused.sqlite3", free_port(), extra)
            runs[backend] = tracker_run(tmp, backend, env)
    checks = []
    for backend, run in runs.items():
        checks += tracker_checks(backend, run)
    return {"runs": runs}, checks


PARTS = {
    "throughput": bench_throughput,
    "memory": bench_memory,
    "coldstart": bench_cold_start,
    "auth-me": bench_auth_me,
    "logins": bench_logins,
    "reset-timing": bench_reset_timing,
    "interactions": bench_interactions,
    "members": bench_members,
    "points": bench_points,
    "notifications": bench_notifications,
    "applications": bench_applications,
    "events": bench_events,
    "announcements": bench_announcements,
    "tracker": bench_tracker,
}


def machine() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(  # noqa: S603
                ["git", *args],  # noqa: S607
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def busy_warning() -> float:
    """The 1-minute load average; warn when other work competes for the CPUs."""
    load = os.getloadavg()[0]
    if load > BUSY_LOAD:
        print(
            f"\n  warning: load average {load:.2f} before this part: other processes compete "
            "for the CPUs, so throughput and latency will be worse and noisier than on a quiet "
            "machine"
        )
    return round(load, 2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=list(PARTS), action="append", help="repeatable")
    parser.add_argument("--duration", type=float, default=10, help="wrk seconds per server")
    parser.add_argument("--warmup", type=float, default=3, help="wrk warm-up seconds")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5, help="cold starts to take the median of")
    parser.add_argument("--members", type=int, default=50, help="interactions: users per round")
    parser.add_argument("--rounds", type=int, default=10, help="interactions: measured rounds")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="interactions: the app on the emulator's event loop (the old set-up)",
    )
    parser.add_argument(
        "--bot-profile",
        type=Path,
        metavar="FILE",
        help="interactions: run the bot under cProfile and write the profile to FILE",
    )
    parser.add_argument(
        "--samples", type=int, default=300, help="members: measured requests per case"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="members: also on PostgreSQL (a fresh database on this server, dropped after)",
    )
    parser.add_argument(
        "--redis", metavar="URL", help="members: the PostgreSQL run's cache (else memory)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, DBs)")
    opts = parser.parse_args(argv)
    if opts.in_process and opts.bot_profile:
        parser.error("--bot-profile needs the bot in its own process (without --in-process)")
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    # A SIGTERM unwinds like Ctrl-C, so the finally blocks stop every process started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    parts = opts.only or list(PARTS)
    if {"throughput", "auth-me"} & set(parts):
        require_wrk()  # fail before anything starts
    tmp = Path(tempfile.mkdtemp(prefix="drivershub-bench-"))
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    checks: list[Check] = []
    try:
        for part in parts:
            load = busy_warning()
            report[part], part_checks = PARTS[part](tmp, opts)
            report[part]["loadavg_before"] = load
            for check in part_checks:
                print(check.line())
            checks += part_checks
    finally:
        if opts.keep:
            print(f"\ntemp files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report["checks"] = [asdict(c) for c in checks]
    report["passed"] = all(c.passed for c in checks)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = RESULTS_DIR / f"bench-{stamp}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print("\nSummary")
    for check in checks:
        print(check.line())
    print(f"results: {out.relative_to(ROOT)}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
