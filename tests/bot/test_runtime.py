"""The running process: `drivershub run` and `drivershub web` as real subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sentry_sdk
from prometheus_client.parser import text_string_to_metric_families

from bot.runtime import init_sentry
from core.config import load_settings
from tests.bot.conftest import DRIVERSHUB, CliRunner, clean_env, free_port
from tests.fakediscord import FakeDiscord

START_TIMEOUT = 30  # a deadline, not a sleep: generous for a loaded CI machine
STOP_TIMEOUT = 10.0

# `drivershub run`, with the database ping of /ready slowed down: a request still in flight
# when SIGTERM arrives, without adding a test-only route to the product.
SLOW_READY = """
import asyncio, sys
import web.system
from bot.cli import main

real_ping = web.system.ping_database

async def slow_ping():
    await asyncio.sleep(1.5)
    await real_ping()

web.system.ping_database = slow_ping
sys.exit(main(sys.argv[1:]))
"""


class Process:
    """A started `drivershub` process, its log file and its HTTP port."""

    def __init__(self, popen: subprocess.Popen[bytes], log: Path, port: int) -> None:
        self.popen = popen
        self.log = log
        self.port = port
        self.children: list[int] = []

    def get(self, path: str, port: int | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def wait_ready(self) -> dict:
        """Poll /api/v1/ready until it answers 200 (the process may still be starting)."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.popen.poll() is None, self.stderr()
            with contextlib.suppress(OSError):
                status, _, body = self.get("/api/v1/ready")
                if status == 200:
                    return json.loads(body)
            assert time.monotonic() < deadline, f"not ready in {START_TIMEOUT}s: {self.stderr()}"
            time.sleep(0.05)

    def stop(self) -> int:
        """SIGTERM, then the exit code (the process must exit in time)."""
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(STOP_TIMEOUT)

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


Spawner = Callable[..., Process]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawner]:
    """Start `drivershub ARGS` (or `python -c CODE ARGS`); whatever is left is killed after."""
    started: list[Process] = []

    def start(*args: str, code: str | None = None, **env: str) -> Process:
        port = free_port()
        log = tmp_path / f"stderr-{len(started)}.log"
        command = [sys.executable, "-c", code, *args] if code else [DRIVERSHUB, *args]
        with log.open("wb") as stderr:
            popen = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
                command,
                cwd=tmp_path,
                # TMPDIR: what a killed process leaves (`web`'s metrics directory) stays here.
                env=clean_env(
                    tmp_path, DRIVERSHUB_WEB__PORT=str(port), TMPDIR=str(tmp_path), **env
                ),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        process = Process(popen, log, port)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.popen.poll() is None:
            process.popen.kill()
            process.popen.wait()
        for pid in process.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _assert_clean_exit(process: Process) -> str:
    stderr = process.stderr()
    assert "Traceback" not in stderr
    assert "shut down" in stderr
    return stderr


@pytest.mark.backend_independent
def test_run_without_a_token_serves_the_api_and_stops_on_sigterm(spawn: Spawner) -> None:
    metrics_port = free_port()
    process = spawn("run", DRIVERSHUB_METRICS__LISTEN=f"127.0.0.1:{metrics_port}")
    ready = process.wait_ready()
    assert ready == {
        "status": "ready",
        "database": "ok",
        "cache": "ok",
        "discord": {"state": "disabled"},
    }

    # The internal metrics listener serves Prometheus text; the API port does not without a token.
    status, headers, body = process.get("/metrics", port=metrics_port)
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    assert 'drivershub_http_requests_total{method="GET",route="/api/v1/ready",status="200"}' in (
        body.decode()
    )
    assert process.get("/metrics")[0] == 404

    # An idle keep-alive connection and a half-sent request must not hold the shutdown up.
    idle = socket.create_connection(("127.0.0.1", process.port))
    idle.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: hub\r\n\r\n")
    assert idle.recv(100).startswith(b"HTTP/1.1 200")
    half = socket.create_connection(("127.0.0.1", process.port))
    half.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: hub\r\n")
    try:
        started = time.monotonic()
        assert process.stop() == 0
        assert time.monotonic() - started < STOP_TIMEOUT
    finally:
        idle.close()
        half.close()

    stderr = _assert_clean_exit(process)
    no_bot = [line for line in stderr.splitlines() if "without the bot" in line]
    assert len(no_bot) == 1, stderr
    assert "no Discord token" in no_bot[0]


@pytest.mark.backend_independent
def test_sigterm_lets_a_request_in_flight_finish(spawn: Spawner) -> None:
    process = spawn("run", code=SLOW_READY)
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(process):
        assert process.popen.poll() is None, process.stderr()
        assert time.monotonic() < deadline, process.stderr()
        time.sleep(0.05)

    slow = socket.create_connection(("127.0.0.1", process.port), timeout=STOP_TIMEOUT)
    slow.sendall(b"GET /api/v1/ready HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
    time.sleep(0.3)  # the handler is now waiting on the (slow) database ping
    process.popen.send_signal(signal.SIGTERM)
    reply = b""
    while chunk := slow.recv(65536):
        reply += chunk
    slow.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), reply
    assert json.loads(body)["status"] == "ready"  # the database was still open for it
    assert process.popen.wait(STOP_TIMEOUT) == 0
    _assert_clean_exit(process)


