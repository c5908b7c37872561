"""Fixtures for tests that run the real `drivershub` command in a subprocess.

Each such test runs in its own empty working directory (so the repository's config.toml is not
read) with an environment free of the developer's DRIVERSHUB_* settings, and a fresh SQLite file.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

DRIVERSHUB = str(Path(sys.executable).with_name("drivershub"))
CliRunner = Callable[..., subprocess.CompletedProcess[str]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(workdir: Path, **overrides: str) -> dict[str, str]:
    """The current environment without process settings, pointing at a SQLite file."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("DRIVERSHUB_")
        and name not in ("SENTRY_DSN", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR")
    }
    env["DRIVERSHUB_DATABASE__URL"] = f"sqlite://{workdir / 'hub.sqlite3'}"
    env["DRIVERSHUB_DATA_DIR"] = str(workdir / "data")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    """Run `drivershub ARGS...` to completion: `cli("migrate", DRIVERSHUB_X="y")`."""

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own command, fixed arguments
            [DRIVERSHUB, *args],
            cwd=tmp_path,
            env=clean_env(tmp_path, **env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run
