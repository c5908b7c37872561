"""`drivershub tracker-backfill` and `tracker-replay` as an operator runs them against a fresh
SQLite file: payloads from a file become jobs once, however often the file is loaded."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests import tracker_payloads as payloads
from tests.bot.conftest import CliRunner

# Runs its own SQLite file: the PostgreSQL pass of .ci/run leaves it out.
pytestmark = pytest.mark.backend_independent


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_backfill_stores_each_job_once_and_counts_what_it_did(
    cli: CliRunner, tmp_path: Path
) -> None:
    _ok(cli("create-hub", "Road Kings"))
    lines = [
        json.dumps(payloads.tracksim_job(job_id=1)),
        json.dumps(payloads.tracksim_job(job_id=2)),
        json.dumps(payloads.tracksim_job(job_id=1)),  # sent twice by the tracker
        "{not json",
    ]
    file = tmp_path / "jobs.jsonl"
    file.write_text("\n".join(lines), encoding="utf-8")
    first = _ok(cli("tracker-backfill", "road-kings", "tracksim", str(file)))
    assert first == "2 accepted, 1 duplicate, 0 ignored, 1 failed"
    again = _ok(cli("tracker-backfill", "road-kings", "tracksim", str(file)))
    assert again == "0 accepted, 3 duplicate, 0 ignored, 1 failed"
    with sqlite3.connect(tmp_path / "hub.sqlite3") as db:
        jobs = db.execute("SELECT tracker_job_id, unmatched FROM jobs ORDER BY id").fetchall()
    assert jobs == [("1", "unknown_driver"), ("2", "unknown_driver")]
    assert _ok(cli("tracker-replay", "road-kings")) == "0 failed deliveries made a job now"


def test_backfill_of_a_missing_file_or_hub_says_so(cli: CliRunner, tmp_path: Path) -> None:
    missing = cli("tracker-backfill", "road-kings", "tracksim", str(tmp_path / "none.json"))
    assert missing.returncode == 1
    assert "cannot read" in missing.stderr
    file = tmp_path / "jobs.json"
    file.write_text("[]", encoding="utf-8")
    no_hub = cli("tracker-backfill", "nowhere", "tracksim", str(file))
    assert no_hub.returncode == 1
    assert "Traceback" not in no_hub.stderr