def _answers(process: Process) -> bool:
    try:
        return process.get("/api/v1/health")[0] == 200
    except OSError:
        return False


# Several API processes on one port


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                # The fields after the command name (in parentheses): state, ppid, ...
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
    return children


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def _listens_on(pid: int, port: int) -> bool:
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in wanted:
                    return True
    return False


def _workers(process: Process) -> list[int]:
    """The worker processes of `drivershub web`, once each of them listens on the port."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        assert process.popen.poll() is None, process.stderr()
        workers = [
            pid
            for pid in _children(process.popen.pid)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        process.children = workers
        if len(workers) == 2 and all(_listens_on(pid, process.port) for pid in workers):
            return workers
        assert time.monotonic() < deadline, f"workers: {workers}; {process.stderr()}"
        time.sleep(0.1)


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + STOP_TIMEOUT
    while Path(f"/proc/{pid}").exists():
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True  # exited, waiting to be reaped by its parent
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
@pytest.mark.backend_independent
def test_web_concurrency_runs_workers_sharing_one_port(spawn: Spawner) -> None:
    process = spawn("web", WEB_CONCURRENCY="2")
    workers = _workers(process)
    assert process.popen.pid not in workers
    # Every new connection is answered, whichever worker the kernel hands it to.
    statuses = {process.get("/api/v1/ready")[0] for _ in range(10)}
    assert statuses == {200}
    started = time.monotonic()
    assert process.stop() == 0
    assert time.monotonic() - started < STOP_TIMEOUT
    assert all(_gone(pid) for pid in workers)
    stderr = process.stderr()
    assert "started 2 web workers" in stderr
    assert stderr.count("shut down") == 2  # each worker shut down gracefully
    assert "Traceback" not in stderr


def _requests_counted(text: str, route: str) -> float:
    """The request counter of `route` in a Prometheus text exposition, over every status."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "drivershub_http_requests_total" and sample.labels["route"] == route
    )


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
@pytest.mark.backend_independent
def test_metrics_of_web_workers_count_every_workers_requests(
    spawn: Spawner, tmp_path: Path
) -> None:
    metrics_port = free_port()
    listen = f"127.0.0.1:{metrics_port}"
    process = spawn("web", WEB_CONCURRENCY="2", DRIVERSHUB_METRICS__LISTEN=listen)
    workers = _workers(process)
    requests = 20  # new connections: the kernel spreads them over both workers
    for _ in range(requests):
        assert process.get("/api/v1/health")[0] == 200
    (metrics_dir,) = tmp_path.glob("drivershub-metrics-*")  # the spawn fixture's TMPDIR
    files = {path.name for path in metrics_dir.iterdir()}
    assert {f"counter_{pid}.db" for pid in workers} <= files, files  # both answered some

    # Both workers listen on the metrics address too; whichever answers reports them all.
    for _ in range(6):
        status, _, body = process.get("/metrics", port=metrics_port)
        assert status == 200
        assert _requests_counted(body.decode(), "/api/v1/health") == requests

    assert process.stop() == 0
    assert all(_gone(pid) for pid in workers)
    assert not metrics_dir.exists()
    assert "Traceback" not in process.stderr()


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
@pytest.mark.backend_independent
def test_a_dying_worker_stops_the_service_with_an_error(spawn: Spawner) -> None:
    process = spawn("web", WEB_CONCURRENCY="2")
    first, second = _workers(process)
    os.kill(first, signal.SIGKILL)
    assert process.popen.wait(STOP_TIMEOUT) == 1
    assert _gone(second)
    assert "a web worker stopped unexpectedly" in process.stderr()


@pytest.mark.backend_independent
def test_web_concurrency_must_be_a_positive_integer(cli: CliRunner) -> None:
    result = cli("web", WEB_CONCURRENCY="abc")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines == [
        "drivershub: configuration error: WEB_CONCURRENCY must be a positive integer, not 'abc'"
    ]


# Error reporting


@pytest.fixture
def sentry_reset() -> Iterator[None]:
    yield
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)  # back to the non-recording client
    assert not sentry_sdk.get_client().is_active()


def test_sentry_dsn_turns_error_reporting_on(
    sentry_reset: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("DRIVERSHUB_")]:
        monkeypatch.delenv(name)
    settings = load_settings()
    init_sentry(settings)
    assert not sentry_sdk.get_client().is_active()  # off unless configured

    monkeypatch.setenv("SENTRY_DSN", f"http://public@127.0.0.1:{free_port()}/1")
    init_sentry(load_settings())
    client = sentry_sdk.get_client()
    assert client.is_active()
    assert client.dsn == os.environ["SENTRY_DSN"]
    assert not client.should_send_default_pii()
    assert client.options["environment"] == "production"


async def test_a_token_discord_refuses_exits_2_with_one_clear_line(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    env = clean_env(
        tmp_path,
        DRIVERSHUB_DISCORD__TOKEN="not-the-bot-token",
        DRIVERSHUB_DISCORD__API_BASE=discord.api_base,
        DRIVERSHUB_WEB__PORT=str(free_port()),
        DRIVERSHUB_METRICS__LISTEN="",
    )
    process = await asyncio.create_subprocess_exec(
        DRIVERSHUB, "run", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    text = stderr.decode()
    assert process.returncode == 2
    assert "discord.token: Discord refused the token" in text
    assert "Traceback" not in text
